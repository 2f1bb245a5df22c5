"""What a record table shows: its columns, and the filtered, sorted list of rows.

Pure data, no Textual: the feedback screen computes a view in a thread worker (100k
records take tens of milliseconds to filter and sort) and hands the result to
:class:`~cctui.tui.widgets.record_table.RecordTable`, which only paints visible rows.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import is_not, itemgetter
from typing import Any

from cctui.core.query import sort_key
from cctui.core.records import DATE_FIELDS, NUMERIC_FIELDS, Schema


@dataclass(frozen=True)
class Column:
    """One table column: which field, its label, how wide, and how it is drawn."""

    key: str
    label: str
    width: int
    #: Lower numbers are dropped last when the terminal is narrow.
    priority: int = 5
    #: ``text``, ``id``, ``status``, ``severity``, ``date``, ``number``.
    kind: str = "text"
    #: The flexible column takes whatever width the others leave.
    flex: bool = False


FEEDBACK_COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", 10, priority=0, kind="id"),
    Column("title", "Title", 20, priority=0, flex=True),
    Column("status", "Status", 11, priority=1, kind="status"),
    Column("severity", "Severity", 8, priority=2, kind="severity"),
    Column("created", "Created", 10, priority=3, kind="date"),
    Column("votes", "Votes", 7, priority=4, kind="number"),
    Column("category", "Category", 12, priority=6),
    Column("submitter", "Submitter", 14, priority=7),
    Column("type", "Type", 15, priority=8),
    Column("modified", "Modified", 10, priority=9, kind="date"),
)

USER_COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", 8, priority=0, kind="id"),
    Column("name", "Name", 18, priority=0, flex=True),
    Column("email", "Email", 26, priority=1),
    Column("role", "Role", 12, priority=2),
    Column("company", "Company", 16, priority=3),
    Column("joined", "Joined", 10, priority=4, kind="date"),
)

#: Space reserved at the left of every row for the mark sign.
MARK_WIDTH = 2


def fit_columns(columns: Sequence[Column], width: int) -> list[tuple[Column, int]]:
    """Columns that fit ``width`` cells (one space between them), flex column widest.

    Columns are dropped from the highest priority number down until the rest fit with the
    flex column at its minimum width; whatever is left over goes to the flex column.
    """
    available = max(0, width - MARK_WIDTH)
    kept = list(columns)

    def needed(cols: Iterable[Column]) -> int:
        cols = list(cols)
        return sum(c.width for c in cols) + max(0, len(cols) - 1)

    while needed(kept) > available and len(kept) > 1:
        droppable = [c for c in kept if not c.flex] or kept
        kept.remove(max(droppable, key=lambda c: c.priority))
    slack = max(0, available - needed(kept))
    has_flex = any(c.flex for c in kept)
    fitted = []
    for column in kept:
        extra = slack if (column.flex or (not has_flex and column is kept[-1])) else 0
        fitted.append((column, column.width + extra))
    return fitted


def sort_value(schema: Schema, field: str) -> Callable[[dict], Any]:
    """A sort key for ``field``: status and severity in the schema's workflow order (New
    before Closed, Critical before Low), everything else as the filter language sorts
    (:func:`cctui.core.query.sort_key`: numbers, dates, ids, text)."""
    orders = {
        "status": {s.lower(): i for i, s in enumerate(schema.statuses)},
        "severity": {s.lower(): i for i, s in enumerate(schema.severities)},
    }
    order = orders.get(field)
    if order is None:
        return sort_key(field)
    fallback = len(order)

    def key(record: dict) -> Any:
        text = str(record.get(field)).lower()
        return (order.get(text, fallback), text)

    return key


def sort_rows(rows: list[dict], schema: Schema, field: str | None, descending: bool) -> list[dict]:
    """``rows`` sorted by ``field`` (stable; missing values last in either direction).

    With no field the store order is kept (reversed when ``descending``: newest first).
    """
    if not field:
        return list(reversed(rows)) if descending else list(rows)
    key = sort_value(schema, field)
    present: list[dict] = []
    missing: list[dict] = []
    for row in rows:
        (missing if row.get(field) in (None, "") else present).append(row)
    try:
        # Dates (canonical ISO strings) and numbers sort right by their raw value, and
        # itemgetter (C) beats a Python key function per row.
        if field in DATE_FIELDS or field in NUMERIC_FIELDS:
            present.sort(key=itemgetter(field), reverse=descending)
            return present + missing
    except TypeError:  # mixed types in an extra field: fall back to the general key
        pass
    present.sort(key=key, reverse=descending)
    return present + missing


def first_rows(rows: list[dict], schema: Schema, field: str | None, descending: bool, count: int) -> list[dict]:
    """The first ``count`` rows of ``sort_rows(rows, ...)`` without sorting them all: a
    screenful to paint while the full sort runs (``heapq`` picks them in one pass)."""
    if not field:
        return (rows[::-1] if descending else rows)[:count]
    pick = heapq.nlargest if descending else heapq.nsmallest
    if field in DATE_FIELDS or field in NUMERIC_FIELDS:
        try:  # one pass with a C key; a missing value (KeyError/TypeError) takes the long way
            top = pick(count, rows, key=itemgetter(field))
            if all(r[field] not in (None, "") for r in top):
                return top
        except (KeyError, TypeError):
            pass
    present = [r for r in rows if r.get(field) not in (None, "")]
    top = pick(count, present, key=sort_value(schema, field))
    if len(top) < count:
        top += [r for r in rows if r.get(field) in (None, "")][:count - len(top)]
    return top


@dataclass
class Changes:
    """What changed between two loads of the same table (store order)."""

    #: id(old record) -> the record that replaced it (an edit makes a new dict).
    replaced: dict[int, dict]
    added: list[dict]
    #: (old, new) for each replaced record.
    pairs: list[tuple[dict, dict]]

    def __bool__(self) -> bool:
        return bool(self.replaced or self.added)


def changes_between(old: list[dict], new: list[dict]) -> Changes | None:
    """The edits and additions that turn ``old`` into ``new``, or None when records were
    removed or reordered (then only a full reload is right).

    The store never mutates a record it handed out (an edit replaces the dict) and keeps
    insertion order, so an identity comparison finds the changes: one C-speed pass.
    """
    if len(new) < len(old):
        return None
    head = new[:len(old)] if len(new) > len(old) else new
    if not any(map(is_not, old, head)):
        return Changes({}, new[len(old):], [])
    pairs = [(before, after) for before, after in zip(old, head, strict=False) if before is not after]
    if any(before.get("id") != after.get("id") for before, after in pairs):
        return None
    return Changes({id(before): after for before, after in pairs}, new[len(old):], pairs)


def apply_changes(rows: list[dict], changes: Changes, schema: Schema, field: str | None,
                  descending: bool) -> list[dict]:
    """``rows`` (sorted by ``field``) with ``changes`` applied, still sorted.

    Replaced records take their old place; when an edit touched the sort field, or records
    were added, the nearly sorted list is sorted again (Timsort: close to one pass).
    """
    replaced = changes.replaced
    patched = [replaced.get(id(r), r) for r in rows] if replaced else list(rows)
    if not field:
        return list(reversed(changes.added)) + patched if descending else patched + changes.added
    moved = bool(changes.added) or any(old.get(field) != new.get(field) for old, new in changes.pairs)
    return sort_rows(patched + changes.added, schema, field, descending) if moved else patched


#: Characters of a value a table cell looks at (wider than any terminal column).
CELL_CHARS = 1_000


def format_cell(value: Any, kind: str) -> str:
    """A record value as the short text a table cell shows."""
    if value is None:
        return ""
    if kind == "date":
        return str(value)[:10]
    if kind == "number" and isinstance(value, (int, float)):
        return f"{value:,}"
    # A cell shows a few dozen cells of it: fitting a 2 MB title to its column on every
    # repaint took ~10 ms (0.8 s for CJK text) a frame, on the event loop.
    text = str(value)[:CELL_CHARS]
    if "\n" in text or "\r" in text or "\t" in text:
        text = " ".join(text.split())
    return text


def count_text(shown: int, total: int) -> str:
    """``1,234 of 100,000``: the contract's record count."""
    return f"{shown:,} of {total:,}"
