"""Body templates: ``((tag))`` jinja2, sandboxed, that always yields a valid body.

Why not plain jinja2: a JSON body must stay valid JSON whatever a record holds (quotes,
newlines, ``</script>``...). So the template is *scanned* once as JSON, and each
``((expr))`` is rewritten according to where it stands:

* inside a JSON string -> ``((  (expr)|_json_str ))``: the value escaped as string content;
* standing alone as a value -> ``(( (expr)|_json_value ))``: a JSON literal
  (number, true/false, null, or a quoted string).

Form bodies get ``_form`` (URL-encoding) and text bodies ``_text`` (raw). The JSON shape is
checked at compile time with placeholders of the same length as each tag, so a template
that can never be JSON is reported with the line and column *of the template*. Compiled
templates are cached: a bulk send renders the same body for 100k records.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.runtime import Context

from cctui.errors import TemplateError
from cctui.macros import budget, sandbox
from cctui.macros.budget import TemplateTooExpensive, check_text_of
from cctui.macros.sandbox import BudgetedEnvironment

FORMATS = ("json", "form", "text")
_FILTER_FOR = {"string": "_json_str", "value": "_json_value", "form": "_form", "text": "_text",
               "header": "_header"}
#: A header value template (``X-Source: cctui-((id))``): not a body format, compiled by
#: :func:`compile_header`.
HEADER = "header"
# Characters that are valid JSON but break HTML/JS embedding or lone surrogates that
# cannot be encoded as UTF-8: always written as \u escapes.
_UNSAFE_JSON = re.compile("[\u2028\u2029\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _strict_loads(text: str) -> Any:
    """``json.loads`` without Python's extensions (``NaN``, ``Infinity``)."""
    return json.loads(text, parse_constant=_no_constant)


def _exception_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return text or type(exc).__name__


class JsonText(str):
    """Text that already is JSON (what ``tojson`` returns): inserted as-is in value position."""


# -- turning values into body text ----------------------------------------------------
def to_text(value: Any) -> str:
    """A value as plain text: None is empty, booleans are JSON words, containers are JSON."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        check_text_of(value)
        return _dumps(value)
    return str(value)


def _default(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return str(value)


def _not_json(value: float) -> TemplateError:
    return TemplateError(f"body: a tag renders {value!r}, which is not a JSON number (NaN and infinity are not JSON).")


def _dumps(value: Any, *, strict: bool = False) -> str:
    """JSON text; ``strict`` refuses NaN and infinity (Python would write ``NaN``, not JSON)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=_default, allow_nan=not strict)
    except ValueError as exc:
        if strict and "Out of range float" in str(exc):
            raise TemplateError("body: a tag renders NaN or infinity, which is not JSON.") from None
        raise
    if "</" in text:
        text = text.replace("</", "<\\/")  # so a body pasted into HTML cannot close a <script>
    if _UNSAFE_JSON.search(text):
        text = _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def json_string_content(value: Any) -> str:
    """``value`` as the inside of a JSON string (no surrounding quotes)."""
    return _dumps(to_text(value))[1:-1]


def json_value(value: Any) -> str:
    """``value`` as a JSON literal: numbers, booleans and null stay so, the rest is quoted."""
    if isinstance(value, JsonText):
        return str(value)
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or isinstance(value, (bool, int, float, list, tuple, dict, str)):
        if isinstance(value, float) and not math.isfinite(value):
            raise _not_json(value)
        check_text_of(value)
        return _dumps(value, strict=True)
    return _dumps(str(value))


def _tojson(value: Any, indent: int | None = None) -> JsonText:
    """Replaces jinja's ``tojson``: marks its result so value position inserts it as-is."""
    check_text_of(value)
    if indent is None:
        return JsonText(_dumps(value, strict=True))
    try:
        text = json.dumps(value, ensure_ascii=False, default=_default, indent=indent, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        raise TemplateError("body: a tag renders NaN or infinity, which is not JSON.") from None
    return JsonText(_UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text.replace("</", "<\\/")))


def _mrkdwn(value: Any) -> str:
    """Slack mrkdwn escaping: ``&``, ``<``, ``>`` would otherwise start links or entities."""
    return to_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _oneline(value: Any) -> str:
    """Whitespace runs (newlines included) as single spaces: for summaries and subjects."""
    return " ".join(to_text(value).split())


def _form(value: Any) -> str:
    return quote_plus(to_text(value), errors="backslashreplace")


