"""One record's request (rendered once, masked once) and one attempt at sending it.

The engine decides what to do next; this module only prepares, sends, measures and turns
the outcome into a log entry in which no secret appears in clear.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from cctui import USER_AGENT
from cctui.core.clock import iso, now
from cctui.delivery.explain import Explanation, explain
from cctui.delivery.returns import take_return_values
from cctui.delivery.transport import PLAIN_HEADERS, TRUNCATED, HttpSender
from cctui.errors import CctuiError, MacroError
from cctui.macros import signing
from cctui.macros.budget import TemplateTooExpensive
from cctui.macros.request import VERIFY_WARNING, RenderedRequest, render_request, wire_headers
from cctui.macros.secrets import (
    MASK,
    mask_cut_end,
    mask_header_value,
    mask_headers,
    mask_text,
    secret_variants,
)
from cctui.macros.tags import build_context
from cctui.macros.templating import has_tags

if TYPE_CHECKING:
    from cctui.config import Config
    from cctui.delivery.engine import _Run
    from cctui.macros.model import Macro
    from cctui.macros.source import RecordSource

# Attempt ids: the delivery id and attempt number are unique except when a resumed run
# repeats an attempt number; a per-process random start + counter separates those.
_SERIAL = itertools.count(int.from_bytes(os.urandom(4), "big"))


@dataclass
class Fixed:
    """What stays the same for every record of one run (secrets resolved once): the
    request line, headers, secrets and their masked forms."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    host: str
    secrets: frozenset[str]
    key: bytes | None
    masked_url: str
    masked_shown: Any  # the headers as previews show them (dict, or list of pairs)
    masked_headers: dict  # the macro's headers, masked, for the log
    order: tuple[str, ...]  # every form of every secret, longest first (worked out once per run)
    has_user_agent: bool
    warning: str | None = None  # shown in every log entry (verify = false)

    def mask(self, text: str) -> str:
        """``mask_text(text, secrets)`` with the run's precomputed secret variants."""
        if text:
            for secret in self.order:
                if secret in text:
                    text = text.replace(secret, MASK)
        return text


