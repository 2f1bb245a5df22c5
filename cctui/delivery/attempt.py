"""One attempt at sending a prepared request (:mod:`cctui.delivery.prepared`).

The engine decides what to do next; this module only sends, measures and turns the
outcome into a log entry in which no secret appears in clear.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpx

from cctui import USER_AGENT
from cctui.delivery.explain import Explanation, explain
from cctui.delivery.prepared import Prepared, stamp
from cctui.delivery.returns import take_return_values
from cctui.delivery.transport import HttpSender
from cctui.macros import signing
from cctui.macros.secrets import MASK, mask_cut_end, mask_header_value, secret_variants
from cctui.macros.wire import wire_headers

if TYPE_CHECKING:
    from cctui.delivery.worker import RunState
    from cctui.macros.model import Macro

# Attempt ids: the delivery id and attempt number are unique except when a resumed run
# repeats an attempt number; a per-process random start + counter separates those.
_SERIAL = itertools.count(int.from_bytes(os.urandom(4), "big"))


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
            self._text = fixed.mask(text)
            if self.truncated:
                self._text = mask_cut_end(self._text, fixed.order)
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
            error = self.masked_error() or ""
            # The ASCII hint only where it is the cause: other build errors have their own words.
            hint = " (HTTP header values must be printable ASCII)" if "ASCII" in error else ""
            return Explanation(NOT_SENT_REQUEST, f"No request was sent: {error}",
                               f"Fix the macro{hint}; not retried.")
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
        return self.prepared.fixed.mask

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

    def log_entry(self, state: RunState, record_id: str, delivery_id: str, attempt: int, paused: bool) -> dict:
        """One log entry: the contract's ``logs --json`` fields plus run_id, request_body,
        response_headers and explanation; everything masked."""
        p = self.prepared
        mask = self._mask()
        # The macro's headers were masked once per run; the rest (webhook-*, User-Agent)
        # carry no secret.
        request_headers = dict(p.masked_headers)
        for name, value in self.sent_headers[len(p.fixed.headers):]:
            request_headers[name] = value
        if p.fixed.proxy_header is not None:
            request_headers["Proxy-Authorization"] = f"Basic {MASK}"  # a credential: never in clear
        return {
            **entry_head(state, record_id, delivery_id, attempt),
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
            **({"warning": p.fixed.warning} if p.fixed.warning else {}),
        }


def entry_head(state: RunState, record_id: str, delivery_id: str, attempt: int) -> dict:
    """The fields that open every log entry, sent or not: which attempt of which
    delivery, in which run."""
    return {"id": f"{delivery_id}-{attempt}-{next(_SERIAL):x}", "delivery_id": delivery_id,
            "run_id": state.run_id, "macro": state.macro.name, "record_id": record_id,
            "trigger": state.trigger, "attempt": attempt}


#: The log's explanation title for a record whose request was never built.
NOT_SENT_RENDER = "not sent: the template failed for this record"
#: ... and for a rendered request that could not be encoded (e.g. a non-ASCII header).
NOT_SENT_REQUEST = "not sent: the request could not be built"


def render_failure_entry(state: RunState, record_id: str, delivery_id: str, attempt: int, error: str) -> dict:
    """The log entry for a record whose request could not be rendered: no request went
    out (status 0, ``not_sent`` true), and ``cctui retry`` renders it again with the
    macro as it is then. Only masked parts of the run's request are kept."""
    macro = state.macro
    fixed = state.factory.fixed if state.factory is not None else None
    if fixed is not None:
        url, headers, error = fixed.masked_url, dict(fixed.masked_headers), fixed.mask(error)
        # Header values with ((tags)) in ``fixed`` are another record's: this record's
        # were never rendered, so the log shows the macro's template for them.
        for name, value in getattr(macro, "header_list", ()):
            if name in headers and ("((" in value or "{%" in value):
                headers[name] = mask_header_value(name, value)
    else:
        url, headers = "", {}
    if fixed is None or getattr(state.factory, "url_per_record", False):
        # The run's URL is another record's when it has tags: show the template instead.
        from cctui.macros.secrets import mask_url

        url = mask_url(str(getattr(macro, "url", "") or ""), fixed.secrets if fixed is not None else ())
    _, started_at = stamp()
    return {
        **entry_head(state, record_id, delivery_id, attempt),
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
    """Response headers (names already unique) as the log keeps them: credentials masked,
    in names too (a server may echo a secret into one: ``X-Seen-<token>``, which the log
    keeps lowercased)."""
    out: dict[str, str] = {}
    lowered = _lowered(secret_variants(secrets)) if secrets else ()
    for name, value in headers.items():
        shown = mask_header_value(name, value, secrets) if _sensitive(name) else mask(value)
        for secret in lowered:
            if secret in name:
                name = name.replace(secret, MASK)
        out[name] = shown
    return out


@lru_cache(maxsize=64)
def _lowered(variants: tuple[str, ...]) -> tuple[str, ...]:
    # Header names are tokens: only a variant that could be one can appear in a name.
    return tuple(dict.fromkeys(v.lower() for v in variants if v.isascii() and len(v) >= 4 and " " not in v))


@lru_cache(maxsize=64)
def _ok_explanation(code: int) -> Explanation:
    return explain(code)


@lru_cache(maxsize=64)
def _ok_dict_cached(code: int) -> tuple:
    return tuple(_ok_explanation(code).to_dict().items())


def _ok_dict(code: int) -> dict:
    return dict(_ok_dict_cached(code))


def _request_error(exc: Exception, headers: list[tuple[str, str]], secrets: Iterable[str] = ()) -> str:
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
    # A URL parser quotes the piece it chokes on ("Invalid port: 'pass'"): from a
    # ${VAR} password holding a "/" or "?", that piece is part of the secret.
    text = re.sub(r"'([^']*)'", lambda m: f"'{MASK}'" if m.group(1) and any(m.group(1) in s for s in secrets)
                  else m.group(0), str(exc))
    return f"request not sent: {type(exc).__name__}: {text}"


async def perform(sender: HttpSender, prepared: Prepared, delivery_id: str, timeout: float) -> AttemptResult:
    """Send one attempt with fresh ``webhook-*`` headers; never raises for network trouble."""
    seconds, started_at = stamp()
    webhook = signing.webhook_headers(delivery_id, seconds, prepared.body, prepared.key)
    headers = prepared.headers + webhook
    if not prepared.fixed.has_user_agent:
        headers.append(("User-Agent", USER_AGENT))  # here, not in the sender, so the log shows it
    # Host and Content-Length too: the log lists every header that went on the wire.
    headers += wire_headers(prepared.method, prepared.url, len(prepared.body))
    if prepared.fixed.proxy_header is not None:
        headers.append(prepared.fixed.proxy_header)
    began = time.perf_counter()
    result = AttemptResult(prepared, headers, started_at, 0)
    try:
        response = await sender.send_prepared(prepared, headers, timeout)
    except httpx.TransportError as exc:
        result.error = str(exc) or type(exc).__name__
    except (ValueError, OverflowError, httpx.InvalidURL) as exc:  # UnicodeEncodeError is a ValueError
        # Building or encoding the request failed: nothing went out, and it would fail
        # the same way again, so it is a permanent error, not a "no response".
        result.error = _request_error(exc, headers, prepared.secrets)
        result.request_error = True
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    else:
        result.status_code = response.status_code
        result.body = response.content
        result.headers = response.headers  # names lowercased, repeats joined
        result.truncated = response.truncated
        if response.problem is not None:
            # The receiver answered: the status decides; the body's trouble is noted.
            result.error = f"{response.status_code} came back, but its body could not be read: {response.problem}"
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
