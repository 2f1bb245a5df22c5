"""One macro + one record -> the exact HTTP request that would be sent."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from cctui.errors import MacroError, SecretError, TemplateError
from cctui.macros import secrets as sec
from cctui.macros.limits import check_limits
from cctui.macros.model import Macro
from cctui.macros.tags import available_tags, build_context
from cctui.macros.templating import unknown_tag_message

CONTENT_TYPES = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "text": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class RenderedRequest:
    """The real request (secrets resolved): only the delivery engine should send or keep it.

    Show :meth:`masked` to people, never the fields themselves.
    """

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str
    content_type: str | None
    secrets: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    signing_secret: str | None = None

    def masked(self) -> dict[str, Any]:
        """``{"method", "url", "headers", "body"}`` with secrets as ``••••`` (headers a dict
        when names are unique, else a list of [name, value] pairs)."""
        headers = sec.mask_headers(self.headers, self.secrets)
        names = [name.lower() for name, _ in headers]
        shown: Any = dict(headers) if len(set(names)) == len(names) else [list(h) for h in headers]
        return {
            "method": self.method,
            "url": sec.mask_url(self.url, self.secrets),
            "headers": shown,
            "body": sec.mask_text(self.body, self.secrets),
        }


def _base_url(config: Any) -> str | None:
    if config is None:
        return None
    if isinstance(config, Mapping):
        return config.get("base_url")
    return getattr(config, "base_url", None)


def _schema_extra(store: Any) -> frozenset[str]:
    schema = getattr(store, "schema", None)
    return frozenset(getattr(schema, "extra_fields", ()) or ())


def render_request(
    macro: Macro,
    record: Mapping[str, Any],
    *,
    store: Any = None,
    config: Any = None,
    environ: Mapping[str, str] = os.environ,
    now: str | None = None,
) -> RenderedRequest:
    """Render ``macro`` for ``record``: resolved URL and headers, body, warnings.

    Raises :class:`~cctui.errors.SecretError` for an unset ``${NAME}`` and
    :class:`~cctui.errors.TemplateError` for an unknown tag or a body that fails to render.
    """
    where = f"macro {macro.name}"
    try:
        url, headers, signing, found = _resolve_secrets(macro, environ)
    except SecretError as exc:
        raise SecretError(f"{where}: {exc}") from None
    if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
        raise MacroError(f"{where}: the url must be http:// or https:// once resolved, got {sec.mask_url(url, found)[:80]!r}.")

    compiled = macro.compiled()
    context = build_context(
        record, target=macro.target, store=store, base_url=_base_url(config),
        extra_names=macro.field_names | _schema_extra(store), now=now,
    )
    unknown = compiled.unknown_names(context)
    if unknown:
        known = available_tags(getattr(store, "schema", None), record, target=macro.target)
        raise TemplateError(f"{where}: {unknown_tag_message(unknown[0], known)}")
    try:
        body = compiled.render(context) if macro.body else ""
    except TemplateError as exc:
        raise TemplateError(f"{where}: {exc}") from None

    content_type = None
    if body:
        content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
        if content_type is None:
            content_type = CONTENT_TYPES[macro.format]
            headers.insert(0, ("Content-Type", content_type))
    return RenderedRequest(
        method=macro.method, url=url, headers=headers, body=body, content_type=content_type,
        secrets=frozenset(s for s in found if s), warnings=check_limits(macro, body),
        signing_secret=signing,
    )


def _resolve_secrets(macro: Macro, environ: Mapping[str, str]):
    """URL, headers and signing secret with ``${NAME}`` resolved, plus every secret value."""
    found: set[str] = set()
    url = sec.resolve(macro.url, environ, where="url", found=found)
    headers: list[tuple[str, str]] = []
    for number, (name, value) in enumerate(macro.header_list, start=1):
        value = sec.resolve(value, environ, where=f"header line {number} ({name})", found=found)
        if sec.is_sensitive_header(name) and value:
            found.add(value)
            # Also the credential alone, in case a receiver echoes it without the scheme.
            scheme, _, credential = value.partition(" ")
            if credential and scheme.lower() in sec.AUTH_SCHEMES:
                found.add(credential)
        headers.append((name, value))
    signing = None
    if macro.signing_secret:
        signing = sec.resolve(macro.signing_secret, environ, where="signing_secret", found=found)
        found.add(signing)
    return url, headers, signing, found


def check_tags(macro: Macro, known_fields: set[str] | frozenset[str] = frozenset(), *,
               where: str | None = None) -> None:
    """Raise for a tag that is neither a standard field, a computed tag, a field this macro
    writes, nor one of ``known_fields`` (e.g. extra fields present in the store)."""
    context = build_context({}, target=macro.target, extra_names=macro.field_names | set(known_fields))
    unknown = macro.compiled().unknown_names(context)
    if unknown:
        known = [t for t in available_tags(None, target=macro.target)] + sorted(known_fields)
        where = where or f"macro {macro.name}"
        raise TemplateError(f"{where}: {unknown_tag_message(unknown[0], known)}")
