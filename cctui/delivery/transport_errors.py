"""aiohttp's exceptions as the httpx exceptions cctui's log and explanations read, in
plain words (what failed, where, and what to do)."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import httpx
import yarl


def transport_error(exc: BaseException, url_text: str, total: float | None, connect: float | None,
                    proxy: str | None, proxy_from: str) -> httpx.TransportError:
    """The httpx exception for ``exc``, raised by aiohttp while sending to ``url_text``
    (``total``/``connect``: the attempt's timeouts; ``proxy``: the proxy used and where it
    was set)."""
    # Order matters: the certificate and TLS errors are connector errors, and a proxy's
    # refusal is a response error.
    if isinstance(exc, TimeoutError):
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            if proxy:  # the connection that timed out is the one to the proxy
                return httpx.ConnectTimeout(f"connect to the proxy {_masked(proxy)} (from {proxy_from}) "
                                            f"timed out after {connect:g} s")
            return httpx.ConnectTimeout(f"connect to {_where(url_text)} timed out after {connect:g} s")
        # Through a proxy, say so: the hang may be the proxy's (an https:// proxy setting in
        # front of a plain one waits for a TLS answer that never comes).
        through = f" (through the proxy {_masked(proxy)}, from {proxy_from})" if proxy else ""
        return httpx.ReadTimeout(_timeout_text(total) + through)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(f"the proxy {_masked(proxy)} (from {proxy_from}) refused the "
                                f"connection: {exc.status} {exc.message}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return httpx.ProxyError(f"cannot connect to the proxy {_masked(proxy)} (from {proxy_from}): "
                                f"{_os_text(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        reason = getattr(cert, "verify_message", None) or getattr(cert, "reason", None) or cert
        return httpx.ConnectError(f"TLS certificate of {exc.host}:{exc.port} not trusted: {reason} "
                                  "(a private CA goes in ca_bundle)")
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        reason = getattr(exc.os_error, "reason", None) or exc.os_error
        return httpx.ConnectError(f"TLS handshake with {exc.host}:{exc.port} failed: {reason}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(_connect_text(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError("connection reset: the server closed the connection before answering")
    if isinstance(exc, aiohttp.ClientPayloadError):
        coding = _undecodable(exc)
        if coding:
            # The connection is fine: the bytes are not what Content-Encoding says.
            return httpx.RemoteProtocolError(f"malformed response: the body says Content-Encoding: {coding} "
                                             "but cannot be decoded")
        return httpx.ReadError(f"connection reset mid-response: {_payload_text(exc)}")
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx.ReadError(f"connection reset: {_os_text(exc)}")
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(f"unsupported URL scheme {yarl.URL(url_text).scheme!r} "
                                         "(http or https only)")
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(f"invalid URL: {exc}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(f"malformed response: {_first_line(exc.message)}")
    return httpx.TransportError(f"{type(exc).__name__}: {exc}")


def _where(url_text: str) -> str:
    url = yarl.URL(url_text)
    return f"{url.host}:{url.port}"


def _masked(proxy: str | None) -> str:
    from cctui.macros.secrets import mask_url

    return mask_url(proxy or "")


def _first_line(text: Any) -> str:
    """aiohttp's parser errors span several lines (with a caret under the bad byte)."""
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    line = line.rstrip(":")
    return line[:1].lower() + line[1:]


def _undecodable(exc: aiohttp.ClientPayloadError) -> str | None:
    """The content coding aiohttp could not decode (``gzip``), or None for another cause."""
    import re

    from aiohttp.http_exceptions import ContentEncodingError

    if not isinstance(exc.__cause__, ContentEncodingError):
        return None
    found = re.search(r"content-encoding: ([!#$%&'*+.^_`|~0-9A-Za-z-]+)", str(exc.__cause__))
    return found.group(1) if found else "?"


def _payload_text(exc: aiohttp.ClientPayloadError) -> str:
    import re

    text = str(exc.__cause__ or exc.__context__ or "") + " " + str(exc)
    found = re.search(r"received (\d+) of (\d+) bytes", text)
    if found:
        return f"received {found.group(1)} of {found.group(2)} bytes"
    return _first_line(exc.args[0] if exc.args else exc) or "the body was cut short"


def _timeout_text(total: float | None) -> str:
    return f"timed out after {total:g} s" if total else "timed out"


def _os_text(os_error: OSError) -> str:
    if isinstance(os_error, ConnectionRefusedError):
        return "connection refused"
    return getattr(os_error, "strerror", None) or str(os_error)


def _connect_text(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    where = f"{exc.host}:{exc.port}"
    if isinstance(os_error, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(os_error, socket.gaierror):
        return f"DNS lookup failed for {exc.host}: {os_error.strerror or os_error}"
    return f"cannot connect to {where}: {_os_text(os_error)}"


