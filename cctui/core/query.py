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
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain, compress, repeat
from typing import Any, Callable, Iterable, Sequence

from cctui.core.clock import iso, parse_iso
from cctui.core.columns import _TEXT, Columns, haystack, index_text
from cctui.core.records import (
    DATE_FIELDS,
    FEEDBACK_FIELDS,
    NUMERIC_FIELDS,
    RECORD_ID,
    USER_FIELDS,
    Schema,
    format_id,
)
from cctui.errors import InputError, QueryError

Predicate = Callable[[dict], bool]
#: A predicate's column form: (columns, positions or None for all rows) -> one bool per
#: position, in order. Set as ``predicate.mask``; a predicate without one is asked per row.
Mask = Callable[[Columns, "list[int] | None"], "list[bool]"]

__all__ = ["Columns", "Query", "Term", "compile_query", "fields_in", "filter_records", "index_text",
           "narrows", "sort_key", "sort_records"]

#: Fields every query may name, whatever the data set holds.
CORE_FIELDS = frozenset(FEEDBACK_FIELDS) | frozenset(USER_FIELDS)
#: Fields whose ``field:value`` is a substring match rather than an exact one.
TEXT_FIELDS = frozenset({"title", "description", "steps"})
#: Fields whose values are a fixed vocabulary, compared ignoring spaces and punctuation
#: so that ``status:in-progress`` and ``status:wontfix`` work without quotes.
CHOICE_FIELDS = frozenset({"status", "severity"})

