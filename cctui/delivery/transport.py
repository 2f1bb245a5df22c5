"""How bytes move: aiohttp's ``ClientSession`` behind httpx's transport seam.

:class:`HttpSender` hands requests to any ``httpx.AsyncBaseTransport``:
:class:`AiohttpTransport` in real runs, ``httpx.MockTransport`` in unit tests. A bulk run's
attempts skip the httpx objects when the transport is aiohttp's
(:meth:`AiohttpTransport.exchange`, a :class:`Reply` back); any other transport gets an
``httpx.Request`` and its ``httpx.Response`` is read into a :class:`Reply`. Webhook targets rate-limit far below what one core can send (Slack about one
request a second, Jira tens), so the transport is a well-kept library rather than an HTTP
parser of cctui's own; ``benchmarks/dispatch.py`` measures what that costs.

What the transport promises, whatever aiohttp would do by default:

* redirects are never followed (a 3xx is the answer);
* at most ``body_limit`` bytes of a response body are kept (decoded: gzip, deflate and
  brotli bodies are logged as text); a longer one is cut and its connection dropped;
* the URL goes out exactly as written (``%2F`` and ``%7E`` stay as they are);
* the headers sent are exactly the request's: aiohttp adds no ``Accept``,
  ``Accept-Encoding`` or ``User-Agent`` of its own, so the log shows what was sent;
* a request is never sent twice silently: aiohttp would resend an idempotent request
  (PUT, DELETE) once when a kept-alive connection drops after it was written; here that
  is an error, logged as an attempt and retried by the engine's policy (same
  ``webhook-id``). A kept-alive connection that the server closed while it was idle is
  noticed before reuse and never used;
* proxies and TLS trust follow :mod:`cctui.delivery.network`;
* errors are httpx exceptions with plain words that :mod:`cctui.delivery.explain` reads.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import aiohttp
import httpx
import yarl

from cctui import USER_AGENT
from cctui.delivery.network import Network, cert_env, network_for, ssl_context
from cctui.delivery.transport_errors import transport_error

if TYPE_CHECKING:
    from cctui.delivery.prepared import Prepared

#: SSL_CERT_* as aiohttp made its default verifying context (it was imported just above,
#: or earlier in this process).
AIOHTTP_CERT_ENV = cert_env()
#: Longest response body kept (the log truncates there too).
BODY_LIMIT = 64 * 1024
#: Response extension: the body was cut at ``BODY_LIMIT``.
TRUNCATED = "truncated"
#: Response extension: the headers as the server sent them, as a plain dict (names
#: lowercased, repeats joined), so the log need not decode them a second time.
PLAIN_HEADERS = "cctui_headers"
#: Seconds a kept-alive connection may idle before it is closed rather than reused: below
#: common server idle timeouts (Node's is 5 s), so a reused connection is rarely one the
#: server is closing at that very moment.
KEEPALIVE = 4.0
#: Seconds the total timer waits past the connect timer (see handle_async_request).
CONNECT_FIRST = 0.05
#: Headers aiohttp would add by itself; never sent, so the log shows every header sent.
SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One ``aiohttp.ClientSession`` with keep-alive (see the module doc for its promises).

    The request's ``extensions["timeout"]`` (httpx's dict) gives ``connect`` and ``read``;
    ``read`` is used as the total time for the attempt. ``network`` gives the proxy and
    the TLS trust (default: the environment's proxies and the system's CAs).
    """

    enforces_timeout = True  # HttpSender needs no second timer around it

    def __init__(self, limit: int = 100, body_limit: int = BODY_LIMIT,
                 network: Network | None = None) -> None:
        self.limit = limit
        self.body_limit = body_limit
        self.network = network or Network()
        # Built now, so a bad ca_bundle is an error before anything is sent.
        self._ssl = ssl_context(self.network, AIOHTTP_CERT_ENV)
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}
        self._proxies: dict[str, tuple] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit, ssl=self._ssl,
                                         keepalive_timeout=KEEPALIVE, ttl_dns_cache=300)
        session = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=SKIP_AUTO_HEADERS, timeout=aiohttp.ClientTimeout(total=None),
            trust_env=False,  # proxies come from cctui.delivery.network (ALL_PROXY too)
        )
        # aiohttp resends PUT/DELETE once when a kept-alive connection drops after the
        # request was written; the receiver may have acted on the first copy, so cctui
        # logs that attempt instead (aiohttp's own test client switches this off too).
        session._retry_connection = False
        return session

    def _proxy(self, url_text: str) -> tuple[yarl.URL | None, dict | None, str, str]:
        """(proxy URL without credentials, headers for the proxy, the URL as given, where it is set)."""
        found = self._proxies.get(url_text)
        if found is None:
            proxy, where = self.network.proxy_for(url_text)
            parsed = auth = None
            if proxy:
                parsed = yarl.URL(proxy)
                if parsed.user is not None:  # aiohttp reads no credentials from the URL itself
                    auth = {"Proxy-Authorization": aiohttp.encode_basic_auth(parsed.user, parsed.password or "")}
                    parsed = parsed.with_user(None)
            found = (parsed, auth, proxy, where)
            if len(self._proxies) < 512:
                self._proxies[url_text] = found
        return found

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout") or {}
        url_text = request.extensions.get("cctui_url") or str(request.url)
        try:
            content = request.content
        except httpx.RequestNotRead:
            content = await request.aread()
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        try:
            reply = await self.exchange(request.method, url_text, headers, content,
                                        timeout.get("read"), timeout.get("connect"))
            if reply.problem is not None:
                raise reply.problem  # httpx's way: a body that could not be read is an error
        except httpx.RequestError as exc:
            exc.request = request
            raise
        return reply.to_httpx(request)

    async def exchange(self, method: str, url_text: str, headers: list[tuple[str, str]], content: bytes,
                       total: float | None, connect: float | None) -> Reply:
        """One request and its (capped, decoded) answer, without building httpx objects:
        what a bulk run sends thousands of times a second. ``total`` bounds the whole
        attempt, ``connect`` the connection. Errors are httpx exceptions, as in
        :meth:`handle_async_request`."""
        for name, value in headers:
            if not (name.isascii() and value.isascii()):
                # httpx refuses these too; aiohttp would send them as UTF-8, which
                # receivers read as Latin-1 (or refuse).
                raise UnicodeEncodeError("ascii", f"{name}: {value}", 0, 1, "header names and values must be ASCII")
        if self._session is None:
            self._session = self._open()
        key = (total, connect)
        client_timeout = self._timeouts.get(key)
        if client_timeout is None:
            # The total runs a hair longer than the connect timeout, so a connect that hangs
            # is reported as such (both timers would otherwise fire at the same moment).
            client_timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                total=total + CONNECT_FIRST if total else None, sock_connect=connect)
        proxy_url, proxy_headers, proxy, proxy_from = self._proxy(url_text)
        if proxy_headers and not url_text[:6].lower().startswith("https:") and not any(
                name.lower() == "proxy-authorization" for name, _ in headers):
            # Plain http goes to the proxy as it is (no CONNECT): its credentials ride on
            # the request, and the proxy consumes them (aiohttp adds them only for CONNECT).
            headers = [*headers, *proxy_headers.items()]
        try:
            async with self._session.request(
                method, _yarl(url_text), headers=headers, data=content or None,
                allow_redirects=False, timeout=client_timeout, proxy=proxy_url, proxy_headers=proxy_headers,
            ) as answer:
                try:
                    body = await _read_at_most(answer.content, self.body_limit + 1)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    # The status line came: the receiver answered, whatever became of the
                    # body. The attempt keeps that status (a 2xx is delivered, not sent
                    # again); what went wrong with the body goes with it.
                    answer.close()
                    problem = transport_error(exc, url_text, total, connect, proxy, proxy_from)
                    problem.__cause__ = exc
                    return Reply(answer.status, answer.reason or "", _plain(answer), answer.raw_headers, b"",
                                 problem=problem)
                truncated = len(body) > self.body_limit
                if truncated:
                    body = body[: self.body_limit]
                    answer.close()  # do not read megabytes we will not keep
                return Reply(answer.status, answer.reason or "", _plain(answer), answer.raw_headers, body,
                             truncated)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc, url_text, total, connect, proxy, proxy_from) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class Reply(NamedTuple):
    """An answer as cctui keeps it: the body read (decoded, capped) and the headers as a
    plain dict (names lowercased, repeats joined) as well as raw."""

    status_code: int
    reason: str
    headers: dict[str, str]
    raw_headers: tuple[tuple[bytes, bytes], ...]
    content: bytes
    truncated: bool = False
    #: The body could not be read (cut short, undecodable, timed out) after the status came.
    problem: httpx.TransportError | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> Reply:
        """The reply of a read ``httpx.Response`` (from any httpx transport)."""
        return cls(response.status_code, response.reason_phrase, dict(response.headers.items()),
                   tuple(response.headers.raw), response.content, bool(response.extensions.get(TRUNCATED)))

    def to_httpx(self, request: httpx.Request) -> httpx.Response:
        """This reply as an ``httpx.Response`` to ``request``, already read."""
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if self.reason:
            extensions["reason_phrase"] = self.reason.encode("latin-1", "replace")
        if self.truncated:
            extensions[TRUNCATED] = True
        extensions[PLAIN_HEADERS] = self.headers
        # aiohttp already decoded the body: without these two, httpx would decode it again.
        raw = [(k, v) for k, v in self.raw_headers if k.lower() not in (b"content-encoding", b"content-length")]
        response = httpx.Response(self.status_code, headers=raw, stream=httpx.ByteStream(self.content),
                                  request=request, extensions=extensions)
        response._content = self.content  # what Response.read() sets; httpx is pinned in pyproject.toml
        return response