@dataclass
class Prepared:
    """A rendered request ready to send, plus what may be shown of it."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    host: str
    secrets: frozenset[str]
    masked: dict  # {"method", "url", "headers", "body"} with secrets masked
    key: bytes | None = None  # HMAC key for webhook-signature
    masked_headers: dict = field(default_factory=dict)  # the macro's headers, masked, once
    fixed: Fixed | None = None


class RequestFactory:
    """Prepares one macro's request for many records (one factory per run).

    Everything that does not depend on the record (``${SECRET}`` resolution, the URL and
    headers, the signing key, the masked URL and headers) is worked out once, from the
    first record, with :func:`cctui.macros.render_request`. For each further record only
    the body is rendered (the same compiled template and context that ``render_request``
    uses). Anything unusual (a tag the record lacks, a render error, a body that turns
    empty) goes through ``render_request`` itself, so errors read exactly the same.
    """

    def __init__(self, macro: Macro, store: RecordSource | None = None, config: Config | None = None,
                 environ: Mapping[str, str] = os.environ) -> None:
        self.macro = macro
        self.store = store
        self.config = config
        self.environ = environ
        self._fixed: dict[bool, Fixed] = {}  # by "the body is not empty"
        self._fast: tuple | None = None
        # Headers with ((tags)) differ per record: nothing about the request is fixed then.
        self._per_record = any(has_tags(value) for _, value in macro.header_list)

    def prepare(self, record: dict) -> Prepared:
        """The request for ``record``; raises the macros' TemplateError/SecretError."""
        fast = self._fast
        if fast is not None and self._fixed and not self._per_record:
            compiled, target, base_url, extra, dynamic = fast
            if not any(name not in record for name in dynamic):
                context = build_context(record, target=target, store=self.store, base_url=base_url,
                                        extra_names=extra, now=iso_now())
                try:
                    body = compiled.render(context) if self.macro.body else ""
                except TemplateTooExpensive as exc:
                    # Not again through render_request: that would spend a second budget.
                    exc.args = (f"macro {self.macro.name}: {exc}",)
                    raise exc.with_traceback(None) from None
                except CctuiError:
                    body = None  # render_request below raises it with the macro's name
                fixed = self._fixed.get(bool(body)) if body is not None else None
                if fixed is not None and body is not None:
                    return _prepared(fixed, body)
        return self._full(record)

    def _full(self, record: dict) -> Prepared:
        rendered = render_request(self.macro, record, store=self.store, config=self.config,
                                     environ=self.environ)
        fixed = self._fixed.get(bool(rendered.body))
        if fixed is None or self._per_record:
            fixed = self._fixed[bool(rendered.body)] = _fix(rendered)
            if not getattr(self.macro, "verify", True):
                fixed.warning = VERIFY_WARNING
        if self._fast is None:
            self._fast = self._fast_path()
        return _prepared(fixed, rendered.body)

    def _fast_path(self) -> tuple:
        from cctui.macros.templating import ENV

        macro = self.macro
        compiled = macro.compiled()
        target = getattr(macro, "target", "feedback")
        config = self.config
        base_url = (config.get("base_url") if isinstance(config, Mapping)
                    else getattr(config, "base_url", None)) if config is not None else None
        schema = getattr(self.store, "schema", None)
        extra = frozenset(macro.field_names) | frozenset(getattr(schema, "extra_fields", ()) or ())
        # Names every context has (standard fields, computed tags, extra names): only
        # the template's other names depend on the record.
        known = set(build_context({}, target=target, base_url=base_url, extra_names=extra, now=""))
        known |= set(ENV.globals)
        dynamic = tuple(sorted(name for name in compiled.names if name not in known))
        return compiled, target, base_url, extra, dynamic


def _fix(rendered: RenderedRequest) -> Fixed:
    secrets = set(rendered.secrets)
    key = None
    signing_secret = getattr(rendered, "signing_secret", None)
    if signing_secret:
        secrets.add(signing_secret)
        key = signing.secret_key(signing_secret)
    masked = rendered.masked()
    host = urlsplit(rendered.url).hostname or ""
    if not host:
        raise MacroError(f"url: {masked['url']!r} has no host name.")
    headers = tuple(rendered.headers)
    return Fixed(
        rendered.method, rendered.url, headers, host, frozenset(secrets), key, masked["url"],
        masked["headers"], _as_dict(mask_headers(list(headers), secrets)),
        secret_variants(secrets),  # raw, percent-encoded, JSON-escaped, base64 user:pass
        any(name.lower() == "user-agent" for name, _ in headers),
    )


def _prepared(fixed: Fixed, body: str) -> Prepared:
    masked = {"method": fixed.method, "url": fixed.masked_url, "headers": fixed.masked_shown,
              "body": fixed.mask(body)}
    return Prepared(fixed.method, fixed.url, list(fixed.headers), body.encode("utf-8"), fixed.host,
                    fixed.secrets, masked, fixed.key, fixed.masked_headers, fixed)


def prepare(macro: Macro, record: dict, store: RecordSource | None = None, config: Config | None = None,
            environ: Mapping[str, str] = os.environ) -> Prepared:
    """Render ``macro`` for ``record``; raises the macros' TemplateError/SecretError.
    (A run uses one :class:`RequestFactory` for all its records.)"""
    return RequestFactory(macro, store, config, environ).prepare(record)


_last_second: list = [None, ""]


def iso_now() -> str:
    """``iso()`` of now, formatted at most once per second (``CCTUI_NOW`` honoured)."""
    return _stamp()[1]


