"""The headers the transport writes from the request line and the body (``Host``,
``Content-Length``), worked out the same way for the preview, the form and the log."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

#: Methods that carry no Content-Length when their body is empty (as aiohttp sends them).
NO_LENGTH_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=512)
def host_header(url: str) -> str | None:
    """The ``Host`` header cctui sends for ``url``: the host lowercased (IDNA-encoded), the
    port only when it is not the scheme's default; None when the URL has no usable host."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        if not host:
            return None
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except (ValueError, UnicodeError):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        return f"{host}:{port}"
    return host


def wire_headers(method: str, url: str, body_length: int) -> list[tuple[str, str]]:
    """The headers the transport writes from the request line and body (``Host``,
    ``Content-Length``): the log and the preview list them with the others."""
    out = []
    host = host_header(url)
    if host is not None:
        out.append(("Host", host))
    if body_length or method not in NO_LENGTH_METHODS:
        out.append(("Content-Length", str(body_length)))
    return out

