"""One macro + one record -> the exact HTTP request that would be sent."""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cctui.errors import CctuiError, MacroError, SecretError, TemplateError
from cctui.macros import secrets as sec
from cctui.macros.known import known_fields as known_fields  # re-exported: the CLI's import
from cctui.macros.known import known_for, schema_extra
from cctui.macros.limits import check_limits
from cctui.macros.model import Macro, user_info_conflict
from cctui.macros.source import RecordSource
from cctui.macros.tags import available_tags, build_context
from cctui.macros.templating import compile_header, has_tags, unknown_tag_message
from cctui.macros.url_template import compile_url, render_url
from cctui.macros.userinfo import resolve_url, userinfo_refs, userinfo_value
from cctui.macros.wire import host_header as host_header  # re-exported
from cctui.macros.wire import wire_headers as wire_headers  # re-exported

#: ``render_request(missing_secrets=...)``: fail on an unset ``${NAME}``, or leave it visible.
MISSING_SECRETS = ("error", "placeholder")

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
    #: Variables left as ``${NAME}`` (only with ``missing_secrets="placeholder"``): such a
    #: request is for showing, never for sending.
    missing_secrets: tuple[str, ...] = ()

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



def render_request(
    macro: Macro,
    record: Mapping[str, Any],
    *,
    store: RecordSource | None = None,
    config: Any = None,
    environ: Mapping[str, str] = os.environ,
    now: str | None = None,
    known_fields: Iterable[str] | None = None,
    missing_secrets: str = "error",
) -> RenderedRequest:
    """Render ``macro`` for ``record``: resolved URL and headers, body, warnings.

    A tag naming a *known* field the record lacks renders empty (``null`` as a JSON
    value). Known fields are ``known_fields`` when given, else those of
    :func:`known_fields` for ``store`` (cached per store revision), plus the standard
    fields and the fields this macro writes.

    ``missing_secrets="placeholder"`` leaves an unset ``${NAME}`` visible instead of
    failing (for a preview while a macro is being edited; such a request must not be
    sent: see :attr:`RenderedRequest.missing_secrets`).

    Raises :class:`~cctui.errors.SecretError` for an unset ``${NAME}`` (or one whose
    value cannot go in its header) and :class:`~cctui.errors.TemplateError` for an
    unknown tag or a body that fails to render.
    """
    where = f"macro {macro.name}"
    if missing_secrets not in MISSING_SECRETS:
        raise ValueError(f"missing_secrets must be one of {MISSING_SECRETS}, got {missing_secrets!r}")
    missing: list[str] | None = [] if missing_secrets == "placeholder" else None
    try:
        url, headers, signing, found = _resolve_secrets(macro, environ, missing)
    except SecretError as exc:
        raise SecretError(f"{where}: {exc}") from None
    url_tags = has_tags(macro.url)
    if not url_tags:
        url = _checked_url(where, url, headers, found, missing)

    compiled = macro.compiled()
    context = build_context(
        record, target=macro.target, store=store, base_url=_base_url(config),
        extra_names=macro.field_names | schema_extra(store), now=now,
    )
    unknown = compiled.unknown_names(context)
    if unknown:
        if known_fields is not None:
            known = frozenset(known_fields)
        else:
            known = known_for(store, macro.target, unknown)
        for name in unknown:
            if name in known:
                context[name] = None  # a known field this record lacks: empty / null
        unknown = [name for name in unknown if name not in known]
    if unknown:
        tags = available_tags(getattr(store, "schema", None), record, target=macro.target)
        tags += sorted(known - set(tags))
        line = compiled.name_lines.get(unknown[0])
        raise TemplateError(f"{where}: {unknown_tag_message(unknown[0], tags, line)}")
    if url_tags:  # /issue/((jira_key)): this record's URL (the host cannot change)
        url = _checked_url(where, _render_url(macro, context, store, environ, found, missing, known_fields),
                           headers, found, missing)
    try:
        body = compiled.render(context) if macro.body else ""
    except TemplateError as exc:
        exc.args = (f"{where}: {exc}",)  # keeps the class (TemplateTooExpensive)
        raise exc.with_traceback(None) from None
    for index, (name, value) in enumerate(headers):
        if has_tags(value):
            headers[index] = (name, _render_header(macro, index, name, value, context, store, environ,
                                                   found, missing, known_fields))

    content_type = None
    if body:
        content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
        if content_type is None:
            content_type = CONTENT_TYPES[macro.format]
            headers.insert(0, ("Content-Type", content_type))
    return RenderedRequest(
        method=macro.method, url=url, headers=headers, body=body, content_type=content_type,
        secrets=frozenset(s for s in found if s), warnings=_tls_warnings(macro) + check_limits(macro, body),
        signing_secret=signing, missing_secrets=tuple(dict.fromkeys(missing or ())),
    )