_FIELD_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):")
_OPERATORS = (">=", "<=", ">", "<")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _normal(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


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
    schema = schema or Schema()
    allowed = None
    if known_fields is not None:
        allowed = CORE_FIELDS | schema.extra_fields | {f.lower() for f in known_fields}
    terms = [_interpret(raw, negated, segments) for raw, negated, segments in _tokenize(text)]
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


# -- predicates -------------------------------------------------------------------------


def _negate(predicate: Predicate) -> Predicate:
    def negated(record: dict) -> bool:
        return not predicate(record)

    many = getattr(predicate, "many", None)
    if many is not None:
        def many_negated(records: list[dict]) -> list[dict]:
            matched = set(map(id, many(records)))
            return [r for r in records if id(r) not in matched]

        negated.many = many_negated  # type: ignore[attr-defined]
    mask = getattr(predicate, "mask", None)
    if mask is not None:
        negated.mask = lambda columns, positions: list(map(operator.not_, mask(columns, positions)))  # type: ignore[attr-defined]
    select_all = getattr(predicate, "select_all", None)
    if select_all is not None:
        negated.select_all = lambda columns, want=True: select_all(columns, not want)  # type: ignore[attr-defined]
    return negated


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


def _predicate(term: Term, schema: Schema) -> tuple[Predicate, int]:
    """The predicate for one term and a rough cost (lower runs first)."""
    if term.field is None:
        return _text_search(term.values[0].lower()), 3
    if term.operator is not None:
        return _comparison(term), 2
    field = term.field
    values = term.values
    if field == "type":
        test = _type_test(values, schema)
    elif field == "id":
        test = _equality_test(tuple(_canonical_id(v) for v in values), canonical=_canonical_id)
    elif field in CHOICE_FIELDS:
        wanted = {_normal(v) for v in values}
        test = lambda value: _normal(str(value)) in wanted  # noqa: E731
    elif field in TEXT_FIELDS:
        needles = [v.lower() for v in values]
        test = lambda value: any(n in str(value).lower() for n in needles)  # noqa: E731
        predicate = _memoised(field, test, "" in values)
        predicate.mask = _contains_mask(lambda columns: columns.lowered(field), needles)  # type: ignore[attr-defined]
        return predicate, 1
    elif field in DATE_FIELDS and all(_DATE_ONLY.match(v) for v in values if v):
        days = {v for v in values if v}
        test = lambda value: str(value)[:10] in days  # noqa: E731
    else:
        test = _equality_test(values)
    empty_ok = "" in values
    return _memoised(field, test, empty_ok), 1


def _memoised(field: str, test: Callable[[Any], bool], empty_ok: bool) -> Predicate:
    """Answer once per distinct value: a status column has six values, not 100,000."""
    memo: dict[Any, bool] = {None: empty_ok, "": empty_ok}

    def predicate(record: dict) -> bool:
        value = record.get(field)
        try:
            return memo[value]
        except KeyError:
            answer = memo[value] = test(value)
            return answer
        except TypeError:  # unhashable (a list or dict in an extra field)
            return test(value)

    def many(records: list[dict]) -> list[dict]:
        # One comprehension with no call per record; a value not answered yet (or an
        # unhashable one) sends the whole list through the per-record path once.
        try:
            return [r for r in records if memo[r.get(field)]]
        except (KeyError, TypeError):
            return [r for r in records if predicate(r)]

    def mask(columns: Columns, positions: list[int] | None) -> list[bool]:
        values = _pick(columns.values(field), positions)
        try:
            return list(map(memo.__getitem__, values))
        except (KeyError, TypeError):
            return [predicate({field: value}) for value in values]

    def select_all(columns: Columns, want: bool = True) -> list[int] | None:
        # Ask once per distinct value, then join the positions of the values answered
        # ``want`` (sorted runs: the sort merges them); None when the column has no groups.
        groups = columns.groups(field)
        if groups is None:
            return None
        runs = [positions for value, positions in groups.items() if bool(predicate({field: value})) == want]
        if len(runs) == 1:
            return list(runs[0])
        return sorted(chain.from_iterable(runs))

    predicate.many = many  # type: ignore[attr-defined]
    predicate.mask = mask  # type: ignore[attr-defined]
    predicate.select_all = select_all  # type: ignore[attr-defined]
    return predicate


def _pick(column: list, positions: list[int] | None) -> list:
    """``column``'s values at ``positions`` (all of it for None)."""
    return column if positions is None else list(map(column.__getitem__, positions))


def _contains_mask(column_of: Callable[[Columns], list[str]], needles: list[str]) -> Mask:
    """Which rows' lower-cased text (from ``column_of``) holds any of ``needles``."""

    def mask(columns: Columns, positions: list[int] | None) -> list[bool]:
        texts = _pick(column_of(columns), positions)
        answers: list[bool] | None = None
        for needle in needles:  # str.__contains__(text, needle) is ``needle in text``
            found = list(map(str.__contains__, texts, repeat(needle)))
            answers = found if answers is None else list(map(operator.or_, answers, found))
        return answers if answers is not None else [False] * len(texts)

    return mask


def _equality_test(
    values: tuple[str, ...], canonical: Callable[[str], str] = str.lower
) -> Callable[[Any], bool]:
    """Equal to one of ``values`` (after ``canonical``); ``*`` in a value is a wildcard."""
    exact = {canonical(v) for v in values if "*" not in v}
    patterns = [canonical(v).split("*") for v in values if "*" in v]

    def test(value: Any) -> bool:
        text = canonical(_as_text(value))
        return text in exact or any(_glob(parts, text) for parts in patterns)

    return test


def _glob(parts: list[str], text: str) -> bool:
    """``a*b*c`` split on ``*``: text starts with a, ends with c, holds b in between."""
    if not text.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for middle in parts[1:-1]:
        found = text.find(middle, pos)
        if found < 0:
            return False
        pos = found + len(middle)
    return len(text) - pos >= len(parts[-1]) and text.endswith(parts[-1])


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _type_test(values: tuple[str, ...], schema: Schema) -> Callable[[Any], bool]:
    names = {v.lower() for v in values}
    for ftype in schema.types:
        if any(ftype.matches(v) for v in values):
            names.add(ftype.name.lower())
    return lambda value: str(value).lower() in names


def _canonical_id(text: str) -> str:
    """``bug-42`` -> ``BUG-0042``, so ids match however they are typed."""
    text = text.strip().upper()
    match = RECORD_ID.match(text)
    return format_id(match.group(1), int(match.group(2))) if match else text


def _text_search(needle: str) -> Predicate:
    def predicate(record: dict) -> bool:
        return needle in haystack(record)

    def many(records: list[dict]) -> list[dict]:
        text = _TEXT
        try:
            return [r for r in records if needle in text[id(r)]]
        except KeyError:  # not indexed yet (or edited since): index them all, once
            index_text(records)
        try:
            return [r for r in records if needle in text[id(r)]]
        except KeyError:  # the cache was cleared meanwhile (another huge list)
            return [r for r in records if predicate(r)]

    predicate.many = many  # type: ignore[attr-defined]
    predicate.mask = _contains_mask(Columns.text, [needle])  # type: ignore[attr-defined]
    return predicate


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


def _comparison(term: Term) -> Predicate:
    field, operator, operand = term.field, term.operator, term.values[0]
    assert field is not None and operator is not None
    number = _number(operand)
    if field in NUMERIC_FIELDS or (number is not None and field not in DATE_FIELDS):
        if number is None:
            raise QueryError(f"filter term {term.raw!r}: {operand!r} is not a number.")
        return _compare_numbers(field, operator, number)
    try:
        moment = parse_iso(operand, where=operand)
    except InputError:
        raise QueryError(
            f"filter term {term.raw!r}: {operand!r} is not a number or a date (e.g. 2026-11-01)."
        ) from None
    if _DATE_ONLY.match(operand.strip()):
        # A bare day means the whole day: >day is from the next day, <=day through its end.
        if operator == ">":
            operator, moment = ">=", moment + timedelta(days=1)
        elif operator == "<=":
            operator, moment = "<", moment + timedelta(days=1)
    return _compare_dates(field, operator, iso(moment))


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace("_", "")) if text.strip() else None
    except ValueError:
        return None


