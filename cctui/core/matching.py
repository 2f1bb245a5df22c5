"""How one term of the filter language matches: predicates over record dicts and
their column forms (masks) over :class:`~cctui.core.columns.Columns`.

:mod:`cctui.core.query` parses and checks a query; this module turns each checked
term into the fastest test it can: memoised answers for repeated values, one
comprehension per list, one scan per column.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

from cctui.core.clock import iso, parse_iso
from cctui.core.columns import _TEXT, Columns, haystack, index_text
from cctui.core.records import DATE_FIELDS, NUMERIC_FIELDS, RECORD_ID, Schema, format_id
from cctui.errors import InputError, QueryError

if TYPE_CHECKING:
    from cctui.core.query import Term

Predicate = Callable[[dict], bool]
#: A predicate's column form: (columns, positions or None for all rows) -> one bool per
#: position, in order. Set as ``predicate.mask``; a predicate without one is asked per row.
Mask = Callable[[Columns, "list[int] | None"], "list[bool]"]

#: Fields whose ``field:value`` is a substring match rather than an exact one.
TEXT_FIELDS = frozenset({"title", "description", "steps"})
#: Fields whose values are a fixed vocabulary, compared ignoring spaces and punctuation
#: so that ``status:in-progress`` and ``status:wontfix`` work without quotes.
CHOICE_FIELDS = frozenset({"status", "severity"})

_DATE_ONLY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _normal(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def _fast_paths(predicate: Predicate, *, many: Callable[[list[dict]], list[dict]] | None = None,
                mask: Mask | None = None,
                select_all: Callable[..., list[int] | None] | None = None) -> Predicate:
    """Attach the optional fast paths to ``predicate``; readers look them up with
    ``getattr(predicate, name, None)``. A predicate stays a plain function (the row-by-row
    path calls it per record), and function attributes have no static type, so this is the
    one place that sets them. ``many(records)``: the matching records; ``mask``: see
    :data:`Mask`; ``select_all(columns, want=True)``: sorted positions, or None."""
    for name, path in (("many", many), ("mask", mask), ("select_all", select_all)):
        if path is not None:
            setattr(predicate, name, path)
    return predicate


def _negate(predicate: Predicate) -> Predicate:
    def negated(record: dict) -> bool:
        return not predicate(record)

    many = getattr(predicate, "many", None)
    mask = getattr(predicate, "mask", None)
    select_all = getattr(predicate, "select_all", None)
    return _fast_paths(negated, many=partial(_many_not, many) if many is not None else None,
                       mask=partial(_mask_not, mask) if mask is not None else None,
                       select_all=partial(_select_all_not, select_all) if select_all is not None else None)


def _many_not(many: Callable[[list[dict]], list[dict]], records: list[dict]) -> list[dict]:
    matched = set(map(id, many(records)))
    return [r for r in records if id(r) not in matched]


def _mask_not(mask: Mask, columns: Columns, positions: list[int] | None) -> list[bool]:
    return list(map(operator.not_, mask(columns, positions)))


def _select_all_not(select_all: Callable[..., list[int] | None], columns: Columns,
                    want: bool = True) -> list[int] | None:
    return select_all(columns, not want)


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
        predicate = _fast_paths(_memoised(field, test, "" in values),
                                mask=_contains_mask(lambda columns: columns.lowered(field), needles))
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

    return _fast_paths(predicate, many=many, mask=mask, select_all=select_all)


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

    return _fast_paths(predicate, many=many, mask=_contains_mask(Columns.text, [needle]))


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
    if not text.isascii():  # float() also reads "５" and "٥": a query number is ASCII
        return None
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

    return _fast_paths(predicate, mask=mask)


_CANONICAL = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")


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

    return _fast_paths(predicate, mask=mask)
