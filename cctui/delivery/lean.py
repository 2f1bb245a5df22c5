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

Redirects are never followed (a 3xx is returned as it is).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import zlib
from typing import Any

import httpx

BODY_LIMIT = 64 * 1024
TRUNCATED = "truncated"
#: Response extension: the headers as a plain dict of str (names lowercased, repeats
#: joined), when the transport already has them decoded.
PLAIN_HEADERS = "cctui_headers"
#: Longest response head (status line + headers) accepted.
HEAD_LIMIT = 64 * 1024
#: A pooled connection idle longer than this is closed instead of reused.
IDLE_EXPIRY = 15.0

_NO_BODY_METHODS = frozenset((b"HEAD",))
_HTTP11 = {"http_version": b"HTTP/1.1"}


class _NoAnswer(Exception):
    """The connection ended before any byte of the answer (retryable on a reused one)."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: writes a request, parses one response at a time."""

    __slots__ = ("transport", "key", "body_limit", "closed", "idle_since", "reusable", "_waiter",
                 "_buf", "_head_done", "_status", "_reason", "_headers", "_mode", "_remaining",
                 "_chunks", "_size", "_got_any", "_no_body", "_close_after", "_chunk_state",
                 "_truncated", "_version", "_ascii")

    def __init__(self, key: tuple, body_limit: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.key = key
        self.body_limit = body_limit
        self.closed = False  # EOF or connection lost seen: never reuse
        self.idle_since = 0.0
        self.reusable = True
        self._waiter: asyncio.Future | None = None

    # -- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection is unusable
            self.closed = True
            self.transport.close()
            return
        self._got_any = True
        try:
            if not self._head_done:
                buf = self._buf
                if buf:
                    buf += data
                    data = buf
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    if len(data) > HEAD_LIMIT:
                        raise httpx.RemoteProtocolError("bad response: header section too large")
                    self._buf = data if isinstance(data, bytearray) else bytearray(data)
                    return
                self._buf = b""
                rest = self._parse_head(data, end)
                if rest is None:  # a 1xx answer: the real one follows
                    return
                data = rest
            self._feed(data)
        except httpx.TransportError as exc:
            self._fail(exc)

    def eof_received(self):
        self._lost(None)
        return False

    def connection_lost(self, exc) -> None:
        self._lost(exc)

    # -- one request -------------------------------------------------------------------
    def start(self, method: bytes, close: bool, waiter: asyncio.Future) -> None:
        self._waiter = waiter
        self._buf = b""
        self._head_done = False
        self._got_any = False
        self._chunks = []
        self._size = 0
        self._truncated = False
        self._no_body = method in _NO_BODY_METHODS
        self._close_after = close

    def _parse_head(self, data, end: int):
        head = bytes(data[:end])
        rest = data[end + 4:]
        lines = head.split(b"\r\n")
        status_line = lines[0]
        parts = status_line.split(b" ", 2)
        try:
            version = parts[0]
            if not version.startswith(b"HTTP/1."):
                raise ValueError
            status = int(parts[1])
            if not 100 <= status <= 999:
                raise ValueError
        except (ValueError, IndexError):
            raise httpx.RemoteProtocolError(
                f"bad response: malformed status line {status_line[:80]!r}") from None
        headers = []  # httpx.Headers' own triples: (name, lowercased name, value)
        length = None
        chunked = False
        close = self._close_after or version == b"HTTP/1.0"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name[-1:] in (b" ", b"\t"):
                raise httpx.RemoteProtocolError(f"bad response: malformed header line {line[:80]!r}")
            value = value.strip()
            low = name.lower()
            headers.append((name, low, value))
            if low == b"content-length":
                try:
                    found = int(value)
                    if found < 0:
                        raise ValueError
                except ValueError:
                    raise httpx.RemoteProtocolError(f"bad response: Content-Length {value[:40]!r}") from None
                if length is not None and length != found:
                    raise httpx.RemoteProtocolError("bad response: conflicting Content-Length headers")
                length = found
            elif low == b"transfer-encoding":
                chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
                if not chunked:
                    length = -1  # another coding: the body ends when the connection does
            elif low == b"connection":
                tokens = value.lower()
                if b"close" in tokens:
                    close = True
                elif b"keep-alive" in tokens and version == b"HTTP/1.0":
                    close = False
        if status < 200:  # 1xx (100 Continue, 103 Early Hints): wait for the real answer
            if status == 101:
                raise httpx.RemoteProtocolError("bad response: unexpected 101 Switching Protocols")
            if rest:
                end = rest.find(b"\r\n\r\n")
                if end >= 0:
                    return self._parse_head(rest, end)
            self._buf = bytearray(rest)
            return None
        self._head_done = True
        self._status = status
        self._reason = parts[2] if len(parts) > 2 else b""
        self._headers = headers
        self._version = version
        self._ascii = head.isascii()
        self.reusable = not close
        if self._no_body or status in (204, 304):
            self._mode = 0  # no body
        elif chunked:
            self._mode = 2
            self._chunk_state = 0  # 0: size line, 1: data, 2: CRLF after data, 3: trailers
            self._remaining = 0
            self._buf = b""
        elif length is not None and length >= 0:
            self._mode = 1
            self._remaining = length
            if length > self.body_limit:
                self.reusable = False  # we stop at the cap and close
        else:
            self._mode = 3  # until the connection closes
            self.reusable = False
        return rest

    def _feed(self, data) -> None:
        mode = self._mode
        if mode == 1:
            remaining = self._remaining
            n = len(data)
            if n >= remaining:
                if n > remaining:
                    self.reusable = False  # bytes after the response: do not trust this connection
                self._keep(data[:remaining] if n > remaining else data)
                if not self._truncated:
                    self._finish()
                return
            self._remaining = remaining - n
            self._keep(data)
            return
        if mode == 0:
            if data:
                self.reusable = False
            self._finish()
            return
        if mode == 3:
            if data:
                self._keep(data)
            return
        self._feed_chunked(data)

    def _feed_chunked(self, data) -> None:
        buf = self._buf
        if buf:
            buf += data
            data = buf
        pos = 0
        size = len(data)
        while True:
            state = self._chunk_state
            if state == 1:
                take = min(self._remaining, size - pos)
                if take:
                    self._keep(data[pos:pos + take])
                    if self._truncated:
                        return
                    pos += take
                    self._remaining -= take
                if self._remaining:
                    self._buf = b""
                    return
                self._chunk_state = 2
                continue
            if state == 2:
                if size - pos < 2:
                    break
                if data[pos:pos + 2] != b"\r\n":
                    raise httpx.RemoteProtocolError("bad response: chunk not followed by CRLF")
                pos += 2
                self._chunk_state = 0
                continue
            end = data.find(b"\r\n", pos)
            if end < 0:
                if size - pos > 4096:
                    raise httpx.RemoteProtocolError("bad response: chunk header too long")
                break
            line = data[pos:end]
            pos = end + 2
            if state == 3:  # trailers, until an empty line
                if not line:
                    if pos < size:
                        self.reusable = False
                    self._finish()
                    return
                continue
            try:
                length = int(bytes(line).split(b";", 1)[0].strip(), 16)
                if length < 0:
                    raise ValueError
            except ValueError:
                raise httpx.RemoteProtocolError(f"bad response: chunk size {bytes(line)[:40]!r}") from None
            if length == 0:
                self._chunk_state = 3
            else:
                self._chunk_state = 1
                self._remaining = length
        self._buf = bytearray(data[pos:]) if pos < size else b""

    def _keep(self, data) -> None:
        """Keep body bytes up to the cap; past it, finish truncated and drop the connection."""
        room = self.body_limit + 1 - self._size
        if len(data) >= room:
            self._chunks.append(bytes(data[:room]))
            self._size += room
            self._truncated = True
            self.reusable = False
            self._finish()
            return
        self._chunks.append(data)
        self._size += len(data)

    def _finish(self) -> None:
        waiter = self._waiter
        self._waiter = None
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if type(body) is not bytes:
            body = bytes(body)
        truncated = self._truncated
        if truncated:
            body = body[: self.body_limit]
        if not self.reusable:
            self.closed = True
            self.transport.close()
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, self._reason, self._headers, body, truncated, self._ascii))

    def _fail(self, exc: BaseException) -> None:
        self.closed = True
        self.reusable = False
        waiter = self._waiter
        self._waiter = None
        if self.transport is not None:
            self.transport.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _lost(self, exc) -> None:
        self.closed = True
        self.reusable = False
        if self._waiter is None:
            return
        if self._head_done and self._mode == 3:  # the body was delimited by the close
            self._finish()
            return
        if not self._got_any:
            self._fail(_NoAnswer(exc))
            return
        if self._head_done:
            got = self._size
            expected = f" of {self._remaining + got}" if self._mode == 1 else ""
            text = (f"connection reset: the server closed the connection mid-response "
                    f"(after {got}{expected} body bytes)")
        else:
            text = "connection reset: the server closed the connection in the middle of the response headers"
        if exc is not None:
            text += f": {exc}"
        self._fail(httpx.ReadError(text))


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
