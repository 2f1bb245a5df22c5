"""``${NAME}`` secrets read from the environment at render time, and masking.

A macro stores ``${NAME}`` references, never their values. :func:`resolve` swaps them for
the environment's values when a request is rendered and reports every value it used, so
that previews, logs and screens can mask them with :func:`mask_text` and
:func:`mask_headers`.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping
from urllib.parse import urlsplit

from cctui.errors import SecretError

MASK = "••••"
SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: Header names whose values are always masked, whatever they hold.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
#: Parts of a header (or query parameter) name that make its value sensitive.
SENSITIVE_WORDS = ("token", "secret", "key", "password")
#: Query parameters that carry credentials in webhook URLs (Teams workflows use ``sig``).
SENSITIVE_PARAMS = frozenset({"sig", "signature", "code", "auth"})
#: Authorization schemes kept in clear: "Bearer ••••" helps a person debug a 401.
_QUERY_PARAM = re.compile(r"([?&])([^=&#]+)=([^&#]*)")
AUTH_SCHEMES = frozenset({"basic", "bearer", "token", "bot", "digest", "apikey"})


def references(text: str) -> list[str]:
    """The variable names that ``text`` refers to, in order."""
    return SECRET_REF.findall(text or "")


def resolve(text: str, environ: Mapping[str, str], *, where: str, found: set[str]) -> str:
    """``text`` with each ``${NAME}`` replaced by ``environ[NAME]``.

    Every value used is added to ``found`` (for masking). A variable that is not set is a
    :class:`SecretError` naming it and ``where`` it is used (``url``, ``header line 2``).
    """
    if "${" not in text:
        return text

    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        value = environ.get(name)
        if value is None:
            raise SecretError(
                f"the environment variable {name} used in the {where} is not set "
                f"(export {name}=... before running cctui)."
            )
        if value:
            found.add(value)
        return value

    return SECRET_REF.sub(swap, text)


def is_sensitive_header(name: str) -> bool:
    """True for headers whose values are credentials (Authorization, *-Token, ...)."""
    lowered = name.strip().lower()
    return lowered in SENSITIVE_HEADERS or any(word in lowered for word in SENSITIVE_WORDS)


def _is_sensitive_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in SENSITIVE_PARAMS or any(word in lowered for word in SENSITIVE_WORDS)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every secret replaced by ``••••``."""
    if not text:
        return text
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_header_value(name: str, value: str, secrets: Iterable[str] = ()) -> str:
    """One header value as it may be shown: sensitive headers become ``••••``.

    ``Authorization`` keeps its scheme word (``Bearer ••••``) because knowing which
    scheme was sent is half of debugging a 401, and the scheme is no secret.
    """
    if is_sensitive_header(name):
        scheme, _, rest = value.strip().partition(" ")
        if rest and scheme.lower() in AUTH_SCHEMES:
            return f"{scheme} {MASK}"
        return MASK
    return mask_text(value, secrets)


def mask_headers(
    headers: Iterable[tuple[str, str]], secrets: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Headers as they may be shown in previews, logs and screens."""
    secrets = tuple(secrets)
    return [(name, mask_header_value(name, value, secrets)) for name, value in headers]


def mask_url(url: str, secrets: Iterable[str] = ()) -> str:
    """A URL as it may be shown: resolved secrets and credential-like query values masked.

    A secret that is itself a URL (``url = "${SLACK_WEBHOOK_URL}"``) keeps its scheme and
    host visible: which service a request went to is no secret, and it is what a person
    needs to read a log.
    """
    secrets = tuple(secrets)
    for secret in secrets:
        parts = urlsplit(secret) if secret and "://" in secret else None
        if parts and parts.scheme and parts.hostname and secret in url and not parts.password:
            url = url.replace(secret, f"{parts.scheme}://{parts.netloc}/{MASK}")
    url = mask_text(url, [s for s in secrets if not (s and s.startswith(("http://", "https://")))])
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password:
        url = url.replace(f":{parts.password}@", f":{MASK}@", 1)
    if parts.query:
        url = _QUERY_PARAM.sub(
            lambda m: f"{m.group(1)}{m.group(2)}={MASK}"
            if m.group(3) and _is_sensitive_param(m.group(2)) else m.group(0),
            url,
        )
    return url


def mask_stored_header(name: str, value: str) -> str:
    """A header line as ``macro show`` prints it: references stay, literal credentials go.

    ``Authorization: Bearer ${TOKEN}`` is safe to show (it names a variable, not a value);
    ``Authorization: Bearer abc123`` is not.
    """
    if not is_sensitive_header(name):
        return value
    without_refs = SECRET_REF.sub("", value).strip()
    scheme = without_refs.split(" ", 1)[0]
    if not without_refs or (scheme.lower() in AUTH_SCHEMES and without_refs == scheme):
        return value
    return mask_header_value(name, value)


def mask_stored_text(value: str) -> str:
    """A stored secret-bearing value (``signing_secret``): references shown, literals masked."""
    if value and not SECRET_REF.sub("", value).strip():
        return value
    return MASK if value else value
