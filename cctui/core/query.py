"""The filter language, shared by the TUI's ``/`` box, the CLI and macro triggers.

``status:new severity:high,critical -category:ui "crash on save" votes:>5
created:>=2026-11-01 type:bug``

A query is parsed once into a :class:`Query`, a predicate over record dicts. It runs over
100,000 records on every keystroke in the TUI, so compiling does the work up front:
values are lower-cased once, answers for repeated field values (statuses, severities,
types) are memoised per query, each term filters a whole list in one comprehension (no
call per record), and the lower-cased text that bare words search is cached per record
object (records handed out by the store are read-only); :func:`index_text` builds that
cache for a whole list in one pass, e.g. in a thread right after a load.

:meth:`Query.select` gives the same answer column by column, over a
:class:`~cctui.core.columns.Columns` layout of the rows: each term scans one list of
values at C speed, later terms only the positions earlier ones kept.

This module owns what a query *means* (parsing, checking each term, combining them);
:mod:`cctui.core.matching` owns how a checked term is tested fast.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress

from cctui.core.clock import parse_iso
from cctui.core.columns import Columns, index_text
from cctui.core.matching import (
    CHOICE_FIELDS,
    TEXT_FIELDS,
    Predicate,
    _negate,
    _normal,
    _number,
    _predicate,
)
from cctui.core.records import (
    DATE_FIELDS,
    FEEDBACK_FIELDS,
    NUMERIC_FIELDS,
    RECORD_ID,
    USER_FIELDS,
    Schema,
)
from cctui.errors import InputError, QueryError

__all__ = ["Columns", "Query", "Term", "compile_query", "fields_in", "filter_records", "index_text",
           "narrows", "sort_key", "sort_records"]

#: Fields every query may name, whatever the data set holds.
CORE_FIELDS = frozenset(FEEDBACK_FIELDS) | frozenset(USER_FIELDS)

# Any word before ':' is read as a field name, Unicode letters too, so that a look-alike
# such as the fullwidth "ｓｔａｔｕｓ:new" is reported as an unknown field instead of
# silently searching the text "ｓｔａｔｕｓ:new" (field names themselves are ASCII).
_FIELD_PREFIX = re.compile(r"^([^\W\d_]\w*):")
#: A query longer than this is refused: each term is a pass over the records, so a pasted
#: blob of thousands of terms would stall the TUI's filter box or a trigger for minutes.
#: People and config files write a handful of terms; repeated terms count once.
MAX_QUERY_TERMS = 64
MAX_QUERY_CHARS = 10_000
_OPERATORS = (">=", "<=", ">", "<")
@dataclass(frozen=True)
class Term:
    """One parsed term: ``field`` is None for a text search."""

    raw: str
    negated: bool
    field: str | None
    operator: str | None  # one of _OPERATORS, or None for a match
    values: tuple[str, ...]  # alternatives (``a,b``); one value for text and comparisons


class Query:
    """A compiled filter: call it with a record, or use :meth:`filter` on a list."""

    def __init__(self, text: str, terms: Sequence[Term], predicates: Sequence[Predicate]):
        self.text = text
        self.terms = tuple(terms)
        self._predicates = tuple(predicates)

    @property
    def is_empty(self) -> bool:
        """True when the query has no terms (it matches everything)."""
        return not self._predicates

    def __call__(self, record: dict) -> bool:
        for predicate in self._predicates:
            if not predicate(record):
                return False
        return True

    def filter(self, records: Iterable[dict]) -> list[dict]:
        """The matching records, in order. Faster than calling the query per record:
        each term narrows the list in turn, so later terms see fewer records."""
        result = records if isinstance(records, list) else list(records)
        for predicate in self._predicates:
            many = getattr(predicate, "many", None)
            result = many(result) if many is not None else [r for r in result if predicate(r)]
        return result if result is not records else list(result)

    def select(self, columns: Columns, within: list[int] | None = None) -> list[int]:
        """Positions (ascending) of the rows of ``columns`` that match, among ``within``
        (every row when None): the rows :meth:`filter` would keep, found column by column.

        Terms run cheapest first and each looks only at the positions the previous ones
        kept, so a selective field term spares the text search most rows.
        """
        positions = within
        rows = columns.rows
        for predicate in self._predicates:
            if positions is not None and not positions:
                break
            select_all = getattr(predicate, "select_all", None)
            if positions is None and select_all is not None:
                found = select_all(columns)
                if found is not None:
                    positions = found
                    continue
            mask = getattr(predicate, "mask", None)
            if mask is not None:
                answers = mask(columns, positions)
            else:
                chosen = rows if positions is None else map(rows.__getitem__, positions)
                answers = list(map(predicate, chosen))
            positions = list(compress(range(len(rows)) if positions is None else positions, answers))
        return list(range(len(rows))) if positions is None else list(positions)

    def __repr__(self) -> str:
        return f"Query({self.text!r})"


def compile_query(
    text: str | None,
    schema: Schema | None = None,
    known_fields: Iterable[str] | None = None,
) -> Query:
    """Parse ``text`` into a :class:`Query`; raise :class:`QueryError` naming the bad term.

    With ``known_fields`` (e.g. every field present in the data set) a field outside the
    core fields and those is an error; without it any well-formed field name is allowed,
    so that a trigger's filter can name an extra field no record has yet.
    """
    text = text or ""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"filter: the query is too long ({len(text):,} characters; "
                         f"at most {MAX_QUERY_CHARS:,}).")
    schema = schema or Schema()
    allowed = None
    if known_fields is not None:
        allowed = CORE_FIELDS | schema.extra_fields | {f.lower() for f in known_fields}
    tokens = list({(raw, negated): (raw, negated, segments)
                   for raw, negated, segments in _tokenize(text)}.values())  # "a a a" is "a"
    if len(tokens) > MAX_QUERY_TERMS:
        raise QueryError(f"filter: the query is too long ({len(tokens):,} terms; "
                         f"at most {MAX_QUERY_TERMS}).")
    terms = [_interpret(raw, negated, segments) for raw, negated, segments in tokens]
    predicates: list[tuple[int, Predicate]] = []
    for term in terms:
        if term.field is not None and allowed is not None and term.field not in allowed:
            raise QueryError(f"filter term {term.raw!r}: unknown field {term.field!r}.")
        _check(term, schema)
        predicate, cost = _predicate(term, schema)
        if term.negated:
            predicate = _negate(predicate)
        predicates.append((cost, predicate))
    # Cheap, selective terms first; the stable sort keeps the user's order otherwise.
    predicates.sort(key=lambda pair: pair[0])
    return Query(text, terms, [p for _, p in predicates])


def filter_records(
    records: Iterable[dict], text: str | None, schema: Schema | None = None
) -> list[dict]:
    """The records matching ``text``; unknown fields are those absent from the records."""
    records = records if isinstance(records, list) else list(records)
    return compile_query(text, schema, known_fields=fields_in(records)).filter(records)


def fields_in(records: Iterable[dict]) -> set[str]:
    """Every field name that appears in ``records``."""
    names: set[str] = set()
    seen_shapes: set[int] = set()
    for record in records:
        # Most records share a handful of key sets; skip the union for shapes seen.
        shape = len(record)
        if shape in seen_shapes and names.issuperset(record):
            continue
        seen_shapes.add(shape)
        names.update(record)
    return names


# -- tokenizing -------------------------------------------------------------------------

Segment = tuple[str, bool]  # (text, quoted)


def _tokenize(text: str) -> list[tuple[str, bool, list[Segment]]]:
    """Split into terms: (raw text, negated, segments). Quotes group words and may
    contain ``\\"`` and ``\\\\``; an unclosed quote is an error naming the term."""
    terms = []
    pos, end = 0, len(text)
    while pos < end:
        if text[pos].isspace():
            pos += 1
            continue
        start = pos
        negated = text[pos] == "-"
        if negated:
            pos += 1
        segments: list[Segment] = []
        while pos < end and not text[pos].isspace():
            if text[pos] == '"':
                pos, chunk = _quoted(text, pos + 1, start)
                segments.append((chunk, True))
            else:
                stop = pos
                while stop < end and not text[stop].isspace() and text[stop] != '"':
                    stop += 1
                segments.append((text[pos:stop], False))
                pos = stop
        raw = text[start:pos]
        if negated and not segments:
            raise QueryError(f"filter term {raw!r}: '-' must be followed by a term to exclude.")
        terms.append((raw, negated, segments))
    return terms


