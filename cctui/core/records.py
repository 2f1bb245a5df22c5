"""Feedback items and users: their fields, ids and validation.

Records are plain ``dict``s everywhere (the store keeps them as JSON documents, the
tables render them, templates read them). This module says what a valid record is and
turns loose input (CSV cells, CLI ``k=v`` pairs, JSON) into one, raising
:class:`~cctui.errors.InputError` that names the field at fault.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cctui.core.clock import iso, parse_iso
from cctui.errors import InputError

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

#: Fields every feedback item has, in display order.
FEEDBACK_FIELDS = (
    "id", "type", "title", "description", "steps", "status", "severity", "category",
    "submitter", "votes", "created", "modified",
)
#: Fields every user has, in display order.
USER_FIELDS = ("id", "name", "email", "role", "company", "joined")

#: Fields that only the store sets (via the id allocator and the clock).
READ_ONLY_FEEDBACK = frozenset({"id", "created", "modified"})
READ_ONLY_USER = frozenset({"id"})

NUMERIC_FIELDS = frozenset({"votes"})
DATE_FIELDS = frozenset({"created", "modified", "joined"})
#: Free-text feedback fields: text, or a number (stored as its text); never a list,
#: object or boolean (those would be stored as a Python repr).
TEXT_FEEDBACK = ("description", "steps", "category", "submitter")
#: Fields whose value must be one of a fixed set, or non-empty text.
REQUIRED_TEXT_FEEDBACK = frozenset({"type", "title", "status", "severity"})

DEFAULT_TYPES: tuple[tuple[str, str], ...] = (
    ("Bug Report", "BUG"),
    ("Feature Request", "IDEA"),
    ("Praise", "PRAISE"),
    ("Discussion", "DISC"),
)
DEFAULT_STATUSES = ("New", "Triaged", "In Progress", "Escalated", "Closed", "Won't Fix")
DEFAULT_SEVERITIES = ("Critical", "High", "Medium", "Low")
USER_PREFIX = "USR"
ID_DIGITS = 4
#: ASCII digits only (``\d`` and ``int()`` also take "０４２" and "٤٢"), and few enough
#: that ``int()`` never meets Python's 4,300-digit limit.
RECORD_ID = re.compile(r"^([A-Z][A-Z0-9]*)-([0-9]{1,18})$")
#: Whole numbers a record may hold: what the store's JSON (orjson) can write, 64 bits.
MAX_WHOLE = 2**63 - 1


def format_id(prefix: str, number: int) -> str:
    """``format_id("BUG", 42) == "BUG-0042"``; numbers past 9999 simply grow wider."""
    return f"{prefix}-{number:0{ID_DIGITS}d}"


def normalize_id(text: str) -> str:
    """A record id as typed, in its stored form: ``bug-2``, ``BUG-2``, ``BUG-0002`` -> ``BUG-0002``.

    Text that is not shaped like an id comes back stripped and upper-cased (it then names
    no record, and the caller reports that).
    """
    cleaned = str(text).strip().upper()
    match = RECORD_ID.match(cleaned)
    return format_id(match.group(1), int(match.group(2))) if match else cleaned


def parse_id(record_id: str) -> tuple[str, int]:
    """Split ``BUG-0042`` into ``("BUG", 42)``."""
    match = RECORD_ID.match(record_id)
    if not match:
        raise InputError(f"{shown_value(record_id)} is not a record id (expected e.g. BUG-0042 or USR-0001).")
    return match.group(1), int(match.group(2))


@dataclass(frozen=True)
class FeedbackType:
    name: str
    prefix: str

    def matches(self, word: str) -> bool:
        """``type:bug`` matches Bug Report by prefix, first word or full name."""
        word = word.strip().lower()
        return word in (self.name.lower(), self.prefix.lower(), self.name.split()[0].lower())


@dataclass(frozen=True)
class Schema:
    """The allowed types, statuses and severities (configurable in ``[records]``)."""

    types: tuple[FeedbackType, ...] = tuple(FeedbackType(n, p) for n, p in DEFAULT_TYPES)
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    severities: tuple[str, ...] = DEFAULT_SEVERITIES
    extra_fields: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_config(cls, records: Mapping[str, Any] | None) -> Schema:
        records = records or {}
        types = cls.types
        if "feedback_types" in records:
            parsed = []
            for entry in records["feedback_types"]:
                try:
                    parsed.append(FeedbackType(str(entry["name"]), str(entry["prefix"]).upper()))
                except (TypeError, KeyError):
                    raise InputError(
                        "config [records] feedback_types: each entry needs a name and a prefix."
                    ) from None
            types = tuple(parsed)
        extra = records.get("extra_fields", ())
        if not isinstance(extra, (list, tuple)) or not all(
            isinstance(name, str) and FIELD_NAME.match(name) for name in extra
        ):
            raise InputError(
                "config [records] extra_fields: give a list of field names "
                "(lowercase letters, digits and _), e.g. [\"jira_key\"]."
            )
        return cls(
            types=types,
            statuses=tuple(records.get("statuses", DEFAULT_STATUSES)),
            severities=tuple(records.get("severities", DEFAULT_SEVERITIES)),
            extra_fields=frozenset(extra),
        )

    # -- lookups -----------------------------------------------------------------
    def type_named(self, value: str, *, where: str = "type") -> FeedbackType:
        """The feedback type that ``value`` names (name, prefix or first word)."""
        value = _text(value, where)
        for ftype in self.types:
            if ftype.matches(value):
                return ftype
        known = ", ".join(t.name for t in self.types)
        raise InputError(f"{where}: unknown feedback type {value!r} (known: {known}).")

    def _choice(self, value: Any, choices: Iterable[str], what: str, where: str) -> str:
        text = _text(value, where).strip()
        for choice in choices:
            if choice.lower() == text.lower():
                return choice
        raise InputError(f"{where}: unknown {what} {text!r} (known: {', '.join(choices)}).")

    def status(self, value: Any, *, where: str = "status") -> str:
        return self._choice(value, self.statuses, "status", where)

    def severity(self, value: Any, *, where: str = "severity") -> str:
        return self._choice(value, self.severities, "severity", where)

    # -- normalising input -------------------------------------------------------
    def feedback(
        self,
        raw: Mapping[str, Any],
        *,
        where: str = "record",
        default_type: str | None = None,
        allow_read_only: bool = True,
    ) -> dict[str, Any]:
        """A new feedback item from loose input (no ``id``; the store assigns it).

        ``title`` is required; ``type`` is required unless ``default_type`` is given.
        Unknown fields are kept as extra fields if their names are valid and their values
        are scalars. With ``allow_read_only`` (imports of historical data) ``created`` and
        ``modified`` are kept and ``id`` ignored; without it (``feedback add``) naming
        any of them is an error.
        """
        item: dict[str, Any] = {}
        for key, value in raw.items():
            key = _field_name(key, where)
            if key in READ_ONLY_FEEDBACK and not allow_read_only:
                raise InputError(
                    f"{where}: field {key!r} is read-only (cctui sets id, created and modified)."
                )
            if key in ("id",) and value in (None, ""):
                continue
            item[key] = value
        type_value = item.get("type")
        if type_value is None or type_value == "":
            type_value = default_type
        if not type_value:
            raise InputError(f"{where}: field 'type' is missing.")
        item["type"] = self.type_named(type_value, where=f"{where}: field 'type'").name
        title = item.get("title")
        title = "" if title is None else _text(title, f"{where}: field 'title'").strip()
        if not title:
            raise InputError(f"{where}: field 'title' is missing or empty.")
        item["title"] = title
        for text_field in TEXT_FEEDBACK:
            value = item.get(text_field)
            item[text_field] = "" if value is None else _text(value, f"{where}: field {text_field!r}")
        item["status"] = self.status(_or(item.get("status"), "New"), where=f"{where}: field 'status'")
        item["severity"] = self.severity(
            _or(item.get("severity"), "Medium"), where=f"{where}: field 'severity'"
        )
        item["votes"] = _count(item.get("votes", 0), f"{where}: field 'votes'")
        for date_field in ("created", "modified"):
            if item.get(date_field) not in (None, ""):
                label = f"{where}: field '{date_field}'"
                item[date_field] = iso(parse_iso(_text(item[date_field], label), where=label))
            else:
                item.pop(date_field, None)
        item.pop("id", None)
        for key, value in item.items():
            if key not in FEEDBACK_FIELDS:
                item[key] = _extra(value, f"{where}: field {key!r}")
        return item

    def feedback_changes(
        self, changes: Mapping[str, Any], *, where: str = "change", allow_read_only: bool = False
    ) -> dict[str, Any]:
        """Validate a partial update (``feedback set``, the listener, ``on_success``)."""
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            key = _field_name(key, where)
            if key in READ_ONLY_FEEDBACK and not allow_read_only:
                raise InputError(f"{where}: field {key!r} is read-only.")
            label = f"{where}: field {key!r}"
            if key in REQUIRED_TEXT_FEEDBACK and (value is None or value == ""):
                raise InputError(f"{label} cannot be empty.")
            if key == "type":
                value = self.type_named(value, where=label).name
            elif key == "status":
                value = self.status(value, where=label)
            elif key == "severity":
                value = self.severity(value, where=label)
            elif key in NUMERIC_FIELDS:
                value = _count(value, label)
            elif key == "title":
                value = _text(value, label).strip()
                if not value:
                    raise InputError(f"{label} cannot be empty.")
            elif key in TEXT_FEEDBACK or key in READ_ONLY_FEEDBACK:
                value = None if value is None else _text(value, label)
            else:
                value = _extra(value, label)
            clean[key] = value
        return clean

    def user(self, raw: Mapping[str, Any], *, where: str = "user") -> dict[str, Any]:
        """A new user from loose input (no ``id``; the store assigns it)."""
        item = {_field_name(k, where): v for k, v in raw.items() if k != "id"}
        name = item.get("name")
        name = "" if name is None else _text(name, f"{where}: field 'name'").strip()
        if not name:
            raise InputError(f"{where}: field 'name' is missing or empty.")
        item["name"] = name
        for text_field in ("email", "role", "company"):
            value = item.get(text_field)
            item[text_field] = "" if value is None else _text(value, f"{where}: field {text_field!r}")
        if item.get("joined"):
            label = f"{where}: field 'joined'"
            item["joined"] = iso(parse_iso(_text(item["joined"], label), where=label))
        for key, value in item.items():
            if key not in USER_FIELDS:
                item[key] = _extra(value, f"{where}: field {key!r}")
        return item


def _field_name(key: Any, where: str) -> str:
    name = str(key).strip().lower()
    if not FIELD_NAME.match(name):
        raise InputError(
            f"{where}: {str(key)!r} is not a valid field name "
            "(lowercase letters, digits and _, starting with a letter)."
        )
    return name


_WHOLE_TEXT = re.compile(r"[+-]?[0-9]{1,19}")


def shown_value(value: Any) -> str:
    """``repr(value)``, cut short: a 5,000-digit value must not flood the message."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit for text
        return "a number of more than 4,300 digits"
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text):,} characters)"


