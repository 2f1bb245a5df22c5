"""A list of records laid out as columns, for filtering 100,000 records per keystroke.

A term of the filter language looks at one field. Walking 100k record dicts for it costs
a hash lookup and a cache miss per record; the same values in one list, aligned with the
rows, are scanned at C speed (``map`` over the list). :class:`Columns` builds each column
on first use (or ahead of time with :meth:`Columns.prepare`, e.g. in a loader thread) and
keeps it; :meth:`cctui.core.query.Query.select` evaluates a query over them.

The rows must not change while their columns are in use: records handed out by the store
are read-only (an edit replaces the dict), so a new list of rows gets new columns.

Also here: the cache of each record's lower-cased search text (title + description),
which bare words search.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat

#: id(record) -> its lower-cased title + description, for bare-word search.
_TEXT: dict[int, str] = {}
#: id(record) -> record: keeps every indexed record alive, so an id in ``_TEXT`` can never
#: be reused by another object (no per-lookup identity check needed).
_KEPT: dict[int, dict] = {}
_TEXT_LIMIT = 500_000


def text_of(record: dict) -> str:
    """What a bare word searches: the lower-cased title and description."""
    return f"{record.get('title') or ''}\n{record.get('description') or ''}".lower()


def index_text(records: list[dict]) -> None:
    """Cache the lower-cased search text of ``records`` in one pass:
    call it in a thread after loading so that the first typed word does not pay for it.

    Records from the store are read-only (an edit replaces the dict), so the object's
    identity is a safe key.
    """
    known = _TEXT
    missing = [r for r in records if id(r) not in known]
    if not missing:
        return
    if len(known) + len(missing) > _TEXT_LIMIT:
        _TEXT.clear()
        _KEPT.clear()
    keys = list(map(id, missing))
    texts = [text_of(r) for r in missing]
    _KEPT.update(zip(keys, missing, strict=True))
    _TEXT.update(zip(keys, texts, strict=True))


def haystack(record: dict) -> str:
    """Lower-cased title + description of ``record``, cached per record object."""
    text = _TEXT.get(id(record))
    if text is None:
        index_text([record])
        text = _TEXT.get(id(record))
        if text is None:  # the cache was cleared meanwhile
            return text_of(record)
    return text


#: Columns with more distinct values than this are not grouped (see :meth:`Columns.groups`).
GROUP_LIMIT = 1000


def _is_canonical_date(value: object) -> bool:
    return type(value) is str and len(value) == 20 and value[19] == "Z" and value[10] == "T"


class Columns:
    """``rows`` as one list per field (built on first use), aligned with ``rows``."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        """The records, in the order every column follows (read-only)."""
        self._values: dict[str, list] = {}
        self._lowered: dict[str, list[str]] = {}
        self._text: list[str] | None = None
        self._numbers: dict[str, bool] = {}
        self._dates: dict[str, bool] = {}
        self._groups: dict[str, dict | None] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def values(self, field: str) -> list:
        """``record.get(field)`` for every row."""
        column = self._values.get(field)
        if column is None:
            column = self._values[field] = list(map(dict.get, self.rows, repeat(field)))
        return column

    def lowered(self, field: str) -> list[str]:
        """Each row's ``field`` as lower-cased text; ``""`` where it is missing or empty."""
        column = self._lowered.get(field)
        if column is None:
            column = self._lowered[field] = ["" if v is None or v == "" else str(v).lower()
                                             for v in self.values(field)]
        return column

    def text(self) -> list[str]:
        """Each row's bare-word search text (see :func:`text_of`)."""
        column = self._text
        if column is None:
            rows = self.rows
            try:
                column = list(map(_TEXT.__getitem__, map(id, rows)))
            except KeyError:  # not indexed yet (or edited since): index them all, once
                index_text(rows)
                try:
                    column = list(map(_TEXT.__getitem__, map(id, rows)))
                except KeyError:  # the cache was cleared meanwhile (another huge list)
                    column = [text_of(r) for r in rows]
            # Copies laid out one after another in this order: a search then reads memory
            # in sequence instead of jumping around the heap.
            joined = "\x00".join(column)
            if joined.count("\x00") == len(column) - 1:  # no text holds the separator
                column = joined.split("\x00")
            self._text = column
        return column

    def all_numbers(self, field: str) -> bool:
        """True when every row's ``field`` is an int or a float (not a bool, not missing)."""
        answer = self._numbers.get(field)
        if answer is None:
            answer = self._numbers[field] = set(map(type, self.values(field))) <= {int, float}
        return answer

    def all_canonical_dates(self, field: str) -> bool:
        """True when every row's ``field`` is a canonical ISO string (``...T...Z``)."""
        answer = self._dates.get(field)
        if answer is None:
            answer = self._dates[field] = all(map(_is_canonical_date, self.values(field)))
        return answer

    def groups(self, field: str) -> dict[str | None, list[int]] | None:
        """Each distinct value of ``field`` -> the positions holding it (ascending), when
        the column is text (or missing) with at most :data:`GROUP_LIMIT` distinct values
        (a status, a type); None otherwise. A term then costs its matches, not the rows."""
        if field in self._groups:
            return self._groups[field]
        column = self.values(field)
        groups: dict | None = None
        if set(map(type, column)) <= {str, type(None)}:  # text keys only: 1 == True == 1.0
            distinct = set(column)
            if len(distinct) <= GROUP_LIMIT:
                groups = {value: [] for value in distinct}
                for position, value in enumerate(column):
                    groups[value].append(position)
        self._groups[field] = groups
        return groups

    def prepare(self, fields: Iterable[str], *, text: bool = True) -> None:
        """Build the columns for ``fields`` (their groups too, and the search text) now,
        e.g. in a thread."""
        for field in fields:
            self.groups(field)
        if text:
            self.text()

