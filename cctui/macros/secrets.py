"""``${NAME}`` secrets read from the environment at render time, and masking.

A macro stores ``${NAME}`` references, never their values. :func:`resolve` swaps them for
the environment's values when a request is rendered and reports every value it used, so
that previews, logs and screens can mask them with :func:`mask_text` and
:func:`mask_headers`.

Two small extensions, for credentials that must be built from several variables:

* ``${base64:A:B}`` is base64 of ``"<A's value>:<B's value>"`` (HTTP Basic auth from an
  e-mail and an API token); ``${base64:A}`` is base64 of one value.
* ``${A|base64:B:C}`` takes the first choice whose variables are all set (here a prepared
  ``A``, else ``B`` and ``C``); only when no choice can be made is it an error.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from cctui.errors import SecretError

MASK = "••••"
_VAR = r"[A-Za-z_][A-Za-z0-9_]*"
_CHOICE = rf"(?:base64:{_VAR}(?::{_VAR})*|{_VAR})"
#: ``${NAME}``, ``${base64:A:B}``, ``${A|base64:B:C}``: group 1 is what is inside the braces.
SECRET_REF = re.compile(rf"\$\{{({_CHOICE}(?:\|{_CHOICE})*)\}}")
#: What an HTTP header value may hold: printable ASCII and tabs.
HEADER_VALUE_OK = re.compile(r"^[\t\x20-\x7e]*$")

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
    """The variable names that ``text`` refers to, in order (every choice's names)."""
    names: list[str] = []
    for expression in SECRET_REF.findall(text or ""):
        for choice in expression.split("|"):
            names.extend(_choice_names(choice))
    return names


def _choice_names(choice: str) -> list[str]:
    return choice.split(":")[1:] if choice.startswith("base64:") else [choice]


def _describe(choices: list[list[str]]) -> str:
    """``JIRA_AUTH``, ``A and B``, ``JIRA_AUTH, or JIRA_EMAIL and JIRA_API_TOKEN``."""
    return ", or ".join(" and ".join(names) for names in choices)


def resolve(text: str, environ: Mapping[str, str], *, where: str, found: set[str],
            header: bool = False, missing: list[str] | None = None,
            encode: Callable[[str], str] | None = None) -> str:
    """``text`` with each ``${NAME}`` (or ``${base64:A:B}``, ``${A|B}``) resolved.

    Every value used is added to ``found`` (for masking). A variable that is not set is a
    :class:`SecretError` naming it and ``where`` it is used (``url``, ``header line 2``).
    With ``missing`` (a list), an unresolvable reference is left as written instead and
    its variable names are appended to ``missing`` (for previews while editing).
    With ``header=True``, a value that an HTTP header cannot carry (not printable ASCII)
    is a :class:`SecretError` naming the variable and ``where`` (the header line).
    ``encode`` turns each value into what goes in its place (both forms are masked).
    """
    if "${" not in text:
        return text

    def swap(match: re.Match[str]) -> str:
        choices = [_choice_names(c) for c in match.group(1).split("|")]
        for choice, names in zip(match.group(1).split("|"), choices, strict=True):
            looked_up = [environ.get(name) for name in names]
            values = [value for value in looked_up if value is not None]
            if len(values) < len(looked_up):
                continue
            if choice.startswith("base64:"):
                value = base64.b64encode(":".join(values).encode("utf-8")).decode("ascii")
                found.update(v for v in values if v)
            else:
                value = values[0]
                if header and not HEADER_VALUE_OK.match(value):
                    raise SecretError(
                        f"the environment variable {names[0]} used in the {where} holds a "
                        "character an HTTP header cannot carry (header values must be "
                        "printable ASCII)."
                    )
            if value:
                found.add(value)
            if encode is not None and value:
                value = encode(value)
                found.add(value)
            return value
        if missing is not None:
            missing.extend(n for names in choices for n in names if environ.get(n) is None)
            return match.group(0)
        unset = [n for names in choices for n in names if environ.get(n) is None]
        if len(choices) == 1 and len(unset) == 1:
            name = unset[0]
            raise SecretError(
                f"the environment variable {name} used in the {where} is not set "
                f"(export {name}=... before running cctui)."
            )
        raise SecretError(
            f"the {where} needs {_describe(choices)} set in the environment "
            f"(not set: {', '.join(dict.fromkeys(unset))})."
        )

    return SECRET_REF.sub(swap, text)


def is_sensitive_header(name: str) -> bool:
    """True for headers whose values are credentials (Authorization, *-Token, ...)."""
    lowered = name.strip().lower()
    return lowered in SENSITIVE_HEADERS or any(word in lowered for word in SENSITIVE_WORDS)


def _is_sensitive_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in SENSITIVE_PARAMS or any(word in lowered for word in SENSITIVE_WORDS)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every secret replaced by ``••••``, in each form
    the secret can take (see :func:`secret_variants`)."""
    if not text:
        return text
    # Longest first, so a secret that contains another is masked whole.
    for secret in secret_variants(secrets):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_cut_end(text: str, variants: Iterable[str]) -> str:
    """``text`` (already masked) that was cut off at a size limit, with the start of a
    secret that the cut left at its very end masked too: a 64 KiB response body may end
    half-way through an echoed token, and its first half is no less secret.
    ``variants``: every form of the secrets, as :func:`secret_variants` gives them."""
    end = text.rstrip("\ufffd")  # a multi-byte character cut in two decodes as U+FFFD
    cut = 0
    for variant in variants:
        for size in range(min(len(variant) - 1, len(end)), max(cut, 2), -1):
            if end.endswith(variant[:size]):
                cut = size
                break
    return end[:-cut] + MASK if cut else text


#: ``safe`` sets a secret may be percent-encoded with: urllib's defaults, and the
#: characters httpx (and most clients) leave as they are in a path or query.
_QUOTE_SAFE = ("", "/", "/:@!$&'()*+,;=~", ":@!$'()*+,;=~/?")


def _distinctive(part: str) -> bool:
    """Could ``part`` of a secret URL pass for something else in a response? Words
    (``services``, ``webhooks``), numbers, versions and dates could; ids and tokens
    (``T0123ABCD``, ``a1b2c3d4``, a long random string) could not."""
    if len(part) >= 20:
        return True
    return len(part) >= 6 and any(c.isdigit() for c in part) and any(c.isalpha() for c in part)


def secret_parts(secret: str) -> set[str]:
    """The distinctive parts of a secret that is a URL or a path, each of which a server
    may echo on its own: a relative ``Location``, ``Cannot POST /services/T0/B0/XXXX``,
    ``Invalid port: '...'``. They are: the path (with and without its leading ``/``)
    and every tail of it that holds a distinctive segment, those segments, the query
    string and its distinctive or credential values, the user-info and a port that is
    not a number. The host is not among them: where a request went is no secret."""
    from urllib.parse import unquote

    parts: set[str] = set()
    if "://" in secret:
        try:
            split = urlsplit(secret)
        except ValueError:
            return parts
        path, query = split.path, split.query
        userinfo, _, hostport = split.netloc.rpartition("@")
        if userinfo:
            parts.add(userinfo)
            parts.update(p for p in userinfo.split(":", 1)[1:] if p)
        port = hostport.rpartition("]")[2].partition(":")[2]
        if port and not port.isdigit():
            parts.add(port)
    elif "/" in secret:
        path, query = secret, ""
    else:
        return parts
    segments = [s for s in path.split("/") if s]
    if len(path.strip("/")) >= 6:
        parts.update({path, path.strip("/"), path.lstrip("/")})
    for start in range(1, len(segments)):
        tail = "/".join(segments[start:])
        if any(_distinctive(s) for s in segments[start:]):
            parts.update({tail, "/" + tail})
    parts.update(s for s in segments if _distinctive(s))
    if len(query) >= 6:
        parts.add(query)
    for match in _QUERY_PARAM.finditer("?" + query):
        name, value = match.group(2), match.group(3)
        if value and (_distinctive(value) or _is_sensitive_param(name)):
            parts.update({value, unquote(value)})
    return {p for p in parts if len(p) >= 4}


def secret_variants(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every form a secret can take in what is shown or logged, longest first: the raw
    value, percent-encoded (``quote`` with the usual safe sets, upper- and lower-case hex,
    and ``quote_plus``: a receiver may echo the URL it got), JSON-escaped (ASCII-only and
    not), and the base64 of ``user:pass`` forms (HTTP Basic auth: a value holding ``:``,
    any two secrets joined by ``:``, and the decoded form of a base64 ``user:pass``
    secret). Cached per set of secrets, so a run works them out once."""
    return _secret_variants(tuple(sorted({s for s in secrets if s})))


@lru_cache(maxsize=256)
def _secret_variants(secrets: tuple[str, ...]) -> tuple[str, ...]:
    import base64
    import binascii
    import json
    from urllib.parse import quote_plus, unquote

    def b64(text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    forms: set[str] = set()
    for secret in secrets:
        pieces = {secret, *secret_parts(secret)}
        # A server echoes what it decoded (%41 -> A); the user-info of a URL goes out
        # as "Authorization: Basic base64(user:password)", decoded (%40 -> @).
        pieces |= {p for p in map(unquote, pieces) if len(p) >= 4}
        forms |= {b64(p) for p in pieces if ":" in p and "/" not in p}
        for piece in pieces:
            encoded = {piece} | {quote(piece, safe=safe) for safe in _QUOTE_SAFE} | {quote_plus(piece)}
            encoded |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), e) for e in encoded}
            forms |= encoded
            for text in (piece, *encoded):
                for escaped in (json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]):
                    forms.add(escaped)
                    # PHP, Java and others write "/" as "\/" in JSON.
                    forms.add(escaped.replace("/", "\\/"))
        if ":" in secret:
            forms.add(b64(secret))
        try:
            decoded = base64.b64decode(secret, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            decoded = ""
        if ":" in decoded and decoded.isprintable() and len(decoded) >= 8:
            forms.add(decoded)
            password = decoded.split(":", 1)[1]
            if len(password) >= 6:
                forms.add(password)
    if len(secrets) <= 8:
        for user in secrets:
            for password in secrets:
                if user != password:
                    forms.add(b64(f"{user}:{password}"))
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


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
    kept_host: set[str] = set()
    for secret in secrets:
        parts = split_url(secret) if secret and "://" in secret else None
        if parts and parts.scheme and parts.hostname and secret in url:
            kept_host.add(secret)
            # Host and a numeric port only: user-info, or a "port" that is not a number
            # (a token typed in the wrong place), may be the credential.
            port = parts.netloc.rpartition("]")[2].rpartition("@")[2].partition(":")[2]
            host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
            shown = f"{host}:{port}" if port.isdigit() else host
            url = url.replace(secret, f"{parts.scheme}://{shown}/{MASK}")
    # A secret URL that cannot be split (``http://[::1/...``) is masked whole.
    url = mask_text(url, [s for s in secrets if s not in kept_host
                          and not (s and s.startswith(("http://", "https://")) and split_url(s))])
    parts = split_url(url)
    if parts and parts.password and not _only_references(parts.password):
        url = url.replace(f":{parts.password}@", f":{MASK}@", 1)
    # Credential query values are found without urllib: a URL it cannot split still
    # shows no token.
    if parts.query if parts else "?" in url:
        url = _QUERY_PARAM.sub(
            lambda m: f"{m.group(1)}{m.group(2)}={MASK}"
            if m.group(3) and _is_sensitive_param(m.group(2)) and not _only_references(m.group(3))
            else m.group(0),
            url,
        )
    shape = SECRET_PATH_URL.match(url)
    # A path holding a ${NAME} (or its masked value) has its credential there: Slack's
    # T../B.. ids are no secret.
    if shape and "${" not in shape.group(2) and MASK not in shape.group(2):
        url = shape.group(1) + MASK + "/" * shape.group(2).endswith("/") + url[shape.end():]
    return url


#: Webhook URLs whose path carries the credential (group 2): Slack's
#: ``hooks.slack.com/services/T../B../<token>`` (and workflows, triggers), Discord's
#: ``discord.com/api/webhooks/<id>/<token>``, Teams' ``<tenant>.webhook.office.com/webhookb2/...``.
SECRET_PATH_URL = re.compile(
    r"(https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/"
    r"|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/[^/?#]+/"
    r"|[\w.-]*\.webhook\.office\.com/webhookb2/"
    r"|outlook\.office(?:365)?\.com/webhook(?:b2)?/))([^?#]+)",
    re.IGNORECASE,
)


def split_url(url: str) -> SplitResult | None:
    """``urlsplit(url)``, or None for a URL urllib cannot split (``http://[::1/x``)."""
    try:
        parts = urlsplit(url)
        parts.password  # noqa: B018 - raises for some malformed netlocs too
        return parts
    except ValueError:
        return None


#: A ``((tag))`` in a URL's query value: filled from the record per request, no secret.
_TAG = re.compile(r"\(\(.*?\)\)|\{%.*?%\}")


def _only_references(value: str) -> bool:
    """Is ``value`` made of ``${NAME}`` references or ``((tags))`` only (a reference, or
    the name of a record's field, is no secret)?"""
    if "${" not in value and "((" not in value and "{%" not in value:
        return False
    return not _TAG.sub("", SECRET_REF.sub("", value)).strip()


def literal_secrets(url: str) -> set[str]:
    """Credentials typed into a URL as they are (not as ``${NAME}``): the values of
    credential query parameters (``token``, ``key``, ``secret``, ``password``, ``sig``,
    ``api_key``, ...), a password in the user-info, and the path of a webhook URL that
    carries its credential in the path (:data:`SECRET_PATH_URL`). They are masked like
    resolved ``${NAME}`` values."""
    from urllib.parse import unquote

    found: set[str] = set()
    parts = split_url(url)
    if parts and parts.password and not _only_references(parts.password):
        found.update({parts.password, unquote(parts.password)})
        userinfo = unquote(parts.netloc.rpartition("@")[0])
        if "${" not in userinfo:  # sent as "Authorization: Basic base64(user:password)"
            found.add(base64.b64encode(userinfo.encode("utf-8")).decode("ascii"))
    query = parts.query if parts else url.partition("?")[2].partition("#")[0]
    for match in _QUERY_PARAM.finditer("?" + query):
        name, value = match.group(2), match.group(3)
        if value and _is_sensitive_param(name) and not _only_references(value):
            found.update({value, unquote(value)})
    shape = SECRET_PATH_URL.match(url)
    if shape and "${" not in shape.group(2):
        path = shape.group(2)
        found.add(path.rstrip("/"))
        found.update(s for s in path.split("/") if _distinctive(s))
    return {s for s in found if len(s) >= 4}


_STORED_PIECE = re.compile(rf"{SECRET_REF.pattern}|[\s;,]+|(?:(?!\$\{{)[^\s;,])+")


def mask_stored_header(name: str, value: str) -> str:
    """A header line as ``macro show`` prints it: references stay, literal credentials go.

    ``Authorization: Bearer ${TOKEN}`` and ``Cookie: session=${SESSION}`` are safe to
    show as written (they name variables, not values), so ``macro show`` output adds back
    as the same macro; ``Authorization: Bearer abc123`` shows as ``Bearer ••••`` and
    ``Cookie: session=abc`` as ``session=••••``.
    """
    if not is_sensitive_header(name):
        return value
    out: list[str] = []
    first = True
    # Pieces: a reference, a run of separators, or a literal word (maybe name=value).
    for match in _STORED_PIECE.finditer(value):
        piece = match.group(0)
        if SECRET_REF.fullmatch(piece) or not piece.strip(" \t;,"):
            out.append(piece)
            continue
        if first and piece.lower() in AUTH_SCHEMES:
            out.append(piece)  # the scheme word: no secret
        elif "=" in piece:
            key, _, literal = piece.partition("=")
            out.append(f"{key}={MASK}" if literal else piece)
        else:
            out.append(MASK)
        first = False
    return "".join(out)


def mask_stored_text(value: str) -> str:
    """A stored secret-bearing value (``signing_secret``): references shown, literals masked."""
    if value and not SECRET_REF.sub("", value).strip():
        return value
    return MASK if value else value


_LOG_HEADER_KEYS = ("request_headers", "response_headers")


def mask_log_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a delivery log entry with credential headers and URL credentials masked
    (the engine masks when it logs; exports mask again, as defence in depth)."""
    masked = dict(entry)
    for key in _LOG_HEADER_KEYS:
        headers = masked.get(key)
        if isinstance(headers, dict):
            masked[key] = {k: mask_header_value(k, str(v)) for k, v in headers.items()}
        elif isinstance(headers, list):
            masked[key] = [
                [pair[0], mask_header_value(str(pair[0]), str(pair[1]))]
                if isinstance(pair, (list, tuple)) and len(pair) == 2 else pair
                for pair in headers
            ]
    if isinstance(masked.get("url"), str):
        masked["url"] = mask_url(masked["url"])
    return masked
