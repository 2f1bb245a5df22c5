"""How bytes move: httpx's Request/Response API over a transport chosen by measurement.

Measured on loopback (benchmarks/dispatch.py, 32 in flight, 2 cores): httpx's own pool
is several times slower than aiohttp, and even ``httpx_aiohttp.AiohttpTransport`` behind
``httpx.AsyncClient`` reaches about a third of bare aiohttp. Most of the gap is per-request
Python work (URL re-parsing, client-level header/cookie merging, streaming wrappers), so
:class:`HttpSender` calls a transport directly with cached ``httpx.URL`` objects, and the
transport returns an already-read, size-capped ``httpx.Response``.

The default transport is :class:`cctui.delivery.lean.LeanTransport`: HTTP/1.1 on an
asyncio Protocol with its own keep-alive pool, several times cheaper per request than
aiohttp's ``ClientSession``. :class:`AiohttpTransport` (one keep-alive
``aiohttp.ClientSession``) stays available (``CCTUI_TRANSPORT=aiohttp`` or ``[delivery]
transport = "aiohttp"``), and any other httpx transport (``httpx.AsyncHTTPTransport``,
``httpx.MockTransport`` in unit tests) plugs into the same seam.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from typing import Iterable, Mapping

import aiohttp
import httpx
import yarl

from cctui import USER_AGENT
from cctui.delivery.lean import BODY_LIMIT, TRUNCATED, LeanTransport, make_headers
from cctui.errors import InputError

# BODY_LIMIT: longest response body kept (the log truncates there too); TRUNCATED: the
# response extension that says the body was cut there.


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session with keep-alive; never follows redirects; reads at most
    ``body_limit`` bytes of a response (a bigger one is cut and its connection dropped).

    The request's ``extensions["timeout"]`` (httpx's dict) gives ``connect`` and ``read``;
    ``read`` is used as the total time for the attempt.
    """

    enforces_timeout = True  # HttpSender needs no second timer around it

    def __init__(self, limit: int = 100, body_limit: int = BODY_LIMIT) -> None:
        self.limit = limit
        self.body_limit = body_limit
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit,
                                         enable_cleanup_closed=False, ttl_dns_cache=300)
        return aiohttp.ClientSession(
            connector=connector, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent",), timeout=aiohttp.ClientTimeout(total=None),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout") or {}
        key = (timeout.get("read"), timeout.get("connect"))
        client_timeout = self._timeouts.get(key)
        if client_timeout is None:
            client_timeout = self._timeouts[key] = aiohttp.ClientTimeout(total=key[0], sock_connect=key[1])
        url = _yarl(request.extensions.get("cctui_url") or str(request.url))
        try:
            content = request.content
        except httpx.RequestNotRead:
            content = await request.aread()
        try:
            async with self._session.request(
                request.method, url, headers=request.headers.multi_items(),
                data=content or None, allow_redirects=False, timeout=client_timeout,
            ) as answer:
                body = await _read_at_most(answer.content, self.body_limit + 1)
                truncated = len(body) > self.body_limit
                if truncated:
                    body = body[: self.body_limit]
                    answer.close()  # do not read megabytes we will not keep
                extensions = {"http_version": b"HTTP/1.1"}
                if answer.reason:
                    extensions["reason_phrase"] = answer.reason.encode("latin-1", "replace")
                # aiohttp already decompressed the body: drop Content-Encoding so httpx
                # does not try to decode it a second time.
                raw_headers = [(k, v) for k, v in answer.raw_headers
                               if k.lower() != b"content-encoding"]
                if truncated:
                    extensions[TRUNCATED] = True
                # The body is already read: hand it over as a byte stream and mark the
                # response read (httpx's content= path would re-scan headers and run the
                # body through its decoders again, several µs per request for nothing).
                response = httpx.Response(answer.status, headers=raw_headers, stream=httpx.ByteStream(body),
                                          request=request, extensions=extensions)
                response._content = body  # what Response.read() would set; httpx is pinned
                return response
        except asyncio.TimeoutError as exc:
            raise httpx.TimeoutException(_timeout_text(timeout), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(_connect_text(exc), request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError("connection reset: the server closed the connection "
                                            "before answering", request=request) from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            raise httpx.ReadError(f"connection reset: {exc}", request=request) from exc
        except aiohttp.InvalidURL as exc:
            raise httpx.UnsupportedProtocol(f"invalid URL: {exc}", request=request) from exc
        except aiohttp.ClientResponseError as exc:
            raise httpx.RemoteProtocolError(f"bad response: {exc.message}", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}", request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes, stopping at the end of the body (``read(n)`` may return less)."""
    first = await stream.read(limit)
    if len(first) >= limit or not first:
        return first
    chunks, size = [first], len(first)
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _timeout_text(timeout: dict) -> str:
    total = timeout.get("read")
    return f"timed out after {total:g} s" if total else "timed out"


def _connect_text(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    where = f"{exc.host}:{exc.port}"
    if isinstance(os_error, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(os_error, socket.gaierror):
        return f"DNS lookup failed for {exc.host}: {os_error.strerror or os_error}"
    if "ssl" in type(exc).__name__.lower():
        return f"TLS handshake with {where} failed: {os_error}"
    return f"cannot connect to {where}: {os_error.strerror if hasattr(os_error, 'strerror') and os_error.strerror else os_error}"


#: Transports :func:`make_transport` knows; the first is the default.
TRANSPORTS = ("lean", "aiohttp", "httpx-aiohttp", "httpx")


def transport_kind(config=None, environ=os.environ) -> str:
    """Which transport a run uses: ``CCTUI_TRANSPORT``, else the config's ``[delivery]
    transport``, else ``lean`` (the fastest measured, see README.md, "Sending" > "Speed")."""
    kind = environ.get("CCTUI_TRANSPORT")
    if not kind and config is not None:
        delivery = getattr(config, "delivery", None)
        if isinstance(delivery, Mapping):
            kind = delivery.get("transport")
    kind = (kind or TRANSPORTS[0]).strip().lower()
    if kind not in TRANSPORTS:
        raise InputError(f"transport {kind!r} (CCTUI_TRANSPORT or [delivery] transport): expected one of "
                         f"{', '.join(TRANSPORTS)}.")
    return kind


def make_transport(kind: str | None = None, limit: int = 100) -> httpx.AsyncBaseTransport:
    """``lean`` (default: :class:`cctui.delivery.lean.LeanTransport`), ``aiohttp``
    (:class:`AiohttpTransport`), ``httpx-aiohttp`` or ``httpx`` (httpx's own pool).
    ``None`` picks by :func:`transport_kind` (``CCTUI_TRANSPORT``)."""
    if kind is None:
        kind = transport_kind()
    if kind == "lean":
        return LeanTransport(limit=limit)
    if kind == "aiohttp":
        return AiohttpTransport(limit=limit)
    if kind == "httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport as PackageTransport

        return PackageTransport(limits=httpx.Limits(max_connections=limit))
    if kind == "httpx":
        return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=limit,
                                                            max_keepalive_connections=limit))
    raise ValueError(f"unknown transport {kind!r}")


@functools.lru_cache(maxsize=512)
def _url(text: str) -> httpx.URL:
    # Parsing a URL is a measurable share of a request; a macro usually has one URL.
    return httpx.URL(text)


@functools.lru_cache(maxsize=512)
def _yarl(text: str) -> yarl.URL:
    # The same for aiohttp: it takes a parsed yarl.URL as it is.
    return yarl.URL(text)


class HttpSender:
    """Sends one request at a time over a transport (one per run): builds the
    ``httpx.Request``, adds ``User-Agent``, applies the timeout, reads the body capped."""

    def __init__(self, transport: httpx.AsyncBaseTransport, body_limit: int = BODY_LIMIT) -> None:
        self.transport = transport
        self.body_limit = body_limit
        self._ext: dict[tuple, dict] = {}

    async def send(self, method: str, url: str, headers: Iterable[tuple[str, str]],
                   content: bytes, timeout: float) -> httpx.Response:
        """One attempt; raises ``httpx.TransportError`` subclasses when no response came."""
        headers = list(headers)
        if not any(name.lower() == "user-agent" for name, _ in headers):
            headers.append(("User-Agent", USER_AGENT))
        request = httpx.Request(method, _url(url), headers=headers, content=content,
                                extensions=self._extensions(timeout, url))
        return await self._send(request, timeout)

    async def _send(self, request: httpx.Request, timeout: float) -> httpx.Response:
        try:
            if getattr(self.transport, "enforces_timeout", False):
                # The transport enforces the total timeout itself (and words its own
                # timeout errors); a second timer per request costs measurable loop time
                # at thousands of requests per second.
                return await self.transport.handle_async_request(request)
            else:
                async with asyncio.timeout(timeout + 1.0):  # a backstop for any transport
                    response = await self.transport.handle_async_request(request)
                    if not hasattr(response, "_content"):
                        await self._read_capped(response)
        except (asyncio.TimeoutError, httpx.TimeoutException) as exc:
            raise httpx.TimeoutException(f"timed out after {timeout:g} s", request=request) from exc
        return response

    async def send_prepared(self, prepared, headers: list[tuple[str, str]], timeout: float) -> httpx.Response:
        """One attempt of a prepared request (:mod:`cctui.delivery.attempt`): the same
        request as :meth:`send`, built without re-normalising the run's fixed headers.

        ``headers`` starts with the prepared (fixed) headers, then the attempt's own
        (``webhook-*``, ``User-Agent``). The fixed part is encoded once per run.
        """
        fixed = prepared.fixed
        wire = fixed.wire
        if wire is None:
            try:
                url = _url(prepared.url)
                wire = fixed.wire = (url, [(name, name.lower(), value) for name, value in [(b"Host", url.netloc)] + [
                    (name.encode("ascii"), value.encode("ascii")) for name, value in fixed.headers]])
            except (UnicodeEncodeError, httpx.InvalidURL):
                wire = fixed.wire = False  # httpx's own path reports it, as before
        if wire is False:
            return await self.send(prepared.method, prepared.url, headers, prepared.body, timeout)
        url, encoded = wire
        body = prepared.body
        raw = encoded[:]  # httpx.Headers' own triples, the fixed part encoded once per run
        for name, value in headers[len(fixed.headers):]:
            name = name.encode("latin-1")
            raw.append((name, name.lower(), value.encode("latin-1")))
        raw.append((b"Content-Length", b"content-length", str(len(body)).encode()))
        request = httpx.Request(prepared.method, url, headers=make_headers(raw),
                                stream=httpx.ByteStream(body), extensions=self._extensions(timeout, prepared.url))
        request.read()
        return await self._send(request, timeout)

    def _extensions(self, timeout: float, url: str) -> dict:
        found = self._ext.get((timeout, url))
        if found is None:
            found = self._ext[(timeout, url)] = {
                "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout},
                "cctui_url": url}
        return found

    async def _read_capped(self, response: httpx.Response) -> None:
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size > self.body_limit:
                    response.extensions[TRUNCATED] = True
                    break
        finally:
            await response.aclose()
        response._content = b"".join(chunks)[: self.body_limit]

    async def aclose(self) -> None:
        await self.transport.aclose()
