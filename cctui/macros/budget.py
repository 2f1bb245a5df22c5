"""Render budgets: a body template finishes within a time and size budget or is refused.

A macro body is code written by whoever edits the macro, run for every record. Jinja's
sandbox stops escapes, not expense: ``'x'*10**9``, ``9**(9**9)``, ``center(10**9)`` or two
nested ``range(100000)`` loops hang or take gigabytes. A thread timeout would leave the
runaway thread spinning, so instead every place where a template can spend time or
memory checks *before* it spends:

* each operation that can build a big value in one step (``*``, ``**``, ``+``, ``%``,
  ``~``, string methods and filters with a width or count) checks its operands' sizes;
* every value those build counts against the render's work budget;
* loops, calls, filters and output chunks check the render's deadline.

Any refusal is a :class:`TemplateTooExpensive` whose message is one sentence. This module
holds the limits and the checks; :mod:`cctui.macros.sandbox` wires them into jinja.
"""

from __future__ import annotations

import contextvars
import operator
import re
import string
import time
from collections.abc import Callable, Iterable
from typing import Any

from cctui.errors import TemplateError

#: Wall-clock seconds one render may take.
MAX_SECONDS = 1.0
#: Characters of a body, and of any text (or items of any list) a template builds.
MAX_CHARS = 1_000_000
#: Approximate bytes of all the values one render builds (text, lists, dicts).
MAX_WORK = 40_000_000
#: Bits of any whole number a template computes (about 10,000 decimal digits).
MAX_INT_BITS = 33_220
#: Characters the pure-Python text filters (wordwrap, urlize, pprint) take: their cost
#: grows faster than their input and cannot be interrupted halfway.
MAX_SLOW_FILTER_INPUT = 100_000
#: Largest ``indent`` of ``tojson`` and largest ``round`` precision.
MAX_INDENT = 100
MAX_PRECISION = 1_000


class TemplateTooExpensive(TemplateError):
    """A body template that would take too long or too much memory to render."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"template too expensive: {reason}.")


class Budget:
    """The time and work one render may still spend."""

    __slots__ = ("deadline", "work")

    def __init__(self, seconds: float | None = None) -> None:
        self.deadline = time.monotonic() + (MAX_SECONDS if seconds is None else seconds)
        self.work = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateTooExpensive(f"it did not finish rendering within {MAX_SECONDS:g} s")


_ACTIVE: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("cctui_budget", default=None)


def activate(budget: Budget) -> contextvars.Token:
    """Make ``budget`` the current render's (undo with :func:`deactivate`)."""
    return _ACTIVE.set(budget)


def deactivate(token: contextvars.Token) -> None:
    _ACTIVE.reset(token)


def tick() -> None:
    """Refuse if the current render is past its deadline (no-op outside a render)."""
    budget = _ACTIVE.get()
    if budget is not None:
        budget.tick()


def _too_long(what: str) -> TemplateTooExpensive:
    return TemplateTooExpensive(f"{what} would pass {MAX_CHARS:,} characters")


def check_length(length: int, what: str = "a value") -> None:
    if length > MAX_CHARS:
        raise _too_long(what)


def _weight(value: Any) -> int:
    """Rough bytes ``value`` holds itself (not what it points to); 0 for scalars."""
    if isinstance(value, str):
        length = len(value)
        return length if value.isascii() else 4 * length
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return 8 * len(value)
    if isinstance(value, (dict, set, frozenset)):
        return 64 * len(value)
    return 0


def spend(value: Any) -> Any:
    """Check a value the template built: its size, then the render's work. Returns it."""
    kind = type(value)
    if kind is str:  # the common case, first: a filter's text
        length = len(value)
        if length > MAX_CHARS:
            raise _too_long("a value")
        budget = _ACTIVE.get()
        if budget is not None:
            budget.work += length if value.isascii() else 4 * length
            if budget.work > MAX_WORK:
                raise _too_much()
        return value
    if value is None or kind is bool or kind is float:
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise TemplateTooExpensive(f"a number would have more than {MAX_INT_BITS * 3 // 10:,} digits")
        return value
    weight = _weight(value)
    if weight:
        if len(value) > MAX_CHARS:
            raise _too_long("a value")
        budget = _ACTIVE.get()
        if budget is not None:
            budget.work += weight
            if budget.work > MAX_WORK:
                raise _too_much()
    return value


def _too_much() -> TemplateTooExpensive:
    return TemplateTooExpensive(f"it builds more than {MAX_WORK // 1_000_000} MB of values")


_CONTAINERS = (list, tuple, dict, set, frozenset)