def _checked_url(where: str, url: str, headers: list[tuple[str, str]], found: set[str],
                 missing: list[str] | None) -> str:
    """``url`` (resolved) checked: http(s), splittable; its user-info moved to ``headers``."""
    if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE) and not (missing and "${" in url):
        raise MacroError(f"{where}: the url must be http:// or https:// once resolved, got {sec.mask_url(url, found)[:80]!r}.")
    if sec.split_url(url) is None and not (missing and "${" in url):
        raise MacroError(f"{where}: the url is not a valid URL once resolved (an unclosed '[' or a bad "
                         f"user-info), got {sec.mask_url(url, found)[:80]!r}.")
    return _user_info_as_header(where, url, headers, found, missing)


def _render_url(macro: Macro, context: dict, store: RecordSource | None, environ: Mapping[str, str],
                found: set[str], missing: list[str] | None, known_fields: Iterable[str] | None) -> str:
    """The macro's URL template rendered for a record (:mod:`cctui.macros.url_template`):
    each tag's value percent-encoded, ``${NAME}`` resolved after the tags."""
    where = f"macro {macro.name}"
    compiled = compile_url(macro.url)
    unknown = compiled.unknown_names(context)
    if unknown:
        known = frozenset(known_fields) if known_fields is not None else known_for(store, macro.target, unknown)
        for tag in unknown:
            if tag in known:
                context[tag] = None  # a known field this record lacks: empty
        unknown = [tag for tag in unknown if tag not in known]
        if unknown:
            tags = available_tags(getattr(store, "schema", None), context, target=macro.target)
            raise TemplateError(f"{where}: url: {_without_body(unknown_tag_message(unknown[0], tags, None))}")

    in_userinfo = userinfo_refs(macro.url)

    def resolve(ref: str) -> str:
        # A reference in the user-info (tags never stand there) is percent-encoded, as in
        # resolve_url; the same reference elsewhere too (a rare overlap).
        encode = userinfo_value if ref[2:-1] in in_userinfo else None
        try:
            return sec.resolve(ref, environ, where="url", found=found, missing=missing, encode=encode)
        except SecretError as exc:
            raise SecretError(f"{where}: {exc}") from None

    return render_url(macro.url, context, resolve, where)


def _user_info_as_header(where: str, url: str, headers: list[tuple[str, str]], found: set[str],
                         missing: list[str] | None) -> str:
    """``url`` without its user-info; the user-info appended to ``headers`` as
    ``Authorization: Basic base64(user:password)`` (percent-decoded, UTF-8), its value
    added to the secrets. cctui builds this header itself, rather than leaving it to the
    HTTP client, so the preview and the log list it like every other header sent."""
    parts = sec.split_url(url)
    if parts is None or "@" not in parts.netloc:
        return url
    if any(name.strip().lower() == "authorization" for name, _ in headers):
        raise user_info_conflict(where)
    userinfo = parts.netloc.rpartition("@")[0]
    start = len(parts.scheme) + 3  # the netloc follows "scheme://"
    url = url[:start] + url[start + len(userinfo) + 1:]
    if missing and "${" in userinfo:  # a preview with unset variables: shown, never sent
        headers.append(("Authorization", f"Basic {userinfo}"))
        return url
    user, _, password = userinfo.partition(":")
    credential = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    found.add(credential)  # "Basic" stays readable in echoes, as for a typed header
    headers.append(("Authorization", f"Basic {credential}"))
    return url



