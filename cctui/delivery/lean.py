"""A lean HTTP/1.1 client transport behind httpx's seam (``httpx.AsyncBaseTransport``).

Why it exists: at thousands of requests per second the CPU that the event loop spends per
request is what limits a bulk send, and aiohttp's ``ClientSession.request`` alone costs
about 90 µs per request (tracing hooks, cookie handling, timers, its stream objects).
This transport does only what a webhook sender needs, on an :class:`asyncio.Protocol`:

* one keep-alive pool per (scheme, host, port); HTTP and HTTPS (``ssl`` with a default,
  verifying context; or the one given);
* the request written with one ``transport.write``; the response parsed from bytes by a
  small hand-written parser (status line, headers, then a body delimited by
  ``Content-Length``, ``chunked`` or the connection closing; none for HEAD, 1xx, 204 and
  304); ``Connection: close`` honoured both ways;
* a response body kept up to ``body_limit`` bytes: past it the connection is closed
  rather than read to the end (and not pooled), and the response is marked truncated;
* one timer per request for the total time, and the connect timeout while connecting;
* a pooled connection that the server closed while it was idle is skipped when seen,
  and a reused connection that fails before any byte of the answer arrived is retried
  once on a fresh connection (the usual keep-alive race), so it never shows as a failed
  delivery;
* errors raised as httpx exceptions (``ConnectError``, ``ConnectTimeout``,
  ``ReadTimeout``, ``RemoteProtocolError``, ``ReadError``) with plain-words text that
  :mod:`cctui.delivery.explain` understands.

Redirects are never followed (a 3xx is returned as it is). The per-connection protocol
and response parser live in :mod:`cctui.delivery.http1`; this module is the pool, the
timers and the httpx glue.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import zlib
from typing import Any

import httpx

from cctui.delivery.http1 import _Connection, _NoAnswer

BODY_LIMIT = 64 * 1024
TRUNCATED = "truncated"
#: Response extension: the headers as a plain dict of str (names lowercased, repeats
#: joined), when the transport already has them decoded.
PLAIN_HEADERS = "cctui_headers"
#: A pooled connection idle longer than this is closed instead of reused.
IDLE_EXPIRY = 15.0

_HTTP11 = {"http_version": b"HTTP/1.1"}


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio with a keep-alive pool per (scheme, host, port).

    ``limit`` caps the idle connections kept per origin (a run's concurrency already
    bounds how many are open at once). ``ssl_context`` replaces the default verifying
    context (tests use it to trust a self-signed certificate).

    The request's ``extensions["timeout"]`` (httpx's dict) gives ``connect`` and ``read``;
    ``read`` is used as the total time for the attempt, as in :class:`AiohttpTransport`.
    """

    enforces_timeout = True  # HttpSender needs no second timer around it

    def __init__(self, limit: int = 100, body_limit: int = BODY_LIMIT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.limit = limit
        self.body_limit = body_limit
        self._ssl = ssl_context
        self._idle: dict[tuple, list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._targets: dict[Any, tuple] = {}
        self._closed = False

    # -- the seam ----------------------------------------------------------------------
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        url_text = request.extensions.get("cctui_url")
        target = self._targets.get(url_text) if url_text is not None else None
        if target is None:
            target = self._target(request.url)
            if url_text is not None and len(self._targets) < 512:
                self._targets[url_text] = target
        key, path = target
        timeout = request.extensions.get("timeout") or {}
        total = timeout.get("read")
        connect = timeout.get("connect")
        try:
            content = request.content
        except httpx.RequestNotRead:
            content = await request.aread()
        method = request.method.encode("ascii")
        close = False
        parts = [method, b" ", path, b" HTTP/1.1\r\n"]
        has_length = False
        for name, low, value in request.headers._list:  # httpx's (name, lowercased, value)
            if low == b"connection":
                if b"close" in value.lower():
                    close = True
            elif low == b"content-length":
                has_length = True
            elif low == b"transfer-encoding":
                continue  # the body is sent whole, with a Content-Length
            parts += (name, b": ", value, b"\r\n")
        if not has_length and (content or method in (b"POST", b"PUT", b"PATCH")):
            parts += (b"Content-Length: ", str(len(content)).encode(), b"\r\n")
        parts += (b"\r\n", content)
        payload = b"".join(parts)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + total if total else None
        conn = self._pooled(key, loop)
        reused = conn is not None
        try:
            while True:
                if conn is None:
                    conn = await self._connect(key, connect, total, deadline, loop, request)
                try:
                    answer = await self._exchange(conn, payload, method, close, deadline, total, loop)
                    break
                except _NoAnswer as exc:
                    self._busy.discard(conn)
                    if reused:  # a stale keep-alive connection: once more on a fresh one
                        reused = False
                        conn = None
                        continue
                    raise httpx.RemoteProtocolError(
                        "connection reset: the server closed the connection before answering"
                        + (f" ({exc.args[0]})" if exc.args and exc.args[0] else "")) from None
        except httpx.TransportError as exc:
            exc.request = request
            raise
        status, reason, headers, body, truncated, ascii = answer
        self._release(conn, loop)
        extensions = dict(_HTTP11)
        if reason:
            extensions["reason_phrase"] = reason
        if truncated:
            extensions[TRUNCATED] = True
        plain = {}
        for _, low, value in headers:
            if low == b"content-encoding":
                body, headers, more = _decoded(body, headers, self.body_limit, value)
                if more:
                    extensions[TRUNCATED] = True
                plain = None
                break
            if ascii:
                name = low.decode("ascii")
                plain[name] = f"{plain[name]}, {value.decode('ascii')}" if name in plain else value.decode("ascii")
        if plain is not None and ascii:
            # The headers as dict(response.headers.items()) gives them (names lowercased,
            # repeats joined), so the caller need not decode them a second time.
            extensions[PLAIN_HEADERS] = plain
        response = httpx.Response(status, headers=make_headers(headers, "ascii" if ascii else None),
                                  stream=httpx.ByteStream(body), request=request, extensions=extensions)
        response._content = body  # already read (as AiohttpTransport does); httpx is pinned
        return response

    async def _exchange(self, conn: _Connection, payload: bytes, method: bytes, close: bool,
                        deadline, total, loop) -> tuple:
        waiter = loop.create_future()
        conn.start(method, close, waiter)
        self._busy.add(conn)
        timer = loop.call_at(deadline, _expire, conn, waiter, total) if deadline is not None else None
        try:
            conn.transport.write(payload)
            return await waiter
        except asyncio.CancelledError:
            conn._fail(httpx.ReadError("cancelled"))
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if conn.closed:
                self._busy.discard(conn)

    def _pooled(self, key: tuple, loop) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        now = loop.time()
        while idle:
            conn = idle.pop()
            transport = conn.transport
            if conn.closed or transport.is_closing() or now - conn.idle_since > IDLE_EXPIRY:
                conn.closed = True
                transport.close()
                continue
            return conn
        return None

    def _release(self, conn: _Connection, loop) -> None:
        self._busy.discard(conn)
        if conn.closed or not conn.reusable or self._closed:
            if not conn.closed:
                conn.closed = True
                conn.transport.close()
            return
        idle = self._idle.get(conn.key)
        if idle is None:
            idle = self._idle[conn.key] = []
        if len(idle) >= self.limit:
            conn.closed = True
            conn.transport.close()
            return
        conn.idle_since = loop.time()
        idle.append(conn)

    async def _connect(self, key: tuple, connect, total, deadline, loop, request) -> _Connection:
        scheme, host, port = key
        where = f"{host}:{port}"
        limit = connect
        if deadline is not None:
            left = deadline - loop.time()
            limit = left if limit is None else min(limit, left)
        context = None
        if scheme == "https":
            context = self._ssl
            if context is None:
                context = self._ssl = ssl.create_default_context()
        body_limit = self.body_limit
        try:
            async with asyncio.timeout(limit):
                _, conn = await loop.create_connection(
                    lambda: _Connection(key, body_limit), host, port, ssl=context,
                    server_hostname=host if context is not None else None)
        except TimeoutError:
            shown = connect if connect is not None and (total is None or connect <= total) else total
            raise httpx.ConnectTimeout(f"connect to {where} timed out after {shown:g} s",
                                       request=request) from None
        except ssl.SSLError as exc:
            reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
            raise httpx.ConnectError(f"TLS handshake with {where} failed: {reason}", request=request) from exc
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError(f"connection refused by {where}", request=request) from exc
        except socket.gaierror as exc:
            raise httpx.ConnectError(f"DNS lookup failed for {host}: {exc.strerror or exc}",
                                     request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {where}: {exc.strerror or exc}",
                                     request=request) from exc
        return conn

    @staticmethod
    def _target(url: httpx.URL) -> tuple:
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r} (http or https only)")
        host = url.host
        if not host:
            raise httpx.UnsupportedProtocol(f"URL {url} has no host")
        port = url.port or (443 if scheme == "https" else 80)
        return (scheme, host, port), url.raw_path or b"/"

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.closed = True
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()
        for conn in list(self._busy):
            conn._fail(httpx.ReadError("the transport was closed"))
        self._busy.clear()


def _expire(conn: _Connection, waiter: asyncio.Future, total) -> None:
    if not waiter.done():
        conn._fail(httpx.ReadTimeout(f"timed out after {total:g} s"))


def make_headers(triples: list, encoding: str | None = None) -> httpx.Headers:
    """An ``httpx.Headers`` from its own (name, lowercased name, value) byte triples,
    without normalising each header again (several µs per request; httpx is pinned)."""
    headers = httpx.Headers.__new__(httpx.Headers)
    headers._list = triples
    headers._encoding = encoding
    return headers


def _decoded(body: bytes, headers: list, limit: int, coding: bytes) -> tuple[bytes, list, bool]:
    """Undo gzip/deflate (cctui asks for none, a server may send it anyway); the header is
    dropped so nothing decodes twice. An unknown coding is left as it came."""
    coding = coding.strip().lower()
    if coding not in (b"gzip", b"deflate", b"x-gzip"):
        return body, headers, False
    try:
        decoder = zlib.decompressobj(47)  # gzip or zlib header, detected
        out = decoder.decompress(body, limit + 1)
    except zlib.error:
        try:
            decoder = zlib.decompressobj(-15)  # raw deflate
            out = decoder.decompress(body, limit + 1)
        except zlib.error:
            return body, headers, False
    more = len(out) > limit
    headers = [h for h in headers if h[1] not in (b"content-encoding", b"content-length")]
    return out[:limit], headers, more