def _stamp() -> tuple[int, str]:
    """(unix seconds, ISO 8601) of now for one attempt (``CCTUI_NOW`` honoured); the ISO
    text is formatted at most once per second (a run makes thousands of attempts a second)."""
    if os.environ.get("CCTUI_NOW"):
        moment = now()
        return int(moment.timestamp()), iso(moment)
    second = int(time.time())
    if _last_second[0] != second:
        _last_second[1] = iso(datetime.fromtimestamp(second, UTC))
        _last_second[0] = second
    return second, _last_second[1]


@dataclass
class AttemptResult:
    """What came back (or did not) for one attempt."""

    prepared: Prepared
    sent_headers: list[tuple[str, str]]
    started_at: str
    duration_ms: int
    status_code: int = 0
    error: str | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncated: bool = False
    #: The request could not be built or encoded (e.g. a non-ASCII header value): nothing
    #: was sent, and sending it again would fail the same way, so it is not retried.
    request_error: bool = False
    _json: Any = field(default=None, repr=False)
    _returned: tuple | None = field(default=None, repr=False)
    _text: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def text(self) -> str:
        """The response body, decoded and masked (once)."""
        if self._text is None:
            text = self.body.decode("utf-8", "replace")
            fixed = self.prepared.fixed
            self._text = fixed.mask(text) if fixed is not None else mask_text(text, self.prepared.secrets)
            if self.truncated:
                order = fixed.order if fixed is not None else secret_variants(self.prepared.secrets)
                self._text = mask_cut_end(self._text, order)
        return self._text

    def json_body(self) -> Any:
        """The response body as JSON, or None when it is not JSON."""
        if self._json is None and self.body[:1] in (b"{", b"["):
            try:
                self._json = json.loads(self.body)
            except ValueError:
                self._json = False
        return self._json or None

    def explanation(self, paused: bool = False) -> Explanation:
        if self.ok:
            return _ok_explanation(self.status_code)
        if self.request_error:
            return Explanation(NOT_SENT_REQUEST, f"No request was sent: {self.masked_error()}",
                               "Fix the macro (HTTP header values must be printable ASCII); not retried.")
        return explain(self.status_code, self.text, self.headers, self.error, paused=paused)

    def title(self, paused: bool = False) -> str:
        return self.explanation(paused).title

    def record_changes(self, macro: Macro) -> dict:
        """Fields to set on the record after a 2xx: ``return_values`` then ``on_success``.
        A return value holding a secret is left out (see :meth:`returned`)."""
        changes = dict(self.returned(macro)[0])
        changes.update(getattr(macro, "on_success", None) or {})
        return changes

    def returned(self, macro: Macro) -> tuple[dict, tuple[str, ...]]:
        """``(fields, refused)`` of the macro's ``return_values`` (see
        :func:`~cctui.delivery.returns.take_return_values`), worked out once per attempt."""
        if self._returned is None:
            paths = getattr(macro, "return_values", None) or {}
            self._returned = (take_return_values(paths, self.json_body(), self._mask())
                              if paths and self.ok else ({}, ()))
        return self._returned

    def _mask(self) -> Callable[[str], str]:
        fixed = self.prepared.fixed
        return fixed.mask if fixed is not None else (lambda text: mask_text(text, self.prepared.secrets))

    def masked_error(self) -> str | None:
        return self._mask()(self.error) if self.error else None

    def masked_headers(self) -> dict[str, str]:
        """The response headers with credentials masked (:func:`perform` masked them)."""
        return dict(self.headers)

    def _refused_error(self, macro: Macro) -> str | None:
        refused = self.returned(macro)[1] if self.ok and getattr(macro, "return_values", None) else ()
        if not refused:
            return None
        return (f"return_values: {', '.join(refused)} not stored: the response's value holds a "
                "secret of the request (delivered all the same).")

    def _ok_explained(self, macro: Macro) -> dict:
        """The explanation of a 2xx: delivered, plus any return value refused for
        holding a secret (named in the title, so ``cctui logs`` shows it)."""
        refused = self.returned(macro)[1] if getattr(macro, "return_values", None) else ()
        if not refused:
            return _ok_dict(self.status_code)
        names = ", ".join(refused)
        return {"title": f"{_ok_explanation(self.status_code).title}: return value {names} not stored "
                         "(it holds a secret)",
                "meaning": f"Delivered, but the response's value for {names} holds a secret sent with "
                           "the request, so it was not written to the record.",
                "action": "Point return_values at a field that does not echo the request's credentials."}

    def log_entry(self, state: _Run, record_id: str, delivery_id: str, attempt: int, paused: bool) -> dict:
        """One log entry: the contract's ``logs --json`` fields plus run_id, request_body,
        response_headers and explanation; everything masked."""
        p = self.prepared
        mask = self._mask()
        # The macro's headers were masked once per run; the rest (webhook-*, User-Agent)
        # carry no secret.
        request_headers = dict(p.masked_headers)
        for name, value in self.sent_headers[len(p.headers):]:
            request_headers[name] = value
        return {
            "id": f"{delivery_id}-{attempt}-{next(_SERIAL):x}",
            "delivery_id": delivery_id,
            "run_id": state.run_id,
            "macro": state.macro.name,
            "record_id": record_id,
            "trigger": state.trigger,
            "attempt": attempt,
            "method": p.method,
            "url": p.masked["url"],
            "status_code": self.status_code,
            "ok": self.ok,
            "error": mask(self.error) if self.error else self._refused_error(state.macro),
            "duration_ms": self.duration_ms,
            "started_at": self.started_at,
            "request_headers": request_headers,
            "request_body": p.masked.get("body", ""),
            "response_headers": self.headers,  # masked by perform()
            "response_body": self.text,
            "response_truncated": self.truncated,
            "explanation": self._ok_explained(state.macro) if self.ok else self.explanation(paused).to_dict(),
            **({"not_sent": True} if self.request_error else {}),
            **({"warning": p.fixed.warning} if p.fixed is not None and p.fixed.warning else {}),
        }


