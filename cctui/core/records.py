"""Feedback items and users: their fields, ids and validation.

Records are plain ``dict``s everywhere (the store keeps them as JSON documents, the
tables render them, templates read them). This module says what a valid record is and
turns loose input (CSV cells, CLI ``k=v`` pairs, JSON) into one, raising
:class:`~cctui.errors.InputError` that names the field at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

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
RECORD_ID = re.compile(r"^([A-Z][A-Z0-9]*)-(\d+)$")


def format_id(prefix: str, number: int) -> str:
    """``format_id("BUG", 42) == "BUG-0042"``; numbers past 9999 simply grow wider."""
    return f"{prefix}-{number:0{ID_DIGITS}d}"


def parse_id(record_id: str) -> tuple[str, int]:
    """Split ``BUG-0042`` into ``("BUG", 42)``."""
    match = RECORD_ID.match(record_id)
    if not match:
        raise InputError(f"{record_id!r} is not a record id (expected e.g. BUG-0042 or USR-0001).")
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
    def from_config(cls, records: Mapping[str, Any] | None) -> "Schema":
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
        for ftype in self.types:
            if ftype.matches(value):
                return ftype
        known = ", ".join(t.name for t in self.types)
        raise InputError(f"{where}: unknown feedback type {value!r} (known: {known}).")

    def type_for_prefix(self, prefix: str) -> FeedbackType | None:
        return next((t for t in self.types if t.prefix == prefix), None)

    def _choice(self, value: Any, choices: Iterable[str], what: str, where: str) -> str:
        text = str(value).strip()
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
        self, raw: Mapping[str, Any], *, where: str = "record", default_type: str | None = None
    ) -> dict[str, Any]:
        """A new feedback item from loose input (no ``id``; the store assigns it).

        ``title`` is required; ``type`` is required unless ``default_type`` is given.
        Unknown fields are kept as extra fields if their names are valid.
        """
        item: dict[str, Any] = {}
        for key, value in raw.items():
            key = _field_name(key, where)
            if key in ("id",) and value in (None, ""):
                continue
            item[key] = value
        type_value = item.get("type") or default_type
        if not type_value:
            raise InputError(f"{where}: field 'type' is missing.")
        item["type"] = self.type_named(str(type_value), where=f"{where}: field 'type'").name
        title = str(item.get("title") or "").strip()
        if not title:
            raise InputError(f"{where}: field 'title' is missing or empty.")
        item["title"] = title
        for text_field in ("description", "steps", "category", "submitter"):
            item[text_field] = "" if item.get(text_field) is None else str(item[text_field])
        item["status"] = self.status(item.get("status") or "New", where=f"{where}: field 'status'")
        item["severity"] = self.severity(
            item.get("severity") or "Medium", where=f"{where}: field 'severity'"
        )
        item["votes"] = _int(item.get("votes", 0), f"{where}: field 'votes'")
        for date_field in ("created", "modified"):
            if item.get(date_field) not in (None, ""):
                item[date_field] = iso(parse_iso(str(item[date_field]), where=f"{where}: field '{date_field}'"))
            else:
                item.pop(date_field, None)
        item.pop("id", None)
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
            if key == "type":
                value = self.type_named(str(value), where=label).name
            elif key == "status":
                value = self.status(value, where=label)
            elif key == "severity":
                value = self.severity(value, where=label)
            elif key in NUMERIC_FIELDS:
                value = _int(value, label)
            elif key == "title":
                value = str(value).strip()
                if not value:
                    raise InputError(f"{label} cannot be empty.")
            clean[key] = value
        return clean

    def user(self, raw: Mapping[str, Any], *, where: str = "user") -> dict[str, Any]:
        """A new user from loose input (no ``id``; the store assigns it)."""
        item = {_field_name(k, where): v for k, v in raw.items() if k != "id"}
        name = str(item.get("name") or "").strip()
        if not name:
            raise InputError(f"{where}: field 'name' is missing or empty.")
        item["name"] = name
        for text_field in ("email", "role", "company"):
            item[text_field] = "" if item.get(text_field) is None else str(item[text_field])
        if item.get("joined"):
            item["joined"] = iso(parse_iso(str(item["joined"]), where=f"{where}: field 'joined'"))
        return item


def _field_name(key: Any, where: str) -> str:
    name = str(key).strip().lower()
    if not FIELD_NAME.match(name):
        raise InputError(
            f"{where}: {str(key)!r} is not a valid field name "
            "(lowercase letters, digits and _, starting with a letter)."
        )
    return name


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a whole number, got {value!r}.")
    if isinstance(value, int):
        return value
    try:
        text = str(value).strip()
        return int(text) if text else 0
    except ValueError:
        raise InputError(f"{where}: expected a whole number, got {value!r}.") from None


def coerce_cli_value(text: str) -> Any:
    """``k=v`` from the command line: numbers become numbers, ``null`` None, else text."""
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    # "0042" stays text: zip codes and ticket numbers keep their leading zeros.
    if re.fullmatch(r"-?(0|[1-9]\d*)", text):
        return int(text)
    return text