def _plain(answer: aiohttp.ClientResponse) -> dict[str, str]:
    plain: dict[str, str] = {}
    for name, value in answer.headers.items():
        low = name.lower()
        plain[low] = f"{plain[low]}, {value}" if low in plain else value
    return plain


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


def make_transport(config: Any = None, macro: Any = None, limit: int = 100) -> httpx.AsyncBaseTransport:
    """The transport for one run of ``macro``: :class:`AiohttpTransport` with the macro's
    and the config's network settings. Raises InputError for a bad proxy or CA bundle."""
    warn_once(config)
    return AiohttpTransport(limit=limit, network=network_for(macro, config))


def warn_old_transport_setting(config: Any = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The one-line warning for a ``CCTUI_TRANSPORT`` or ``[delivery] transport`` left from
    an older cctui (the choice is gone; the setting is ignored), or None."""
    import os

    environ = os.environ if environ is None else environ
    delivery = getattr(config, "delivery", None) if config is not None else None
    if environ.get("CCTUI_TRANSPORT"):
        where = "CCTUI_TRANSPORT"
    elif isinstance(delivery, Mapping) and delivery.get("transport"):
        where = "[delivery] transport in the config file"
    else:
        return None
    return f"{where} is no longer used (cctui has one transport, aiohttp); remove it."


_warned: set[str] = set()


def warn_once(config: Any = None) -> None:
    """Print :func:`warn_old_transport_setting`'s warning once per process (Python warning
    machinery is not used: it would print a source line)."""
    message = warn_old_transport_setting(config)
    if message and message not in _warned:
        _warned.add(message)
        import sys

        print(f"cctui: warning: {message}", file=sys.stderr)


@functools.lru_cache(maxsize=512)
def _url(text: str) -> httpx.URL:
    # Parsing a URL is a measurable share of a request; a macro usually has one URL.
    return httpx.URL(text)


#: What cannot go on a request line as it is: spaces, control characters, non-ASCII.
_NOT_ON_THE_WIRE = re.compile(r"[^\x21-\x7e]")
#: ``scheme://authority`` (the host stays as written: yarl IDNA-encodes a non-ASCII one).
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


@functools.lru_cache(maxsize=512)
def _yarl(text: str) -> yarl.URL:
    # encoded=True: the path and query go out exactly as written (%2F, %7E kept). A
    # ${VAR} value may bring a space or a non-ASCII character: only those are
    # percent-encoded (UTF-8), so no space ever splits the request line.
    if not _NOT_ON_THE_WIRE.search(text):
        return yarl.URL(text, encoded=True)
    origin = _ORIGIN.match(text)
    if origin is None or _NOT_ON_THE_WIRE.search(origin.group(0)):
        return yarl.URL(text, encoded=False)  # a non-ASCII host: yarl encodes the whole URL
    rest = _NOT_ON_THE_WIRE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8")),
                                text[origin.end():])
    return yarl.URL(origin.group(0) + rest, encoded=True)


class HttpSender:
    """Sends one request at a time over a transport (one per run): builds the
    ``httpx.Request``, applies the timeout, reads the body capped."""

    def __init__(self, transport: httpx.AsyncBaseTransport, body_limit: int = BODY_LIMIT) -> None:
        self.transport = transport
        self.body_limit = body_limit
        self._ext: dict[tuple, dict] = {}

    async def send(self, method: str, url: str, headers: Iterable[tuple[str, str]],
                   content: bytes, timeout: float) -> httpx.Response:
        """One attempt; raises ``httpx.TransportError`` subclasses when no response came.
        A ``User-Agent`` is added when ``headers`` has none."""
        headers = list(headers)
        if not any(name.lower() == "user-agent" for name, _ in headers):
            headers.append(("User-Agent", USER_AGENT))
        request = httpx.Request(method, _url(url), headers=headers, content=content,
                                extensions=self._extensions(timeout, url))
        try:
            if getattr(self.transport, "enforces_timeout", False):
                # The transport words its own timeout errors; no second timer per request.
                return await self.transport.handle_async_request(request)
            async with asyncio.timeout(timeout + 1.0):  # a backstop for any transport
                response = await self.transport.handle_async_request(request)
                await self._read_capped(response)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise httpx.TimeoutException(f"timed out after {timeout:g} s", request=request) from exc
        return response

    async def send_prepared(self, prepared: Prepared, headers: list[tuple[str, str]], timeout: float) -> Reply:
        """One attempt of a prepared request (:mod:`cctui.delivery.prepared`) with the
        attempt's full header list. Straight to aiohttp when the transport is ours (no
        httpx objects per request); any other httpx transport gets an ``httpx.Request``."""
        transport = self.transport
        if isinstance(transport, AiohttpTransport) and transport.body_limit == self.body_limit:
            _url(prepared.url)  # httpx's words for a bad URL, as on the other path (cached)
            return await transport.exchange(prepared.method, prepared.url, headers, prepared.body, timeout, timeout)
        return Reply.of(await self.send(prepared.method, prepared.url, headers, prepared.body, timeout))

    def _extensions(self, timeout: float, url: str) -> dict:
        found = self._ext.get((timeout, url))
        if found is None:
            found = self._ext[(timeout, url)] = {
                "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout},
                "cctui_url": url}
        return found

    async def _read_capped(self, response: httpx.Response) -> None:
        if getattr(response, "_content", None) is not None:
            return  # already read (MockTransport and friends)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
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


__all__ = ["AiohttpTransport", "BODY_LIMIT", "HttpSender", "PLAIN_HEADERS", "Reply", "TRUNCATED", "USER_AGENT",
           "make_transport", "warn_once", "warn_old_transport_setting"]
