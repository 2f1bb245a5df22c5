"""Which field names a macro's tags may use for a store: a tag naming a known field the
record lacks renders empty (``null`` as a JSON value) instead of failing."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from cctui.macros.source import RecordSource
from cctui.macros.tags import base_fields


def schema_extra(store: RecordSource | None) -> frozenset[str]:
    schema = getattr(store, "schema", None)
    return frozenset(getattr(schema, "extra_fields", ()) or ())


# store -> {target: (revision, known field names)}; weak, so a closed store is let go.
_KNOWN: weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, frozenset[str]]]] = weakref.WeakKeyDictionary()


def _fields_of(records: Iterable[Mapping[str, Any]]) -> set[str]:
    names: set[str] = set()
    last: Any = None
    for record in records:
        keys = record.keys()
        if keys != last:  # most records share a handful of shapes
            names.update(keys)
            last = keys
    return names


def known_fields(store: RecordSource | None, target: str = "feedback", *, fresh: bool = False) -> frozenset[str]:
    """Every field name a tag of a ``target`` macro may use: the standard fields, the
    configured ``[records] extra_fields``, every field present in the store's records of
    that target, and every field some stored macro writes (``return_values``,
    ``on_success``). A record that lacks one of them renders it empty (null as a value).

    Computed once per store revision and cached: :func:`render_request` asks for it only
    when a template reads a name the record itself lacks. ``fresh=True`` recomputes now
    if the revision moved.
    """
    names = set(base_fields(target)) | schema_extra(store)
    if store is None:
        return frozenset(names)
    try:
        per_store = _KNOWN.setdefault(store, {})
    except TypeError:  # not weak-referenceable: no cache
        per_store = {}
    cached = per_store.get(target)
    revision = getattr(store, "revision", None)
    if cached is not None and (cached[0] == revision or not fresh and revision is None):
        return cached[1]
    records = store.users_all() if target == "users" else store.feedback_all()
    names |= _fields_of(records)
    for stored in store.macros_all():
        if stored.get("target", "feedback") == target:
            names.update(stored.get("return_values") or {})
            names.update(stored.get("on_success") or {})
    result = frozenset(names)
    per_store[target] = (revision, result)
    return result


def known_for(store: RecordSource | None, target: str, wanted: Iterable[str]) -> frozenset[str]:
    """The cached known fields, refreshed only if one of ``wanted`` is missing and the
    store changed since (so a bulk send does not re-read 100k records per record)."""
    per_store = _KNOWN.get(store) if store is not None else None
    cached = per_store.get(target) if per_store else None
    if cached is not None and all(name in cached[1] for name in wanted):
        return cached[1]
    return known_fields(store, target, fresh=True)

