"""A local webhook receiver for trying macros without touching Slack or Jira.

``cctui receiver`` prints each request and keeps the last ones; tests and ``cctui demo``
run it in a thread with :func:`serve_in_background`. What it answers:

- ``/status/<code>``: that status (``Location`` for 3xx, ``Retry-After: 1`` for 429/503;
  ``?retry_after=S`` sets another value);
- ``/slack/<error>``: Slack's answer for that error code (``/slack/channel_not_found``
  -> 404, ``/slack/archived`` -> 410 ``channel_is_archived``, ...); any other ``/slack/``
  path answers ``200 ok`` at most ``slack_rate`` per second, else 429 + ``Retry-After``;
  ``slack=True`` makes every path behave like ``/slack/``;
- ``/jira``: ``201 {"id", "key": "CC-<n>", "self"}`` like Jira's create-issue;
- ``/flaky/<n>``: 503 (``Retry-After: 0``) for the first n attempts of each webhook-id,
  then 200 (``?status=429&retry_after=999999`` changes the failing answer);
- ``/echo``: the request as received (headers unmasked), as JSON;
- ``/big/<bytes>``, ``/reset`` (connection dropped mid-response), ``/never`` (no answer);
- ``GET /_received``: what arrived, as JSON (credential headers and query parameters
  masked, as in what ``cctui receiver`` prints and keeps);
- anything else: ``status`` (default 200), failing a ``fail_rate`` share with 503, after
  ``delay`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from cctui.core.clock import iso

SENSITIVE = ("authorization", "cookie", "x-api-key", "token", "secret", "key", "password")
#: Query parameters whose values are credentials: names containing one of these words
#: (``token``, ``api_key``, ``access_token``, ``sig``, ``signature``, ``auth``...), or
#: exactly one of ``_SENSITIVE_PARAMS``.
_SENSITIVE_PARAM_WORDS = ("token", "secret", "key", "password", "passwd", "auth", "sig", "credential",
                          "session")
_SENSITIVE_PARAMS = frozenset({"code", "pass", "pwd", "pw"})
_AUTH_SCHEMES = frozenset({"basic", "bearer", "token", "bot", "digest", "apikey"})
_QUERY_PAIR = re.compile(r"([^=&;]+)=([^&;]*)")
MASK = "••••"
SLACK_ERRORS = {
    "invalid_payload": 400, "user_not_found": 400, "too_many_attachments": 400, "no_text": 400,
    "action_prohibited": 403, "invalid_token": 403, "posting_to_general_channel_denied": 403,
    "channel_not_found": 404, "no_service": 404, "channel_is_archived": 410, "archived": 410,
    "rollup_error": 500,
}


def _masked(name: str, value: str) -> str:
    """A header value as the receiver prints and keeps it: credentials masked, the
    Authorization scheme kept (``Bearer ••••``)."""
    lowered = name.lower()
    if not any(word in lowered for word in SENSITIVE):
        return value
    scheme, _, rest = value.strip().partition(" ")
    return f"{scheme} {MASK}" if rest and scheme.lower() in _AUTH_SCHEMES else MASK


def _sensitive_param(name: str) -> bool:
    lowered = unquote_plus(name).strip().lower()
    return lowered in _SENSITIVE_PARAMS or any(word in lowered for word in _SENSITIVE_PARAM_WORDS)


def masked_query(query: str) -> str:
    """A query string with credential-like parameter values masked (``token=••••``)."""
    if not query:
        return query
    return _QUERY_PAIR.sub(lambda m: f"{m.group(1)}={MASK}" if m.group(2) and _sensitive_param(m.group(1))
                           else m.group(0), query)


@dataclass
class Received:
    """One request as it arrived (credential headers and query parameters masked)."""

    at: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    status: int = 0

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def to_dict(self) -> dict:
        return {"at": self.at, "method": self.method, "path": self.path, "query": self.query,
                "headers": self.headers, "body": self.body, "status": self.status}

    def pretty(self) -> str:
        """How ``cctui receiver`` prints it: request line, headers, pretty JSON body."""
        lines = [f"{self.at}  {self.method} {self.path}{'?' + self.query if self.query else ''}  -> {self.status}"]
        lines += [f"  {k}: {v}" for k, v in self.headers.items()]
        data = self.json
        body = json.dumps(data, indent=2, ensure_ascii=False) if data is not None else self.body
        if body:
            lines += ["", *("  " + line for line in body.splitlines()), ""]
        return "\n".join(lines)


@dataclass
class Receiver:
    """State and behaviour of one receiver."""

    status: int = 200
    fail_rate: float = 0.0
    delay: float = 0.0
    slack: bool = False
    slack_rate: float = 1.0
    keep: int = 1000
    on_request: Callable[[Received], None] | None = None
    seed: int | None = None
    received: deque = field(default_factory=deque)
    by_webhook_id: Counter = field(default_factory=Counter)  # deliveries per webhook-id
    count: int = 0

    def __post_init__(self) -> None:
        self.received = deque(maxlen=self.keep)
        self._rng = random.Random(self.seed)
        self._slack_next = 0.0  # monotonic time the next Slack message is allowed
        self._jira = 0

    # -- answers --------------------------------------------------------------------------
    def _slack_answer(self, tail: str) -> tuple[int, str, dict]:
        tail = tail.strip("/").split("/")[-1] if tail.strip("/") else ""
        if tail in SLACK_ERRORS:
            code = "channel_is_archived" if tail == "archived" else tail
            return SLACK_ERRORS[tail], code, {}
        now = time.monotonic()
        if now < self._slack_next:
            wait = self._slack_next - now
            retry = str(math.ceil(wait)) if self.slack_rate <= 1 else f"{wait:.2f}"
            return 429, "rate_limited", {"Retry-After": retry}
        self._slack_next = now + 1.0 / self.slack_rate
        return 200, "ok", {}

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        path = request.path
        parts = [p for p in path.split("/") if p]
        head = parts[0] if parts else ""
        if head == "never":
            await asyncio.sleep(3600)
        if self.delay:
            await asyncio.sleep(self.delay)
        if head == "status" and len(parts) > 1 and parts[1].isdigit():
            code = int(parts[1])
            headers = {}
            if 300 <= code < 400:
                headers["Location"] = f"{request.scheme}://{request.host}/moved"
            if code in (429, 503):
                headers["Retry-After"] = request.query.get("retry_after", "1")
            return web.Response(status=code, text="" if code in (204, 304) else f"status {code}", headers=headers)
        if head == "slack" or self.slack:
            code, text, headers = self._slack_answer(path[len("/slack"):] if head == "slack" else path)
            return web.Response(status=code, text=text, headers=headers, content_type="text/plain")
        if head == "jira":
            self._jira += 1
            key = f"CC-{self._jira}"
            return web.json_response({"id": str(10000 + self._jira), "key": key,
                                      "self": f"http://{request.host}/rest/api/3/issue/{key}"}, status=201)
        if head == "flaky":
            limit = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 1
            seen = self.by_webhook_id[request.headers.get("webhook-id", "")]
            if seen <= limit:
                code = int(request.query.get("status", "503")) if request.query.get("status", "").isdigit() else 503
                return web.Response(status=code, text="try again",
                                    headers={"Retry-After": request.query.get("retry_after", "0")})
            return web.Response(text="ok")
        if head == "echo":
            # Reflects the request as received, secrets included: a stand-in for receivers
            # that echo credentials back, so tests can prove cctui masks responses too.
            return web.json_response({"headers": dict(request.headers), "body": body.decode("utf-8", "replace"),
                                      "path": request.path_qs})
        if head == "big" and len(parts) > 1 and parts[1].isdigit():
            return web.Response(body=b"x" * int(parts[1]), content_type="text/plain")
        if head == "reset":
            response = web.StreamResponse(status=200, headers={"Content-Length": "100000"})
            await response.prepare(request)
            await response.write(b"partial")
            if request.transport is not None:
                request.transport.close()  # drop the connection mid-body
            return response
        if self.fail_rate and self._rng.random() < self.fail_rate:
            return web.Response(status=503, text="unavailable (simulated)", headers={"Retry-After": "1"})
        if self.status == 200:
            return web.Response(text="ok")
        return web.Response(status=self.status, text=f"status {self.status}")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path == "/_received":
            return web.json_response([r.to_dict() for r in self.received])
        body = await request.read()
        item = Received(iso(), request.method, request.path, masked_query(request.query_string),
                        {str(k): _masked(k, v) for k, v in request.headers.items()},
                        body.decode("utf-8", "replace"))
        self.count += 1
        webhook_id = request.headers.get("webhook-id")
        if webhook_id:
            self.by_webhook_id[webhook_id] += 1
        self.received.append(item)
        response = await self.answer(request, body)
        item.status = response.status
        if self.on_request is not None:
            self.on_request(item)
        return response


RECEIVER = web.AppKey("receiver", Receiver)


def make_receiver_app(**options: Any) -> web.Application:
    """An aiohttp app answering every path (see the module docstring for behaviours);
    ``app[RECEIVER]`` is its :class:`Receiver`."""
    receiver = options.pop("receiver", None) or Receiver(**options)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[RECEIVER] = receiver
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    return app


class _Stop:
    """Stops a background receiver; ``stop.receiver`` is its :class:`Receiver`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, runner: web.AppRunner, thread: threading.Thread,
                 receiver: Receiver) -> None:
        self._loop, self._runner, self._thread, self.receiver = loop, runner, thread, receiver

    def __call__(self) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            future.result(timeout=5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


def serve_in_background(host: str = "127.0.0.1", port: int = 0, **options: Any) -> tuple[str, _Stop]:
    """Start a receiver on its own thread and loop; returns ``(base_url, stop)``."""
    app = make_receiver_app(**options)
    loop = asyncio.new_event_loop()
    ready: dict = {}
    started = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port, reuse_address=True)
            loop.run_until_complete(site.start())
            ready["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready["runner"] = runner
        except BaseException as exc:  # e.g. the port is taken: report it to the caller
            ready["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=main, name="cctui-receiver", daemon=True)
    thread.start()
    started.wait(10)
    if "error" in ready:
        raise ready["error"]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{ready['port']}", _Stop(loop, ready["runner"], thread, app[RECEIVER])
