"""Rendering a macro's request for people: masked, pretty, never a secret in clear.

Shared by the macro form's preview, the bulk confirmation and the log inspector.
"""

from __future__ import annotations

import json
from typing import Any

from cctui.errors import CctuiError
from cctui.tui.clip import SHOWN_CHARS, clip


def pretty_body(body: str) -> str:
    """JSON bodies indented for reading; anything else as it is."""
    text = (body or "").strip()
    if text[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return body or ""


def shown_body(body: str) -> str:
    """A body as a screen shows it: JSON indented, at most ``clip.SHOWN_CHARS`` of it (a
    longer one is not parsed: it is shown cut anyway)."""
    return clip(pretty_body(body) if len(body) <= 4 * SHOWN_CHARS else body)


def header_pairs(value: Any) -> list[tuple[str, str]]:
    """Headers as pairs whether they come as a mapping or a list of pairs."""
    if isinstance(value, dict):
        return [(str(k), str(v)) for k, v in value.items()]
    return [(str(pair[0]), str(pair[1])) for pair in (value or [])]


def request_text(masked: dict) -> str:
    """``{"method", "url", "headers", "body"}`` as an HTTP-like block of text."""
    lines = [f"{masked.get('method', '?')} {masked.get('url', '')}"]
    for name, value in header_pairs(masked.get("headers")):
        lines.append(f"{name}: {value}")
    lines.append("")
    lines.append(shown_body(str(masked.get("body") or "")))
    return "\n".join(lines)


def render_macro(app: Any, macro_dict: dict, record: dict | None, *, missing_secrets: str = "error",
                 engine_headers: bool = False) -> Any:
    """The real ``RenderedRequest`` for ``record`` (raises CctuiError the user can fix).

    ``missing_secrets="placeholder"`` leaves an unset ``${VAR}`` visible instead of failing
    (the form's preview: a new Slack macro should still show its request).
    ``engine_headers`` adds what the engine adds to each attempt (``webhook-id``,
    ``webhook-timestamp``, a signature, ``User-Agent``), as ``cctui macro preview`` shows.
    """
    from cctui.errors import MacroError
    from cctui.macros import Macro, render_request
    from cctui.macros.preview import with_engine_headers

    name = macro_dict.get("name") or "(new)"
    macro = Macro.from_dict(macro_dict, where=f"macro {name}", schema=app.schema)
    rendered = render_request(macro, record or {}, store=app.store, config=app.config,
                              missing_secrets=missing_secrets)
    if engine_headers:
        try:
            rendered = with_engine_headers(rendered)
        except MacroError as exc:  # e.g. a malformed whsec_ signing secret, as the CLI says it
            raise MacroError(f"macro {name}: {exc}") from None
    return rendered


def render_masked_sample(app: Any, macro_dict: dict, record: dict | None) -> tuple[dict | None, str | None]:
    """``(masked request, None)`` or ``(None, error sentence)``, with the engine's headers."""
    try:
        rendered = render_macro(app, macro_dict, record, engine_headers=True)
    except CctuiError as exc:
        return None, str(exc)
    return rendered.masked(), None