def check_text_of(value: Any) -> None:
    """Refuse before ``str()`` or JSON of a container would pass :data:`MAX_CHARS`.

    A list may hold the same list a thousand times, which holds the same text a thousand
    times: three small steps, a billion characters once printed. The estimate counts each
    distinct container once (memoised by identity), so it costs as much as the value has
    distinct parts, not as much as its text.
    """
    if not isinstance(value, _CONTAINERS):
        return
    memo: dict[int, int] = {}

    def size(item: Any) -> int:
        if isinstance(item, str):
            return len(item) + 4
        if not isinstance(item, _CONTAINERS):
            return 24
        key = id(item)
        if key in memo:
            return memo[key]
        memo[key] = 8  # a container inside itself prints as [...]
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        total = 2
        for child in children:
            total += size(child) + 2
            if total > MAX_CHARS:
                break
        memo[key] = total
        return total

    try:
        total = size(value)
    except RecursionError:
        raise TemplateTooExpensive("a value nests lists or dicts too deeply to print") from None
    if total > MAX_CHARS:
        raise _too_long("the text of a list or dict")


def _int(value: Any) -> int | None:
    """``value`` as a whole number, or None when it is not one (the real call then fails)."""
    try:
        return operator.index(value)
    except TypeError:
        return None


def _sized(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:
        return None


# -- operators ----------------------------------------------------------------------------
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "**": operator.pow, "%": operator.mod,
}
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_width_text(digits: str, what: str) -> None:
    if len(digits) > 7 or int(digits) > MAX_CHARS:
        raise _too_long(what)


def _check_int_args(values: Iterable[Any], what: str) -> None:
    for value in values:
        number = _int(value)
        if number is not None and abs(number) > MAX_CHARS:
            raise _too_long(what)


def check_percent_format(fmt: Any, args: Any) -> None:
    """``fmt % args`` may not pad or print beyond :data:`MAX_CHARS` (``'%*d'``, ``'%09999999d'``)."""
    if isinstance(fmt, bytes):
        fmt = fmt.decode("latin-1")
    if not isinstance(fmt, str):
        return
    star = False
    for match in _PERCENT_SPEC.finditer(fmt):
        for group in match.groups():
            if group == "*":
                star = True
            elif group:
                _check_width_text(group, "a formatted value")
    if star:
        _check_int_args(args if isinstance(args, tuple) else (args,), "a formatted value")


def check_brace_format(fmt: str, args: tuple, kwargs: dict) -> None:
    """``fmt.format(...)`` may not pad beyond :data:`MAX_CHARS` (``'{:>999999999}'``)."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # the real call raises the same error
    for _, _, spec, _ in fields:
        if not spec:
            continue
        for digits in re.findall(r"\d+", spec):
            _check_width_text(digits, "a formatted value")
        if "{" in spec:  # a nested width such as '{:>{}}': any number given may be it
            _check_int_args([*args, *kwargs.values()], "a formatted value")


def binop(op: str, left: Any, right: Any) -> Any:
    """``left op right``, refused before it would build a value beyond the limits."""
    tick()
    if op == "*":
        count, seq = (_int(right), left) if _int(left) is None else (_int(left), right)
        if count is not None and not isinstance(seq, (int, float, complex)):
            length = _sized(seq)
            if length is not None and count > 0 and length * count > MAX_CHARS:
                raise _too_long("a repeated value")
        elif isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
                raise TemplateTooExpensive(f"a number would have more than {MAX_INT_BITS * 3 // 10:,} digits")
    elif op == "**" and isinstance(left, int) and isinstance(right, int):
        if right > 0 and abs(left) > 1 and (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
            raise TemplateTooExpensive(f"a number would have more than {MAX_INT_BITS * 3 // 10:,} digits")
    elif op == "+":
        a, b = _sized(left), _sized(right)
        if a is not None and b is not None and not isinstance(left, dict):
            check_length(a + b)
    elif op == "%" and isinstance(left, (str, bytes)):
        check_percent_format(left, right)
        for arg in (right if isinstance(right, tuple) else (right,)):
            check_text_of(arg)
        if isinstance(right, dict):
            for arg in right.values():
                check_text_of(arg)
    return spend(_BINOPS[op](left, right))


# -- method calls -------------------------------------------------------------------------
def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def check_method(obj: Any, args: tuple, kwargs: dict) -> tuple:
    """Refuse a builtin method call that would build a value beyond the limits; returns
    the positional arguments to use (an iterable given to ``join`` is read once, here)."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if name in ("format", "format_map") and hasattr(obj, "__wrapped__"):
        fmt = getattr(obj.__wrapped__, "__self__", None)  # the sandbox's str.format wrapper
        if isinstance(fmt, str):
            mapping = args[0] if name == "format_map" and args and isinstance(args[0], dict) else kwargs
            check_brace_format(fmt, args if name == "format" else (), mapping)
            for arg in [*args, *kwargs.values(), *(mapping.values() if isinstance(mapping, dict) else ())]:
                check_text_of(arg)
        return args
    if isinstance(owner, (str, bytes)):
        size = len(owner)
        if name in ("center", "ljust", "rjust", "zfill"):
            width = _int(_arg(args, kwargs, 0, "width", 0))
            if width is not None:
                check_length(width, f"{name}()")
        elif name == "expandtabs":
            tabsize = _int(_arg(args, kwargs, 0, "tabsize", 8)) or 0
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            check_length(size + tabs * max(tabsize, 0), "expandtabs()")
        elif name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            same = (isinstance(owner, str) and isinstance(old, str) and isinstance(new, str)) or (
                isinstance(owner, bytes) and isinstance(old, bytes) and isinstance(new, bytes))
            if same:
                hits = owner.count(old) if old else size + 1
                count = _int(_arg(args, kwargs, 2, "count", -1))
                if count is not None and count >= 0:
                    hits = min(hits, count)
                check_length(size + hits * (len(new) - len(old)), "replace()")
        elif name == "join" and args:
            parts = list(args[0])
            total = size * max(len(parts) - 1, 0)
            for part in parts:
                total += _sized(part) or 0
                if total > MAX_CHARS:
                    raise _too_long("join()")
            return (parts, *args[1:])
        elif name == "translate" and args and isinstance(args[0], dict):
            longest = max((_sized(v) or 1 for v in args[0].values()), default=1)
            check_length(size * longest, "translate()")
    elif isinstance(owner, int) and name == "to_bytes":
        length = _int(_arg(args, kwargs, 0, "length", 1))
        if length is not None:
            check_length(length, "to_bytes()")
    elif isinstance(owner, list) and name in ("extend", "__iadd__") and args:
        added = _sized(args[0])
        if added is not None:
            check_length(len(owner) + added, "a list")
    return args


