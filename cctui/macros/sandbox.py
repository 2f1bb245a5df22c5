"""The jinja environment that runs body templates under a render budget.

Jinja offers hooks for operators (``intercepted_binops``) and calls (``call``); filters
are wrapped here, and loops and ``~`` (which have no hook) are routed through filters by
rewriting the template's tree before it is compiled. The limits and checks themselves
live in :mod:`cctui.macros.budget`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, safe_range
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

from cctui.macros.budget import (
    _ACTIVE,
    _BINOPS,
    _CONTAINERS,
    CHECKED_FILTERS,
    MAX_CHARS,
    NON_PRINTING_FILTERS,
    Budget,
    _too_long,
    binop,
    check_filter,
    check_length,
    check_method,
    check_text_of,
    spend,
    tick,
)


def _budgeted_filter(name: str, func: Callable) -> Callable:
    """``func`` behind the size checks. Marked ``pass_context`` so jinja never runs it at
    compile time (constant folding would otherwise run ``'x'|center(10**9)`` in ``macro add``)."""
    passes = _PassArg.from_obj(func)
    checked = name in CHECKED_FILTERS
    prints = name not in NON_PRINTING_FILTERS

    @pass_context
    @wraps(func)
    def budgeted(context: Context, *args: Any, **kwargs: Any) -> Any:
        budget = _ACTIVE.get()
        if budget is not None:
            budget.tick()
        if checked:
            check_filter(name, args, kwargs)
        if prints and args and isinstance(args[0], _CONTAINERS):
            check_text_of(args[0])
        if passes is None:
            result = func(*args, **kwargs)
        elif passes is _PassArg.context:
            result = func(context, *args, **kwargs)
        elif passes is _PassArg.eval_context:
            result = func(context.eval_ctx, *args, **kwargs)
        else:
            result = func(context.environment, *args, **kwargs)
        return spend(result)

    return budgeted


def _join(context: Context, value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    """jinja's ``join``, adding up the parts before joining them."""
    if attribute is not None:
        value = map(make_attrgetter(context.environment, attribute), value)
    sep = str(d)
    parts: list[str] = []
    total = 0
    for item in value:
        check_text_of(item)
        text = str(item)
        total += len(text) + len(sep)
        if total > MAX_CHARS + len(sep):
            raise _too_long("join")
        parts.append(text)
    return sep.join(parts)


def _sum(context: Context, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    """jinja's ``sum``, each addition checked (summing lists is otherwise quadratic)."""
    if attribute is not None:
        iterable = map(make_attrgetter(context.environment, attribute), iterable)
    total = start
    for item in iterable:
        total = binop("+", total, item)
    return total


def _range(*args: Any) -> range:
    tick()
    return safe_range(*args)


def _concat(parts: Iterable[Any]) -> str:
    """``~`` and the text of ``{% set %}`` blocks and macros, refused past the limit."""
    out: list[str] = []
    total = 0
    for part in parts:
        check_text_of(part)
        text = str(part)
        total += len(text)
        if total > MAX_CHARS:
            raise _too_long("a value")
        out.append(text)
    return spend("".join(out))


def _ticking(iterable: Iterable[Any], budget: Budget) -> Iterator[Any]:
    for item in iterable:
        budget.tick()
        yield item


def _loop_iter(iterable: Any) -> Any:
    """What a ``{% for %}`` loop iterates: the same items, checking the deadline each step."""
    budget = _ACTIVE.get()
    return iterable if budget is None else _ticking(iterable, budget)


class _Budgeted(NodeTransformer):
    """Route loops and ``~`` through the budget (jinja has no hook for either)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_loop_iter", [], [], None, None, lineno=node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        items = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(items, "_concat_parts", [], [], None, None, lineno=node.lineno)


def budget_ast(ast: nodes.Template) -> nodes.Template:
    """``ast`` with every loop and ``~`` going through the budget."""
    return _Budgeted().visit(ast)


class BudgetedEnvironment(SandboxedEnvironment):
    """The sandbox with every operator, call and filter checked against the budget."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _range
        self.concat = _concat  # type: ignore[method-assign]

    def budget_filters(self, unwrapped: Iterable[str] = ()) -> None:
        """Wrap every filter but ``unwrapped`` (call once all filters are registered).

        ``unwrapped``: filters whose output is at most a few times their input and which
        build nothing else (the body's own escaping filters, run on every tag of every
        record): what they return is counted where it goes, by :func:`consume` or
        :func:`_concat`.
        """
        self.filters["join"] = pass_context(_join)
        self.filters["sum"] = pass_context(_sum)
        skip = frozenset(unwrapped)
        self.filters = {name: func if name in skip else _budgeted_filter(name, func)
                        for name, func in self.filters.items()}
        self.filters["_loop_iter"] = _loop_iter
        self.filters["_concat_parts"] = _concat

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return binop(operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        tick()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        args = check_method(__obj, args, kwargs)
        result = __context.call(__obj, *args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (list, dict, set)) and owner is not result:
            # append/update may have grown a container the template keeps.
            check_length(len(owner), "a list")
            spend([None])
        return spend(result)


def consume(chunks: Iterable[str]) -> str:
    """The rendered body from jinja's output chunks, refused once it passes the limit."""
    out: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_CHARS:
            raise _too_long("the body")
        out.append(chunk)
    return "".join(out)
