"""What a body template can read: record fields, the submitter's user fields, computed tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cctui.core.clock import iso
from cctui.core.records import FEEDBACK_FIELDS, RECORD_ID, USER_FIELDS
from cctui.macros.source import RecordSource

#: Tags computed for every record (a record field of the same name wins, except ``record``).
COMPUTED_TAGS = ("url", "now", "record")


class Person(str):
    """The submitter: a string (the stored id or e-mail) that also exposes the user's fields.

    ``((submitter))`` gives ``USR-0007`` (or the e-mail the item was imported with) and every
    string filter works on it; ``((submitter.name))`` gives the user's name when the store
    knows that user, else "". (No user field shares a name with a ``str`` method.)
    """

    _user: dict[str, Any]

    def __new__(cls, ref: Any, user: Mapping[str, Any] | None = None) -> Person:
        self = super().__new__(cls, "" if ref is None else str(ref))
        fields = dict(user or {})
        if "@" in self:
            fields.setdefault("email", str(self))
        elif RECORD_ID.match(self):
            fields.setdefault("id", str(self))
        self._user = fields
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._user:
            return self._user[name]
        if name in USER_FIELDS:
            return ""
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"Person({str(self)!r})"


_USER_CACHE: dict[tuple[int, Any], dict[str, dict]] = {}


def find_user(store: RecordSource | None, ref: Any) -> dict | None:
    """The user a submitter value names (a user id, or an e-mail), if the store has one."""
    if store is None or not ref:
        return None
    ref = str(ref)
    if RECORD_ID.match(ref):
        return store.user_get(ref)
    # Items imported with an e-mail as submitter: index users by e-mail once per revision,
    # since a bulk send looks up thousands of submitters.
    key = (id(store), getattr(store, "revision", None))
    index = _USER_CACHE.get(key)
    if index is None:
        _USER_CACHE.clear()
        index = {str(u.get("email", "")).lower(): u for u in store.users_all() if u.get("email")}
        _USER_CACHE[key] = index
    return index.get(ref.lower())


def base_fields(target: str) -> tuple[str, ...]:
    """The fields every record of ``target`` (``feedback`` or ``users``) has."""
    return USER_FIELDS if target == "users" else FEEDBACK_FIELDS


def build_context(
    record: Mapping[str, Any],
    *,
    target: str = "feedback",
    store: RecordSource | None = None,
    base_url: str | None = None,
    extra_names: Iterable[str] = (),
    now: str | None = None,
) -> dict[str, Any]:
    """The names a template sees for ``record``.

    Standard fields and ``extra_names`` (fields the macro's return values fill, configured
    extra fields) default to None, so a tag for a field this record lacks renders empty
    instead of failing a bulk send half way.
    """
    context: dict[str, Any] = dict.fromkeys(base_fields(target))
    context.update(dict.fromkeys(extra_names))
    record_id = record.get("id") or ""
    context["url"] = f"{base_url}{record_id}" if base_url and record_id else ""
    context["now"] = now or iso()
    context.update(record)
    context["record"] = dict(record)
    if target != "users":
        ref = record.get("submitter")
        context["submitter"] = Person(ref, find_user(store, ref))
    return context


def available_tags(schema: Any = None, record: Mapping[str, Any] | None = None, *,
                   target: str = "feedback") -> list[str]:
    """Every tag a macro body can use, for the macro form and error hints."""
    names = list(base_fields(target))
    extra = sorted(getattr(schema, "extra_fields", ()) or ())
    if record:
        extra += sorted(k for k in record if k not in names and k not in extra)
    names += [n for n in extra if n not in names]
    if target != "users":
        names += [f"submitter.{field}" for field in USER_FIELDS if field != "id"]
    names += [t for t in COMPUTED_TAGS if t not in names]
    return names
