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

This module is the compile/render API; the scanning and rewriting live in
:mod:`cctui.macros.scanning`, the escaping filters in :mod:`cctui.macros.escaping`.
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

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.runtime import Context

from cctui.errors import TemplateError
from cctui.macros import budget, sandbox
from cctui.macros.budget import TemplateTooExpensive
from cctui.macros.escaping import (
    form_value,
    header_text,
    json_string_content,
    json_value,
    mrkdwn,
    oneline,
    strict_loads,
    to_text,
    tojson,
    url_value,
)
from cctui.macros.sandbox import BudgetedEnvironment
from cctui.macros.scanning import always_json, check_json_shape, rewrite, scan

FORMATS = ("json", "form", "text")
#: A header value template (``X-Source: cctui-((id))``): not a body format, compiled by
#: :func:`compile_header`.
HEADER = "header"
#: A URL template (``/issue/((jira_key))``): compiled by :func:`compile_url_template`.
URL = "url"


def _exception_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return text or type(exc).__name__


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
        _form=form_value,
        _text=to_text,
        _header=header_text,
        _url=url_value,
        tojson=tojson,
        mrkdwn=mrkdwn,
        oneline=oneline,
    )
    for name in ("lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    env.budget_filters(unwrapped=("_json_str", "_json_value", "_form", "_text"))
    return env


ENV = _make_env()
_GLOBAL_NAMES = frozenset(ENV.globals)


@dataclass(frozen=True)
class CompiledBody:
    """A body template ready to render many times."""

    source: str
    format: str
    template: Any  # jinja2.Template
    names: frozenset[str]  # the top-level names (tags) the template reads
    #: The JSON shape is proven at compile time (see
    #: :func:`~cctui.macros.scanning.always_json`): every rendering is valid
    #: JSON, so render() need not parse each body to check it.
    always_json: bool = False
    #: The template line where each of ``names`` is first read (for error messages).
    name_lines: Mapping[str, int] = field(default_factory=dict)
    #: Text and tags only, no block (a URL template such as ``/issue/((jira_key))``):
    #: rendered over the context directly, like an always-JSON body.
    plain: bool = False

    def render(self, context: dict[str, Any]) -> str:
        """The body for one record's ``context``; a :class:`TemplateError` names the problem.

        The render runs under a :class:`~cctui.macros.budget.Budget`: it finishes within
        ``MAX_SECONDS`` and ``MAX_CHARS`` or raises :class:`TemplateTooExpensive`.
        """
        token = budget.activate(budget.Budget())
        try:
            if (self.always_json or self.plain) and not self.names & _GLOBAL_NAMES:
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
                strict_loads(text)
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
    if fmt not in FORMATS and fmt not in (HEADER, URL):
        raise TemplateError(f"format: unknown body format {fmt!r} (known: {', '.join(FORMATS)}).")
    segments = scan(source, json_aware=fmt == "json")
    if fmt == "json" and source.strip():
        check_json_shape(source, segments)
    jinja_source = rewrite(source, segments, fmt)
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
    plain = fmt == URL and all(seg.kind != "block" for seg in segments)
    return CompiledBody(source, fmt, template, names, fmt == "json" and always_json(ast), lines, plain)


def has_tags(text: str) -> bool:
    """Whether a header value is a template (holds a ``((tag))`` or a ``{% %}`` block)."""
    return "((" in text or "{%" in text


def compile_header(source: str) -> CompiledBody:
    """Compile (once) a header value template: each tag's value must be header-safe
    (:func:`header_text`); TemplateError for a syntax error."""
    return compile_body(source, HEADER)



def compile_url_template(source: str) -> CompiledBody:
    """Compile (once) a URL template: each tag's value is percent-encoded (:func:`url_value`);
    :mod:`cctui.macros.url_template` checks its place and renders it."""
    return compile_body(source, URL)
