"""Reading a body template before jinja does: where each ``((tag))`` and ``{% %}`` block
stands (inside a JSON string or not), rewriting each tag through the escaping filter for
its place, and the two JSON-shape checks (a template that can never be JSON is refused
with *its* line and column; one that is always JSON skips the parse at render time).

Jinja sees only the rewritten source; :mod:`cctui.macros.templating` compiles it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote_plus

from jinja2 import nodes

from cctui.errors import TemplateError
from cctui.macros.escaping import strict_loads

#: The filter (registered by :mod:`cctui.macros.templating`) each tag is piped through,
#: by where it stands: in a JSON string, as a JSON value, in a form, text or header body.
FILTER_FOR = {"string": "_json_str", "value": "_json_value", "form": "_form", "text": "_text",
              "header": "_header", "url": "_url"}


@dataclass(frozen=True)
class Segment:
    """A piece of a template: literal ``text``, a ``tag`` or a ``block``, and where it sits."""

    kind: str
    start: int
    end: int
    in_string: bool


def line_col(source: str, pos: int) -> tuple[int, int]:
    """1-based line and column of ``pos`` in ``source``."""
    line = source.count("\n", 0, pos) + 1
    return line, pos - (source.rfind("\n", 0, pos) + 1) + 1


def _tag_end(source: str, start: int) -> int:
    """Index just past the ``))`` closing the tag opened at ``start``.

    Mirrors jinja2's lexer: ``))`` closes only outside brackets and string literals, so
    ``((title|truncate(150)))`` and ``(( "))" ))`` are single tags.
    """
    depth, i, n = 0, start + 2, len(source)
    while i < n:
        c = source[i]
        if c in "\"'":
            close = i + 1
            while close < n and source[close] != c:
                close += 2 if source[close] == "\\" else 1
            i = close + 1
            continue
        if depth == 0 and source.startswith("))", i):
            return i + 2
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        i += 1
    line, col = line_col(source, start)
    raise TemplateError(f"body line {line} column {col}: the tag (( is never closed with )).")


def _json_step(char: str, in_string: bool) -> tuple[int, bool]:
    """One step of walking JSON text: how many characters ``char`` moves the walk on, and
    whether the walk is then inside a string (a backslash in a string escapes the next
    character; a quote opens or closes a string)."""
    if in_string and char == "\\":
        return 2, True
    return 1, in_string != (char == '"')


def scan(source: str, *, json_aware: bool) -> list[Segment]:
    """Split ``source`` into text, tags and blocks; for JSON, note which sit in strings."""
    segments: list[Segment] = []
    in_string = False
    i = text_start = 0
    n = len(source)
    while i < n:
        if source.startswith("((", i) or source.startswith("{%", i):
            if source.startswith("(((", i):
                # "Bug (((id)))": parens before a tag are literal; the tag is the last "((".
                run = len(source) - i - len(source[i:].lstrip("("))
                i += run - 2
            if i > text_start:
                segments.append(Segment("text", text_start, i, in_string))
            if source[i] == "(":
                end, kind = _tag_end(source, i), "tag"
            else:
                close = source.find("%}", i + 2)
                if close < 0:
                    line, col = line_col(source, i)
                    raise TemplateError(
                        f"body line {line} column {col}: the block {{% is never closed with %}}."
                    )
                end, kind = close + 2, "block"
            segments.append(Segment(kind, i, end, in_string))
            i = text_start = end
            continue
        if json_aware:
            step, in_string = _json_step(source[i], in_string)
            i += step
            continue
        i += 1
    if text_start < n:
        segments.append(Segment("text", text_start, n, in_string))
    return segments


def rewrite(source: str, segments: list[Segment], fmt: str) -> str:
    """The jinja source: every tag piped through the filter for its context."""
    out: list[str] = []
    for seg in segments:
        piece = source[seg.start : seg.end]
        if seg.kind == "tag":
            inner = piece[2:-2]
            lead = inner[0] if inner[:1] in ("-", "+") else ""
            trail = "-" if inner[len(lead):].endswith("-") else ""
            expr = inner[len(lead) : len(inner) - len(trail)]
            if not expr.strip():
                line, col = line_col(source, seg.start)
                raise TemplateError(f"body line {line} column {col}: the tag (( )) is empty.")
            kind = fmt if fmt != "json" else ("string" if seg.in_string else "value")
            piece = f"(({lead}({expr})|{FILTER_FOR[kind]}{trail}))"
        elif seg.kind == "text" and fmt == "form":
            piece = _form_literal(source, seg)
        if seg.kind == "text" and piece.endswith("(") and source.startswith("((", seg.end):
            # jinja2 would read "(" + "((" as the start of a tag: keep those parens raw.
            parens = len(piece) - len(piece.rstrip("("))
            piece = piece[:-parens] + "{% raw %}" + "(" * parens + "{% endraw %}"
        out.append(piece)
    return "".join(out)


def _form_literal(source: str, seg: Segment) -> str:
    """Literal text of a form body, URL-encoded except the ``=``, ``&`` and newlines."""
    lines = source[seg.start : seg.end].split("\n")
    encoded = []
    for index, line in enumerate(lines):
        at_line_start = index > 0 or seg.start == 0 or source[seg.start - 1] == "\n"
        at_line_end = index < len(lines) - 1 or seg.end == len(source) or source[seg.end] == "\n"
        if at_line_start:
            line = line.lstrip()
        if at_line_end:
            line = line.rstrip()
        encoded.append(quote_plus(line, safe="=&%+"))
    return "\n".join(encoded)


def check_json_shape(source: str, segments: list[Segment]) -> None:
    """Raise if the template cannot be JSON, naming the template's line and column.

    Tags become same-length placeholders so error positions map 1:1 onto the template.
    Blocks outside strings can add or drop commas, so there the check is left to render
    time (when the rendered text is parsed anyway).
    """
    structural = any(s.kind == "block" and not s.in_string for s in segments)
    parts = []
    for seg in segments:
        size = seg.end - seg.start
        if seg.kind == "text":
            parts.append(source[seg.start : seg.end])
        elif seg.in_string:
            parts.append("a" * size)
        elif seg.kind == "tag":
            parts.append("0" + " " * (size - 1))
        else:
            parts.append(" " * size)
    try:
        strict_loads("".join(parts))
    except RecursionError:
        raise TemplateError("body: the template nests JSON too deeply.") from None
    except json.JSONDecodeError as exc:
        if structural:
            return
        line, col = line_col(source, exc.pos)
        raise TemplateError(
            f"body line {line} column {col}: the template cannot render to valid JSON "
            f"({exc.msg})."
        ) from None
    except ValueError as exc:  # NaN or Infinity written in the template
        raise TemplateError(f"body: the template cannot render to valid JSON ({exc}).") from None


def always_json(ast: nodes.Template) -> bool:
    """True when every rendering of ``ast`` is valid JSON, whatever the record holds.

    Proven on what jinja will actually output, not on the scan: the template must be
    only literal text and tags (no blocks), each tag piped last through ``_json_str``
    standing inside a JSON string or ``_json_value`` standing outside one, and the
    literal text with each tag replaced by a placeholder (``a`` inside a string, ``0``
    as a value) must parse as JSON. Both filters always return valid JSON for their
    place (string content, a JSON literal), so the rendered body is JSON too, and
    render() can skip parsing it. Anything else keeps the check at render time.
    """
    parts: list[str] = []
    in_string = False
    for output in ast.body:
        if not isinstance(output, nodes.Output):
            return False
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                text = node.data
                i, n = 0, len(text)
                while i < n:
                    step, in_string = _json_step(text[i], in_string)
                    i += step
                if i > n:  # a backslash ends the literal: it would escape the tag's output
                    return False
                parts.append(text)
            elif isinstance(node, nodes.Filter) and node.node is not None and (
                    (node.name == "_json_str" and in_string) or (node.name == "_json_value" and not in_string)):
                parts.append("a" if in_string else "0")
            else:
                return False
    if in_string:
        return False
    try:
        strict_loads("".join(parts))
    except (ValueError, RecursionError):
        return False
    return True