def _quoted(text: str, pos: int, term_start: int) -> tuple[int, str]:
    chars = []
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\':
            chars.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return pos + 1, "".join(chars)
        else:
            chars.append(char)
            pos += 1
    raise QueryError(f"filter term {text[term_start:]!r}: the quote is never closed.")


def _interpret(raw: str, negated: bool, segments: list[Segment]) -> Term:
    first, quoted = segments[0]
    match = None if quoted else _FIELD_PREFIX.match(first)
    if match is None:
        words = "".join(chunk for chunk, _ in segments)
        return Term(raw, negated, None, None, (words,))
    field = match.group(1).lower()
    if not field.isascii():
        hint = unicodedata.normalize("NFKC", field)
        hint = f" (did you mean {hint!r}? field names are plain ASCII)" if hint.isascii() else ""
        raise QueryError(f"filter term {raw!r}: unknown field {match.group(1)!r}{hint}.")
    value_segments = [(first[match.end():], False), *segments[1:]]
    operator = None
    head = value_segments[0][0]
    for op in _OPERATORS:
        if head.startswith(op):
            operator = op
            value_segments[0] = (head[len(op):], False)
            break
    values = _alternatives(value_segments)
    if not any(quoted for _, quoted in segments[1:]) and values == ("",):
        raise QueryError(f"filter term {raw!r}: {field}: needs a value (use {field}:\"\" for empty).")
    if operator is not None:
        if len(values) != 1 or not values[0]:
            raise QueryError(f"filter term {raw!r}: {operator} needs exactly one value to compare with.")
    elif "" in values and len(values) > 1 and not any(q for _, q in value_segments):
        raise QueryError(f"filter term {raw!r}: one of the comma-separated values is empty.")
    return Term(raw, negated, field, operator, values)