#: What previews, the form and the log say about a macro with ``verify = false``.
VERIFY_WARNING = ("verify = false: the receiver's TLS certificate is not checked, so anyone on the "
                  "network path could read or change these requests.")


def _tls_warnings(macro: Macro) -> list[str]:
    return [] if getattr(macro, "verify", True) else [VERIFY_WARNING]


def _resolve_secrets(macro: Macro, environ: Mapping[str, str], missing: list[str] | None = None,
                     ) -> tuple[str, list[tuple[str, str]], str | None, set[str]]:
    """URL, headers and signing secret with ``${NAME}`` resolved, plus every secret value."""
    found: set[str] = set()
    # A URL with tags is resolved per record, after its tags (_render_url).
    url = macro.url if has_tags(macro.url) else resolve_url(macro.url, environ, where="url", found=found,
                                                                missing=missing)
    found.update(sec.literal_secrets(macro.url))  # a token typed into the URL is a secret too
    headers: list[tuple[str, str]] = []
    for number, (name, value) in enumerate(macro.header_list, start=1):
        if has_tags(value):
            headers.append((name, value))  # rendered per record, secrets and all (_render_header)
            continue
        value = sec.resolve(value, environ, where=f"header line {number} ({name})", found=found,
                            header=True, missing=missing)
        if sec.is_sensitive_header(name) and value:
            found.add(value)
            # Also the credential alone, in case a receiver echoes it without the scheme.
            scheme, _, credential = value.partition(" ")
            if credential and scheme.lower() in sec.AUTH_SCHEMES:
                found.add(credential)
        headers.append((name, value))
    signing = None
    if macro.signing_secret:
        signing = sec.resolve(macro.signing_secret, environ, where="signing_secret", found=found,
                              missing=missing)
        found.add(signing)
    return url, headers, signing, found


_REF = re.compile(r"\x02(\d+)\x03")


@functools.lru_cache(maxsize=256)
def _header_source(value: str) -> tuple[str, tuple[str, ...]]:
    """A header template with each ``${...}`` swapped for a placeholder, and the references.
    Secrets are put back after the tags are rendered, so a record value holding
    ``${NAME}`` is never read as a reference (and never leaks that variable)."""
    refs: list[str] = []

    def swap(match: re.Match[str]) -> str:
        refs.append(match.group(0))
        return f"\x02{len(refs) - 1}\x03"

    return sec.SECRET_REF.sub(swap, value), tuple(refs)