def header_text(value: Any) -> str:
    """``value`` as text that a header value can carry, or a TemplateError saying why not:
    a line break would end the header (and could start a forged one)."""
    text = to_text(value)
    if text.isascii() and text.isprintable():
        return text
    for char in text:
        if char in "\r\n":
            raise TemplateError("a tag's value holds a line break (CR or LF), which would end the header; "
                                "use ((field|oneline)) to join the lines.")
        if char != "\t" and (ord(char) < 32 or ord(char) == 127):
            raise TemplateError(f"a tag's value holds the control character {char!r}, which a header "
                                "cannot carry.")
        if not char.isascii():
            raise TemplateError(f"a tag's value holds the non-ASCII character {char!r}, which an HTTP "
                                "header cannot carry (header values must be printable ASCII).")
    return text


def _make_env() -> BudgetedEnvironment:
    env = BudgetedEnvironment(
        variable_start_string="((",
        variable_end_string="))",
        block_start_string="{%",
        block_end_string="%}",
        # Comments are switched off in practice: "{#" is common in bodies (CSS colours,
        # Slack channels), so their delimiters are strings no body contains.
        comment_start_string="\x00\x01#",
        comment_end_string="#\x01\x00",
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.policies["truncate.leeway"] = 0  # truncate(150) must mean at most 150 characters
    env.filters.update(
        _json_str=json_string_content,
        _json_value=json_value,
        _form=_form,
        _text=to_text,
        _header=header_text,
        tojson=_tojson,
        mrkdwn=_mrkdwn,
        oneline=_oneline,
    )
    for name in ("lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    env.budget_filters(unwrapped=("_json_str", "_json_value", "_form", "_text"))
    return env


ENV = _make_env()
_GLOBAL_NAMES = frozenset(ENV.globals)


# -- scanning ---------------------------------------------------------------------------
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
            c = source[i]
            if in_string and c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = not in_string
        i += 1
    if text_start < n:
        segments.append(Segment("text", text_start, n, in_string))
    return segments


# -- compiling --------------------------------------------------------------------------
@dataclass(frozen=True)
class CompiledBody:
    """A body template ready to render many times."""

    source: str
    format: str
    template: Any  # jinja2.Template
    names: frozenset[str]  # the top-level names (tags) the template reads
    #: The JSON shape is proven at compile time (see :func:`_always_json`): every
    #: rendering is valid JSON, so render() need not parse each body to check it.
    always_json: bool = False
    #: The template line where each of ``names`` is first read (for error messages).
    name_lines: Mapping[str, int] = field(default_factory=dict)

    def render(self, context: dict[str, Any]) -> str:
        """The body for one record's ``context``; a :class:`TemplateError` names the problem.

        The render runs under a :class:`~cctui.macros.budget.Budget`: it finishes within
        ``MAX_SECONDS`` and ``MAX_CHARS`` or raises :class:`TemplateTooExpensive`.
        """
        token = budget.activate(budget.Budget())
        try:
            if self.always_json and not self.names & _GLOBAL_NAMES:
                # Only text and tags, no jinja globals read: render over the context as
                # it is (Template.render would copy it twice and merge the globals in).
                template = self.template
                text = sandbox.consume(template.root_render_func(
                    Context(ENV, context, template.name, template.blocks)))
            else:
                text = sandbox.consume(self.template.generate(context))
        except TemplateError:
            raise
        except SecurityError as exc:
            raise TemplateError(f"body: refused by the sandbox ({exc}).") from None
        except UndefinedError as exc:
            raise TemplateError(f"body: {exc} (check the tag's spelling).") from None
        except JinjaTemplateError as exc:
            raise TemplateError(syntax_sentence(str(exc), getattr(exc, "lineno", None))) from None
        except RecursionError:
            raise TemplateError("body: a macro or loop calls itself too deeply (endless recursion?).") from None
        except MemoryError:
            raise TemplateTooExpensive("it ran out of memory") from None
        except Exception as exc:  # the template is the user's code: any failure is theirs
            raise TemplateError(f"body: a tag failed to render ({_exception_text(exc)}).") from None
        finally:
            budget.deactivate(token)
        if self.format == "form":
            return "&".join(line.strip() for line in text.splitlines() if line.strip())
        if self.format == "json" and not self.always_json and text.strip():
            try:
                _strict_loads(text)
            except json.JSONDecodeError as exc:
                raise TemplateError(
                    f"body: the rendered body is not valid JSON at line {exc.lineno} column "
                    f"{exc.colno} of the rendered text ({exc.msg}); check the {{% %}} blocks."
                ) from None
            except (ValueError, RecursionError) as exc:
                raise TemplateError(f"body: the rendered body is not valid JSON ({_exception_text(exc)}).") from None
        return text

    def unknown_names(self, known: Iterable[str]) -> list[str]:
        """Tags this template reads that are neither in ``known`` nor jinja globals, in the
        order they appear in the template."""
        known = set(known) | _GLOBAL_NAMES
        unknown = [name for name in self.names if name not in known]
        return sorted(unknown, key=lambda name: (self.name_lines.get(name, 0), name))


def unknown_tag_message(name: str, known: Iterable[str], line: int | None = None) -> str:
    """One sentence for an unknown tag, with its template line and the closest known fields."""
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(f"(({c}))" for c in close) + "?"
    else:
        hint = "known tags: " + ", ".join(known[:20]) + ("..." if len(known) > 20 else "")
    where = f"body line {line}" if line else "body"
    return f"{where}: unknown tag (({name})) ({hint})."


_INNERMOST = re.compile(r"The innermost block that needs to be closed is '(\w+)'")


def syntax_sentence(message: str, line: int | None) -> str:
    """A jinja syntax error (often several sentences) as one sentence naming the line."""
    where = f"body line {line}" if line else "body"
    message = " ".join(message.split())
    innermost = _INNERMOST.search(message)
    unknown = re.match(r"Encountered unknown tag '(\w+)'", message)
    if message.startswith("Unexpected end of template") and innermost:
        block = innermost.group(1)
        return f"{where}: the {{% {block} %}} block is never closed (add {{% end{block} %}})."
    if unknown and innermost:
        return (f"{where}: {{% {unknown.group(1)} %}} does not fit here: the open "
                f"{{% {innermost.group(1)} %}} block must be closed first with "
                f"{{% end{innermost.group(1)} %}}.")
    if unknown:
        return f"{where}: unknown block tag {{% {unknown.group(1)} %}}."
    message = message.rstrip(".").replace(". ", "; ")
    return f"{where}: {message[:1].lower()}{message[1:]}."


def _rewrite(source: str, segments: list[Segment], fmt: str) -> str:
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
            piece = f"(({lead}({expr})|{_FILTER_FOR[kind]}{trail}))"
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


def _check_json_shape(source: str, segments: list[Segment]) -> None:
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
        _strict_loads("".join(parts))
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


def _check_sandbox(ast: nodes.Template) -> None:
    """Refuse private attributes before anything renders (the sandbox would at run time)."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attr = node.arg.value if isinstance(node.arg.value, str) else None
        if attr and attr.startswith("_"):
            raise TemplateError(
                f"body line {node.lineno}: access to {attr!r} is refused by the sandbox "
                "(tags may read record fields, not Python internals)."
            )
    for node in ast.find_all(nodes.Const):
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise TemplateError(
                f"body line {node.lineno}: a number in the template is too large for a "
                "float (it would be infinity)."
            )
    for node in ast.find_all(nodes.Name):
        if node.name.startswith("_"):
            raise TemplateError(
                f"body line {node.lineno}: the name {node.name!r} is refused by the sandbox."
            )


@lru_cache(maxsize=1024)
def compile_body(source: str, fmt: str = "json") -> CompiledBody:
    """Compile (once) a body template of format ``json``, ``form`` or ``text``.

    Raises :class:`TemplateError` for a syntax error, a JSON body that cannot be valid
    JSON, or a sandbox escape, naming the template's line (and column where known).
    """
    if fmt not in FORMATS and fmt != HEADER:
        raise TemplateError(f"format: unknown body format {fmt!r} (known: {', '.join(FORMATS)}).")
    segments = scan(source, json_aware=fmt == "json")
    if fmt == "json" and source.strip():
        _check_json_shape(source, segments)
    jinja_source = _rewrite(source, segments, fmt)
    try:
        ast = ENV.parse(jinja_source)
        _check_sandbox(ast)
        template = ENV.from_string(sandbox.budget_ast(ast))
    except TemplateSyntaxError as exc:  # also unknown filters and tests
        raise TemplateError(syntax_sentence(exc.message or "syntax error", exc.lineno)) from None
    except (RecursionError, MemoryError):
        raise TemplateError("body: the template nests expressions too deeply to compile.") from None
    names = frozenset(meta.find_undeclared_variables(ast))
    lines: dict[str, int] = {}
    for node in ast.find_all(nodes.Name):
        if node.name in names and node.ctx == "load":
            lines[node.name] = min(lines.get(node.name, node.lineno), node.lineno)
    return CompiledBody(source, fmt, template, names, fmt == "json" and _always_json(ast), lines)


def has_tags(text: str) -> bool:
    """Whether a header value is a template (holds a ``((tag))`` or a ``{% %}`` block)."""
    return "((" in text or "{%" in text


def compile_header(source: str) -> CompiledBody:
    """Compile (once) a header value template: each tag's value must be header-safe
    (:func:`header_text`); TemplateError for a syntax error."""
    return compile_body(source, HEADER)


def _always_json(ast: nodes.Template) -> bool:
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
                    c = text[i]
                    if in_string and c == "\\":
                        i += 2
                        continue
                    if c == '"':
                        in_string = not in_string
                    i += 1
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
        _strict_loads("".join(parts))
    except (ValueError, RecursionError):
        return False
    return True
