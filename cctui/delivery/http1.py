"""HTTP/1.1 on one connection: the asyncio Protocol behind :mod:`cctui.delivery.lean`.

It writes one request and parses the answer from bytes: the status line and headers,
then a body delimited by ``Content-Length``, ``chunked`` or the connection closing (none
for HEAD, 1xx, 204 and 304). It keeps up to ``body_limit`` bytes and closes the
connection past that rather than read on. The pool, timers and httpx glue are in
:mod:`cctui.delivery.lean`.
"""

from __future__ import annotations

import asyncio

import httpx

#: Longest response head (status line + headers) accepted.
HEAD_LIMIT = 64 * 1024
_NO_BODY_METHODS = frozenset((b"HEAD",))

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