#: The log's explanation title for a record whose request was never built.
NOT_SENT_RENDER = "not sent: the template failed for this record"
#: ... and for a rendered request that could not be encoded (e.g. a non-ASCII header).
NOT_SENT_REQUEST = "not sent: the request could not be built"


def render_failure_entry(state: _Run, record_id: str, delivery_id: str, attempt: int, error: str) -> dict:
    """The log entry for a record whose request could not be rendered: no request went
    out (status 0, ``not_sent`` true), and ``cctui retry`` renders it again with the
    macro as it is then. Only masked parts of the run's request are kept."""
    macro = state.macro
    factory = getattr(state, "factory", None)
    fixed = next(iter(factory._fixed.values()), None) if factory is not None else None
    if fixed is not None:
        url, headers, error = fixed.masked_url, dict(fixed.masked_headers), fixed.mask(error)
    else:
        from cctui.macros.secrets import mask_url

        url, headers = mask_url(str(getattr(macro, "url", "") or "")), {}
    _, started_at = _stamp()
    return {
        "id": f"{delivery_id}-{attempt}-{next(_SERIAL):x}",
        "delivery_id": delivery_id,
        "run_id": state.run_id,
        "macro": macro.name,
        "record_id": record_id,
        "trigger": state.trigger,
        "attempt": attempt,
        "method": fixed.method if fixed is not None else str(getattr(macro, "method", "POST") or "POST"),
        "url": url,
        "status_code": 0,
        "ok": False,
        "error": error,
        "duration_ms": 0,
        "started_at": started_at,
        "request_headers": headers,
        "request_body": "",
        "response_headers": {},
        "response_body": "",
        "response_truncated": False,
        "not_sent": True,
        "explanation": {"title": NOT_SENT_RENDER, "meaning": f"No request was sent: {error}",
                        "action": f"Fix the macro (`cctui macro preview {macro.name} --item {record_id}` shows "
                                  "the error), then `cctui retry` renders and sends it again."},
    }


