"""``${VAR}`` references in the user-info of a URL template (``https://bot:${PW}@host/``):
their values are percent-encoded there, so a password holding ``/``, ``?``, ``#``, ``@`` or
``:`` stays the password instead of ending the user-info early (and sending the request
to another host). cctui decodes the user-info again for the ``Authorization: Basic``
header (:mod:`cctui.macros.request`)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import quote

from cctui.macros.secrets import SECRET_REF, resolve


def userinfo_span(url: str) -> tuple[int, int] | None:
    """Where the user-info of a URL *template* is (``bot:${PW}`` in
    ``https://bot:${PW}@host/``), as ``(start, end)``, or None. References hold no ``/``,
    ``?``, ``#`` or ``@``, so the template's own text bounds it."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None
    start = scheme_end + 3
    ends = [i for i in (url.find("/", start), url.find("?", start), url.find("#", start)) if i >= 0]
    at = url.rfind("@", start, min(ends, default=len(url)))
    return (start, at) if at >= 0 else None


def resolve_url(url: str, environ: Mapping[str, str], *, where: str, found: set[str],
                missing: list[str] | None = None) -> str:
    """:func:`resolve` for a URL template: a ``${NAME}`` in its user-info gets its value
    percent-encoded, so a password holding ``/``, ``?``, ``#``, ``@`` or ``:`` stays the
    password (cctui decodes it again for the ``Authorization: Basic`` header) instead of
    ending the user-info and sending the request to another host."""
    span = userinfo_span(url) if "${" in url else None
    if span is None or "${" not in url[span[0]:span[1]]:
        return resolve(url, environ, where=where, found=found, missing=missing)
    start, end = span
    parts = (url[:start], url[start:end], url[end:])
    return "".join(resolve(part, environ, where=where, found=found, missing=missing,
                           encode=userinfo_value if index == 1 else None)
                   for index, part in enumerate(parts))


@lru_cache(maxsize=256)
def userinfo_refs(url: str) -> frozenset[str]:
    """The references (what is inside the braces) in a URL template's user-info."""
    span = userinfo_span(url)
    return frozenset(SECRET_REF.findall(url[span[0]:span[1]])) if span else frozenset()


def userinfo_value(value: str) -> str:
    """A value as the user-info of a URL holds it: everything but unreserved characters
    percent-encoded (UTF-8)."""
    return quote(value, safe="")