# -- filters ------------------------------------------------------------------------------
#: The filters :func:`check_filter` has checks for.
CHECKED_FILTERS = frozenset({"center", "indent", "format", "replace", "wordwrap", "urlize", "pprint",
                             "batch", "slice", "truncate", "tojson", "round"})


#: Filters that read a list or dict without printing it (the others print their input).
NON_PRINTING_FILTERS = frozenset({
    "attr", "batch", "count", "d", "default", "dictsort", "first", "groupby", "items", "join",
    "last", "length", "list", "map", "max", "min", "random", "reject", "rejectattr",
    "reverse", "select", "selectattr", "slice", "sort", "sum", "unique",
})


def check_filter(name: str, args: tuple, kwargs: dict) -> None:
    """Size checks, before the call, for the filters whose arguments set an output size."""
    value = args[0] if args else None
    if name == "center":
        width = _int(_arg(args, kwargs, 1, "width", 80))
        if width is not None:
            check_length(width, "center")
    elif name == "indent":
        width = _arg(args, kwargs, 1, "width", 4)
        pad = len(width) if isinstance(width, str) else (_int(width) or 0)
        text = str(value)
        check_length(len(text) + (text.count("\n") + 1) * max(pad, 0), "indent")
    elif name == "format":
        check_percent_format(str(value), kwargs or tuple(args[1:]))
    elif name == "replace" and len(args) >= 3:
        text, old, new = str(value), str(args[1]), str(args[2])
        hits = text.count(old) if old else len(text) + 1
        count = _int(_arg(args, kwargs, 3, "count", None))
        if count is not None and count >= 0:
            hits = min(hits, count)
        check_length(len(text) + hits * (len(new) - len(old)), "replace")
    elif name in ("wordwrap", "urlize", "pprint"):
        if (_sized(value) or 0) > MAX_SLOW_FILTER_INPUT:
            raise TemplateTooExpensive(f"the {name} filter takes at most {MAX_SLOW_FILTER_INPUT:,} characters")
        if name == "wordwrap":
            wrap = _arg(args, kwargs, 3, "wrapstring", None)
            check_length(len(str(value)) * (1 + len(wrap if isinstance(wrap, str) else "\n")), "wordwrap")
    elif name in ("batch", "slice"):
        count = _int(_arg(args, kwargs, 1, "linecount" if name == "batch" else "slices", 1))
        if count is not None:
            check_length(count, name)
    elif name == "truncate":
        end = _arg(args, kwargs, 3, "end", "...")
        check_length(_sized(end) or 0, "truncate")
    elif name == "tojson":
        indent = _arg(args, kwargs, 1, "indent", None)
        size = len(indent) if isinstance(indent, str) else (_int(indent) or 0)
        if size > MAX_INDENT:
            raise TemplateTooExpensive(f"tojson's indent may be at most {MAX_INDENT}")
    elif name == "round":
        precision = _int(_arg(args, kwargs, 1, "precision", 0))
        if precision is not None and abs(precision) > MAX_PRECISION:
            raise TemplateTooExpensive(f"round's precision may be at most {MAX_PRECISION:,}")