#: ``a OP b`` as a method of ``b``: ``a > b`` is ``b.__lt__(a)``.
_REFLECTED = {">": "__lt__", ">=": "__le__", "<": "__gt__", "<=": "__ge__"}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _compare_numbers(field: str, operator: str, bound: float) -> Predicate:
    compare = _COMPARE[operator]

    def predicate(record: dict) -> bool:
        value = record.get(field)
        if type(value) is int or type(value) is float:
            return compare(value, bound)
        if value is None or isinstance(value, bool):
            return False
        number = _number(str(value))
        return number is not None and compare(number, bound)

    def mask(columns: Columns, positions: list[int] | None) -> list[bool]:
        values = _pick(columns.values(field), positions)
        if columns.all_numbers(field):  # ``value > bound`` is ``bound < value``: a C call
            return list(map(getattr(bound, _REFLECTED[operator]), values))
        return [predicate({field: value}) for value in values]

    predicate.mask = mask  # type: ignore[attr-defined]
    return predicate


_CANONICAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _compare_dates(field: str, operator: str, bound: str) -> Predicate:
    """Compare canonical ISO strings (fixed width, so they sort chronologically);
    anything else is parsed first."""
    compare = _COMPARE[operator]

    def slow(value: Any) -> bool:
        if not isinstance(value, str) or not value:
            return False
        if not _CANONICAL.match(value):
            try:
                value = iso(parse_iso(value))
            except InputError:
                return False
        return compare(value, bound)

    def predicate(record: dict) -> bool:
        value = record.get(field)
        if type(value) is str and len(value) == 20 and value[19] == "Z" and value[10] == "T":
            return compare(value, bound)
        return slow(value)

    def mask(columns: Columns, positions: list[int] | None) -> list[bool]:
        values = _pick(columns.values(field), positions)
        if columns.all_canonical_dates(field):  # fixed-width strings: compare as they are
            return list(map(getattr(bound, _REFLECTED[operator]), values))
        return [predicate({field: value}) for value in values]

    predicate.mask = mask  # type: ignore[attr-defined]
    return predicate


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
    present, missing = [], []
    for record in records:
        (missing if record.get(field) in (None, "") else present).append(record)
    present.sort(key=key, reverse=descending)
    return present + missing
