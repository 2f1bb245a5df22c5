"""One record's request (rendered once, masked once) and one attempt at sending it.

The engine decides what to do next; this module only prepares, sends, measures and turns
the outcome into a log entry in which no secret appears in clear.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx

from cctui.core.clock import iso, now
from cctui.delivery import signing
from cctui.delivery.explain import Explanation, explain
from cctui.delivery.transport import TRUNCATED, USER_AGENT, HttpSender
from cctui.errors import MacroError

try:  # the macros package owns masking; keep working if a helper moves
    from cctui.macros.secrets import mask_headers, mask_text, mask_url
except ImportError:  # pragma: no cover - depends on another area's layout
    from cctui.macros import mask_headers, mask_text  # type: ignore

    def mask_url(url, secrets=()):  # type: ignore
        return mask_text(url, secrets)


# Attempt ids: the delivery id and attempt number are unique except when a resumed run
# repeats an attempt number; a per-process random start + counter separates those.
_SERIAL = itertools.count(int.from_bytes(os.urandom(4), "big"))


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


def prepare(macro, record: dict, store=None, config=None, environ=os.environ) -> Prepared:
    """Render ``macro`` for ``record``; raises the macros' TemplateError/SecretError."""
    try:
        from cctui.macros import render_request
    except ImportError:  # the package may not re-export it
        from cctui.macros.request import render_request

    rendered = render_request(macro, record, store=store, config=config, environ=environ)
    secrets = set(rendered.secrets)
    key = None
    signing_secret = getattr(rendered, "signing_secret", None)
    if signing_secret:
        secrets.add(signing_secret)
        key = signing.secret_key(signing_secret)
    masked = rendered.masked()
    if secrets - set(rendered.secrets):
        masked = {**masked, "body": mask_text(masked.get("body", ""), secrets)}
    host = urlsplit(rendered.url).hostname or ""
    if not host:
        raise MacroError(f"url: {masked['url']!r} has no host name.")
    headers = list(rendered.headers)
    return Prepared(rendered.method, rendered.url, headers, rendered.body.encode("utf-8"), host,
                    frozenset(secrets), masked, key, _as_dict(mask_headers(headers, secrets)))


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
    _json: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def text(self) -> str:
        return mask_text(self.body.decode("utf-8", "replace"), self.prepared.secrets)

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
        return explain(self.status_code, self.text, self.headers, self.error, paused=paused)

    def title(self, paused: bool = False) -> str:
        return self.explanation(paused).title

    def record_changes(self, macro) -> dict:
        """Fields to set on the record after a 2xx: ``return_values`` then ``on_success``."""
        changes: dict = {}
        paths = getattr(macro, "return_values", None) or {}
        if paths:
            data = self.json_body()
            for record_field, path in paths.items():
                found, value = json_path(data, path)
                if found:
                    changes[record_field] = value
        changes.update(getattr(macro, "on_success", None) or {})
        return changes

    def log_entry(self, state, record_id: str, delivery_id: str, attempt: int, paused: bool) -> dict:
        """One log entry: the contract's ``logs --json`` fields plus run_id, request_body,
        response_headers and explanation; everything masked."""
        p = self.prepared
        secrets = p.secrets
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
            "error": mask_text(self.error, secrets) if self.error else None,
            "duration_ms": self.duration_ms,
            "started_at": self.started_at,
            # The macro's headers were masked once in prepare(); the rest (webhook-*,
            # User-Agent) carry no secret.
            "request_headers": {**p.masked_headers, **dict(self.sent_headers[len(p.headers):])},
            "request_body": p.masked.get("body", ""),
            "response_headers": _as_dict(mask_headers(list(self.headers.items()), secrets)),
            "response_body": self.text,
            "response_truncated": self.truncated,
            "explanation": _ok_dict(self.status_code) if self.ok else self.explanation(paused).to_dict(),
        }


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


def json_path(data: Any, path: str) -> tuple[bool, Any]:
    """Follow ``"data.id"`` or ``"items.0.key"`` into JSON; (found, value)."""
    current = data
    for part in str(path).split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


async def perform(sender: HttpSender, prepared: Prepared, delivery_id: str, timeout: float) -> AttemptResult:
    """Send one attempt with fresh ``webhook-*`` headers; never raises for network trouble."""
    moment = now()
    stamp = int(moment.timestamp())
    headers = prepared.headers + signing.webhook_headers(delivery_id, stamp, prepared.body, prepared.key)
    if not any(name.lower() == "user-agent" for name, _ in prepared.headers):
        headers.append(("User-Agent", USER_AGENT))  # here, not in the sender, so the log shows it
    started_at = iso(moment)
    began = time.perf_counter()
    result = AttemptResult(prepared, headers, started_at, 0)
    try:
        response = await sender.send(prepared.method, prepared.url, headers, prepared.body, timeout)
    except httpx.TransportError as exc:
        result.error = str(exc) or type(exc).__name__
    except (ValueError, OSError) as exc:  # e.g. a URL that httpx refuses outright
        result.error = f"{type(exc).__name__}: {exc}"
    else:
        result.status_code = response.status_code
        result.body = response.content
        result.headers = {k.lower(): v for k, v in response.headers.items()}
        result.truncated = bool(response.extensions.get(TRUNCATED))
    result.duration_ms = int(round((time.perf_counter() - began) * 1000))
    return result