def _render_header(macro: Macro, index: int, name: str, value: str, context: dict, store: RecordSource | None,
                   environ: Mapping[str, str], found: set[str], missing: list[str] | None,
                   known_fields: Iterable[str] | None) -> str:
    """One header value template rendered for a record, header-safe (a tag's value may not
    hold CR/LF or non-ASCII), with ``${NAME}`` resolved after the tags."""
    number = index + 1  # headers still in the macro's order (Content-Type is added later)
    where = f"macro {macro.name}: header line {number} ({name})"
    source, refs = _header_source(value)
    try:
        compiled = compile_header(source)
    except TemplateError as exc:
        raise TemplateError(f"{where}: {_without_body(exc)}") from None
    unknown = compiled.unknown_names(context)
    if unknown:
        known = frozenset(known_fields) if known_fields is not None else known_for(store, macro.target, unknown)
        for tag in unknown:
            if tag in known:
                context[tag] = None
        unknown = [tag for tag in unknown if tag not in known]
        if unknown:
            tags = available_tags(getattr(store, "schema", None), context, target=macro.target)
            raise TemplateError(f"{where}: {_without_body(unknown_tag_message(unknown[0], tags, None))}")
    try:
        text = compiled.render(context)
    except TemplateError as exc:
        exc.args = (f"{where}: {_without_body(exc)}",)  # keeps the class (TemplateTooExpensive)
        raise exc.with_traceback(None) from None
    if not sec.HEADER_VALUE_OK.match(_REF.sub("", text)):  # a {% %} block's own text, say
        raise TemplateError(f"{where}: the rendered value is not printable ASCII on one line.")
    if refs:
        try:
            text = _REF.sub(lambda m: sec.resolve(refs[int(m.group(1))], environ, where=f"header line {number} "
                                                  f"({name})", found=found, header=True, missing=missing), text)
        except SecretError as exc:
            raise SecretError(f"macro {macro.name}: {exc}") from None
    text = text.strip()
    if sec.is_sensitive_header(name) and text:
        found.add(text)
    return text


def _without_body(exc: Any) -> str:
    """Template errors speak of the body; in a header the line is the header's."""
    text = str(exc)
    return re.sub(r"^body( line \d+)?( column \d+)?: ", "", text)


def check_tags(macro: Macro, known_fields: Iterable[str] = frozenset(), *,
               where: str | None = None) -> None:
    """Raise for a tag that is neither a standard field, a computed tag, a field this macro
    writes, nor one of ``known_fields`` (e.g. :func:`known_fields` of the store)."""
    known_fields = frozenset(known_fields)
    context = build_context({}, target=macro.target, extra_names=macro.field_names | known_fields)
    compiled = macro.compiled()
    unknown = compiled.unknown_names(context)
    known = [t for t in available_tags(None, target=macro.target)] + sorted(known_fields)
    where = where or f"macro {macro.name}"
    if unknown:
        line = compiled.name_lines.get(unknown[0])
        raise TemplateError(f"{where}: {unknown_tag_message(unknown[0], known, line)}")
    if has_tags(macro.url):
        unknown = compile_url(macro.url).unknown_names(context)
        if unknown:
            raise TemplateError(f"{where}: url: {_without_body(unknown_tag_message(unknown[0], known, None))}")
    for number, (name, value) in enumerate(macro.header_list, start=1):
        if has_tags(value):
            unknown = compile_header(_header_source(value)[0]).unknown_names(context)
            if unknown:
                raise TemplateError(f"{where}: header line {number} ({name}): "
                                    f"{_without_body(unknown_tag_message(unknown[0], known, None))}")


def check_cost(macro: Macro, record: Mapping[str, Any] | None, *, store: RecordSource | None = None,
               config: Any = None, where: str | None = None) -> None:
    """Raise :class:`~cctui.macros.budget.TemplateTooExpensive` when ``macro``'s body is
    too expensive to render for ``record`` (a sample: ``macro add`` and ``send`` refuse
    such a macro up front instead of spending a render budget on every record).

    Other render problems are left to the real render: they may depend on the record.
    """
    from cctui.macros.budget import TemplateTooExpensive

    try:
        render_request(macro, record or {}, store=store, config=config, missing_secrets="placeholder")
    except TemplateTooExpensive as exc:
        if where is None:
            raise
        raise TemplateError(f"{where}: {exc}") from None
    except CctuiError:
        pass


def check_cost_before_save(macro: Macro, store: RecordSource, *, config: Any = None,
                           where: str | None = None) -> None:
    """:func:`check_cost` on the first record of ``macro``'s target (an empty one when
    there is none): the one check ``macro add`` and the TUI's macro form run before they
    store a macro. Blocks for up to the render budget: call it off the event loop."""
    records = store.users_all() if macro.target == "users" else store.feedback_all()
    check_cost(macro, records[0] if records else None, store=store, config=config, where=where)