@lru_cache(maxsize=256)
def _sensitive(name: str) -> bool:
    from cctui.macros.secrets import is_sensitive_header

    return is_sensitive_header(name)


def _masked_response_headers(headers: dict[str, str], secrets: frozenset[str],
                             mask: Callable[[str], str]) -> dict[str, str]:
    """Response headers (names already unique) as the log keeps them: credentials masked."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        out[name] = mask_header_value(name, value, secrets) if _sensitive(name) else mask(value)
    return out


@lru_cache(maxsize=64)
def _ok_explanation(code: int) -> Explanation:
    return explain(code)


@lru_cache(maxsize=64)
def _ok_dict_cached(code: int) -> tuple:
    return tuple(_ok_explanation(code).to_dict().items())


def _ok_dict(code: int) -> dict:
    return dict(_ok_dict_cached(code))


def _as_dict(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _request_error(exc: Exception, headers: list[tuple[str, str]]) -> str:
    """One sentence for a request that could not be built, naming the header at fault
    (never its value: it may be a secret)."""
    for name, value in headers:
        if not name.isascii():
            return f"request not sent: the header name {name.encode('ascii', 'replace').decode()!r} " \
                   "has a non-ASCII character (header names must be ASCII)."
        if not value.isascii():
            return f"request not sent: the header {name!r} has a non-ASCII character in its value " \
                   "(HTTP header values must be printable ASCII)."
    if isinstance(exc, UnicodeError):
        return "request not sent: a part of the request could not be encoded (it must be ASCII)."
    return f"request not sent: {type(exc).__name__}: {exc}"


async def perform(sender: HttpSender, prepared: Prepared, delivery_id: str, timeout: float) -> AttemptResult:
    """Send one attempt with fresh ``webhook-*`` headers; never raises for network trouble."""
    stamp, started_at = _stamp()
    webhook = signing.webhook_headers(delivery_id, stamp, prepared.body, prepared.key)
    headers = prepared.headers + webhook
    fixed = prepared.fixed
    if not (fixed.has_user_agent if fixed is not None
            else any(name.lower() == "user-agent" for name, _ in prepared.headers)):
        headers.append(("User-Agent", USER_AGENT))  # here, not in the sender, so the log shows it
    # Host and Content-Length too: the log lists every header that went on the wire.
    headers += wire_headers(prepared.method, prepared.url, len(prepared.body))
    began = time.perf_counter()
    result = AttemptResult(prepared, headers, started_at, 0)
    try:
        if fixed is not None:
            response = await sender.send_prepared(prepared, headers, timeout)
        else:
            response = await sender.send(prepared.method, prepared.url, headers, prepared.body, timeout)
    except httpx.TransportError as exc:
        result.error = str(exc) or type(exc).__name__
    except (ValueError, OverflowError, httpx.InvalidURL) as exc:  # UnicodeEncodeError is a ValueError
        # Building or encoding the request failed: nothing went out, and it would fail
        # the same way again, so it is a permanent error, not a "no response".
        result.error = _request_error(exc, headers)
        result.request_error = True
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    else:
        result.status_code = response.status_code
        result.body = response.content
        plain = response.extensions.get(PLAIN_HEADERS)
        # names lowercased, repeats joined
        result.headers = plain if plain is not None else dict(response.headers.items())
        result.truncated = bool(response.extensions.get(TRUNCATED))
    result.duration_ms = int(round((time.perf_counter() - began) * 1000))
    # Mask here, once, what the server or the network said (a Location, an error
    # naming the URL): everything after this (explanation, events, the log, `send`
    # output, the pause reason) only ever sees the masked forms.
    mask = result._mask()
    if result.error:
        result.error = mask(result.error)
    if result.headers:
        result.headers = _masked_response_headers(result.headers, prepared.secrets, mask)
    return result