def _alternatives(segments: list[Segment]) -> tuple[str, ...]:
    """``a,"b, c",d`` -> ("a", "b, c", "d"): commas split only outside quotes."""
    values = [""]
    for chunk, quoted in segments:
        if quoted:
            values[-1] += chunk
            continue
        parts = chunk.split(",")
        values[-1] += parts[0]
        values.extend(parts[1:])
    return tuple(values)


def _check(term: Term, schema: Schema) -> None:
    """Refuse terms that are well-formed but can never mean what was typed: a value
    outside a field's vocabulary or kind matches nothing, silently, which hides typos."""
    field, values = term.field, [v for v in term.values if v and "*" not in v]
    if field is None:
        if term.values[0].startswith(":"):
            raise QueryError(f"filter term {term.raw!r}: a field name is missing before ':'.")
        return
    if term.operator is not None:
        if field in TEXT_FIELDS or field in CHOICE_FIELDS or field == "type":
            raise QueryError(f"filter term {term.raw!r}: {term.operator} compares numbers and dates, "
                             f"and {field} is text.")
        return
    if field in NUMERIC_FIELDS:
        bad = next((v for v in values if _number(v) is None), None)
        if bad is not None:
            raise QueryError(f"filter term {term.raw!r}: {bad!r} is not a number.")
    elif field in DATE_FIELDS:
        for value in values:
            try:
                parse_iso(value, where=value)
            except InputError:
                raise QueryError(f"filter term {term.raw!r}: {value!r} is not a date "
                                 "(e.g. 2026-11-01).") from None
    elif field in CHOICE_FIELDS:
        known = schema.statuses if field == "status" else schema.severities
        normal = {_normal(choice) for choice in known}
        bad = next((v for v in values if _normal(v) not in normal), None)
        if bad is not None:
            raise QueryError(f"filter term {term.raw!r}: unknown {field} {bad!r} "
                             f"(known: {', '.join(known)}).")
    elif field == "type":
        bad = next((v for v in values if not any(t.matches(v) for t in schema.types)), None)
        if bad is not None:
            raise QueryError(f"filter term {term.raw!r}: unknown feedback type {bad!r} "
                             f"(known: {', '.join(t.name for t in schema.types)}).")


def narrows(old: str, new: str) -> bool:
    """True when every record matching ``new`` surely matches ``old`` too, so ``new`` can
    filter ``old``'s result instead of the whole table: terms are ANDed, so ``new`` is
    ``old`` plus more terms, or ``old`` with its last bare word extended (``cr`` ->
    ``crash``). Anything else (quotes, a changed field term, a negation) is False."""
    if '"' in old or '"' in new:
        return False
    before, after = old.split(), new.split()
    if not before:
        return True
    if len(after) < len(before) or after[:len(before) - 1] != before[:-1]:
        return False
    last_before, last_after = before[-1], after[len(before) - 1]
    if last_before == last_after:
        return True
    bare = not last_before.startswith("-") and ":" not in last_before and ":" not in last_after
    return bare and not last_after.startswith("-") and last_before.lower() in last_after.lower()


# -- sorting ----------------------------------------------------------------------------


def sort_key(field: str) -> Callable[[dict], tuple]:
    """A key for ``sorted``: numbers numerically, dates chronologically (canonical ISO
    strings), ids by prefix then number, text case-insensitively, missing values last."""

    def key(record: dict) -> tuple:
        value = record.get(field)
        if value is None or value == "":
            return (1, 0, "")
        if isinstance(value, bool):
            return (0, 1, str(value).lower())
        if isinstance(value, (int, float)):
            return (0, 0, value)
        text = str(value)
        if field == "id":
            match = RECORD_ID.match(text)
            if match:
                return (0, 1, match.group(1), int(match.group(2)))
        return (0, 1, text.lower())

    return key


def sort_records(records: Iterable[dict], field: str, *, descending: bool = False) -> list[dict]:
    """``records`` sorted by ``field``; missing values stay last in either direction."""
    key = sort_key(field)
    present: list[dict] = []
    missing: list[dict] = []
    for record in records:
        (missing if record.get(field) in (None, "") else present).append(record)
    present.sort(key=key, reverse=descending)
    return present + missing