def _whole(number: int, where: str) -> int:
    if -MAX_WHOLE - 1 <= number <= MAX_WHOLE:
        return number
    raise InputError(f"{where}: the number is too large (at most 19 digits, {MAX_WHOLE:,}).")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"{where}: expected a whole number, got {_kind(value)}.")
    if isinstance(value, int):
        return _whole(value, where)
    if isinstance(value, float):
        if value.is_integer():
            return _whole(int(value), where)
        raise InputError(f"{where}: expected a whole number, got {value!r}.")
    text = value.strip()
    if not text:
        return 0
    if not _WHOLE_TEXT.fullmatch(text):  # ASCII digits only; int() also takes "４２"
        digits = text.lstrip("+-")
        if digits.isascii() and digits.isdigit():
            raise InputError(f"{where}: the number is too large (at most 19 digits, {MAX_WHOLE:,}).")
        raise InputError(f"{where}: expected a whole number, got {shown_value(value)}.")
    return _whole(int(text), where)


def _count(value: Any, where: str) -> int:
    """A whole number that is 0 or more (``votes``)."""
    number = _int(value, where)
    if number < 0:
        raise InputError(f"{where}: expected 0 or more, got {number}.")
    return number


def _or(value: Any, default: str) -> Any:
    return default if value is None or value == "" else value


def _kind(value: Any) -> str:
    """How an unwelcome value is named in a message (never its Python repr)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"the number {shown_value(value)}"
    return f"a {type(value).__name__}"


def _text(value: Any, where: str) -> str:
    """Text fields take text; a number is kept as its text (``42`` -> ``"42"``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{where}: must be text, got {value!r}.")
        return str(value)
    raise InputError(f"{where}: must be text, got {_kind(value)}.")


def _extra(value: Any, where: str) -> Any:
    """Extra fields hold a scalar: text, a number, true/false or null (not a list or object)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return _whole(value, where)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{where}: must be a finite number, got {value!r}.")
        return value
    raise InputError(
        f"{where}: must be text, a number, true/false or null, got {_kind(value)} "
        "(store structured data as JSON text)."
    )


def coerce_cli_value(text: str) -> Any:
    """``k=v`` from the command line: numbers become numbers, ``null`` None, else text."""
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    # "0042" stays text: zip codes and ticket numbers keep their leading zeros.
    if re.fullmatch(r"-?(0|[1-9][0-9]{0,18})", text):  # ASCII digits; longer stays text
        return int(text)
    return text
