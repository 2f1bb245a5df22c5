"""One record's request, rendered once and masked once, ready for an attempt.

A run prepares the same macro for many records: :class:`RequestFactory` works out once
what does not depend on the record (:class:`Fixed`: secrets, URL, headers, signing key and
their masked forms) and renders only the body per record. :mod:`cctui.delivery.attempt`
sends what this module prepares.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from cctui.core.clock import iso, now
from cctui.delivery.network import Network, network_for, proxy_credentials
from cctui.errors import CctuiError, MacroError
from cctui.macros import signing
from cctui.macros.budget import TemplateTooExpensive
from cctui.macros.request import VERIFY_WARNING, RenderedRequest, render_request
from cctui.macros.secrets import (
    MASK,
    mask_headers,
    mask_url,
    resolve,
    secret_variants,
)
from cctui.macros.tags import build_context
from cctui.macros.templating import has_tags
from cctui.macros.url_template import compile_url, render_url
from cctui.macros.userinfo import userinfo_refs, userinfo_value

if TYPE_CHECKING:
    from cctui.config import Config
    from cctui.macros.model import Macro
    from cctui.macros.source import RecordSource


#: ``scheme://authority`` of a rendered URL.
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


@dataclass
class Fixed:
    """What stays the same for every record of one run (secrets resolved once): the
    request line, headers, secrets and their masked forms."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    host: str
    secrets: frozenset[str]
    key: bytes | None
    masked_url: str
    masked_shown: Any  # the headers as previews show them (dict, or list of pairs)
    masked_headers: dict  # the macro's headers, masked, for the log
    order: tuple[str, ...]  # every form of every secret, longest first (worked out once per run)
    has_user_agent: bool
    warning: str | None = None  # shown in every log entry (verify = false)
    #: ``Proxy-Authorization`` for plain http through a proxy with credentials: it rides on
    #: the request itself, so the log lists it with the other headers sent.
    proxy_header: tuple[str, str] | None = None

    def mask(self, text: str) -> str:
        """``mask_text(text, secrets)`` with the run's precomputed secret variants."""
        if text:
            for secret in self.order:
                if secret in text:
                    text = text.replace(secret, MASK)
        return text


@dataclass
class Prepared:
    """A rendered request ready to send, plus what may be shown of it: the run's
    :class:`Fixed` parts and this record's body."""

    fixed: Fixed
    body: bytes
    masked: dict  # {"method", "url", "headers", "body"} with secrets masked

    @property
    def method(self) -> str:
        return self.fixed.method

    @property
    def url(self) -> str:
        return self.fixed.url

    @property
    def headers(self) -> list[tuple[str, str]]:
        return list(self.fixed.headers)

    @property
    def host(self) -> str:
        return self.fixed.host

    @property
    def secrets(self) -> frozenset[str]:
        return self.fixed.secrets

    @property
    def key(self) -> bytes | None:
        """HMAC key for webhook-signature."""
        return self.fixed.key

    @property
    def masked_headers(self) -> dict:
        """The macro's headers, masked (once per run)."""
        return self.fixed.masked_headers


class RequestFactory:
    """Prepares one macro's request for many records (one factory per run).

    Everything that does not depend on the record (``${SECRET}`` resolution, the URL and
    headers, the signing key, the masked URL and headers) is worked out once, from the
    first record, with :func:`cctui.macros.render_request`. For each further record only
    the body is rendered (the same compiled template and context that ``render_request``
    uses). Anything unusual (a tag the record lacks, a render error, a body that turns
    empty) goes through ``render_request`` itself, so errors read exactly the same.
    """

    def __init__(self, macro: Macro, store: RecordSource | None = None, config: Config | None = None,
                 environ: Mapping[str, str] = os.environ) -> None:
        self.macro = macro
        self.store = store
        self.config = config
        self.environ = environ
        self._fixed: dict[bool, Fixed] = {}  # by "the body is not empty"
        self._fast: tuple | None = None
        self._net: Network | None = None
        #: The URL has ((tags)): each record has its own (same host, user-info and secrets:
        #: tags stand only in the path and query), rendered on the fast path too; the log
        #: shows a failed render with the URL template.
        self.url_per_record = has_tags(macro.url)
        # Headers with ((tags)) differ per record: nothing about the request is fixed then.
        # Both worked out once here, so other macros pay nothing per record.
        self._per_record = any(has_tags(value) for _, value in macro.header_list)

    @property
    def fixed(self) -> Fixed | None:
        """The run's fixed request parts once a record was prepared (None before)."""
        return next(iter(self._fixed.values()), None)

    def prepare(self, record: dict) -> Prepared:
        """The request for ``record``; raises the macros' TemplateError/SecretError."""
        fast = self._fast
        if fast is not None and self._fixed and not self._per_record:
            compiled, target, base_url, extra, dynamic = fast
            if not any(name not in record for name in dynamic):
                context = build_context(record, target=target, store=self.store, base_url=base_url,
                                        extra_names=extra, now=iso_now())
                try:
                    body = compiled.render(context) if self.macro.body else ""
                except TemplateTooExpensive as exc:
                    # Not again through render_request: that would spend a second budget.
                    exc.args = (f"macro {self.macro.name}: {exc}",)
                    raise exc.with_traceback(None) from None
                except CctuiError:
                    body = None  # render_request below raises it with the macro's name
                fixed = self._fixed.get(bool(body)) if body is not None else None
                if fixed is not None and body is not None and self.url_per_record:
                    fixed = self._with_url(fixed, context)
                if fixed is not None and body is not None:
                    return _prepared(fixed, body)
        return self._full(record)

    def _with_url(self, fixed: Fixed, context: dict) -> Fixed | None:
        """The run's fixed parts with this record's URL (None: let :meth:`_full` render the
        record, so a refusal reads exactly as ``render_request`` words it)."""
        try:
            url = render_url(self.macro.url, context, self._resolve, f"macro {self.macro.name}")
        except CctuiError:
            return None
        origin = _ORIGIN.match(url)
        if origin is None:
            return None
        if "@" in origin.group(0):
            # The user-info went into the run's Authorization header (render_request); the
            # request line goes without it, as for the first record.
            scheme, _, authority = origin.group(0).partition("://")
            url = f"{scheme}://{authority.rpartition('@')[2]}{url[origin.end():]}"
        return replace(fixed, url=url, masked_url=mask_url(url, fixed.secrets))

    def _resolve(self, reference: str) -> str:
        # The same values the first record's full render resolved (and added to the
        # secrets), user-info ones percent-encoded as there (request._render_url).
        encode = userinfo_value if reference[2:-1] in userinfo_refs(self.macro.url) else None
        return resolve(reference, self.environ, where="url", found=set(), encode=encode)

    def _full(self, record: dict) -> Prepared:
        rendered = render_request(self.macro, record, store=self.store, config=self.config,
                                     environ=self.environ)
        fixed = self._fixed.get(bool(rendered.body))
        if fixed is None or self._per_record or self.url_per_record:
            fixed = self._fixed[bool(rendered.body)] = _fix(rendered, self._proxy_secrets(rendered.url))
            fixed.proxy_header = self._proxy_header(rendered.url)
            if not getattr(self.macro, "verify", True):
                fixed.warning = VERIFY_WARNING
        if self._fast is None:
            self._fast = self._fast_path()
        return _prepared(fixed, rendered.body)

    def _proxy_secrets(self, url: str) -> frozenset[str]:
        # Masked like the request's own secrets: what answers may echo Proxy-Authorization.
        try:
            return proxy_credentials(self._network(), url)
        except ValueError:
            # A url whose port is not a number fails as that request's error. (A proxy
            # cctui cannot use raises InputError here: the first record is prepared
            # before anything is sent, so the run stops there.)
            return frozenset()

    def _network(self) -> Network:
        # Once per run: a macro with header tags prepares every record in full.
        if self._net is None:
            self._net = network_for(self.macro, self.config)
        return self._net

    def _proxy_header(self, url: str) -> tuple[str, str] | None:
        if not url[:5].lower() == "http:":
            return None  # https: the credentials go on the CONNECT, to the proxy alone
        try:
            proxy, _ = self._network().proxy_for(url)
            parts = urlsplit(proxy) if proxy else None
        except ValueError:
            return None
        if parts is None or parts.username is None:
            return None
        credential = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        return ("Proxy-Authorization", "Basic " + base64.b64encode(credential.encode("latin-1")).decode("ascii"))

    def _fast_path(self) -> tuple:
        from cctui.macros.templating import ENV

        macro = self.macro
        compiled = macro.compiled()
        target = getattr(macro, "target", "feedback")
        config = self.config
        base_url = (config.get("base_url") if isinstance(config, Mapping)
                    else getattr(config, "base_url", None)) if config is not None else None
        schema = getattr(self.store, "schema", None)
        extra = frozenset(macro.field_names) | frozenset(getattr(schema, "extra_fields", ()) or ())
        # Names every context has (standard fields, computed tags, extra names): only
        # the template's other names depend on the record.
        known = set(build_context({}, target=target, base_url=base_url, extra_names=extra, now=""))
        known |= set(ENV.globals)
        names = compiled.names | (compile_url(macro.url).names if self.url_per_record else frozenset())
        dynamic = tuple(sorted(name for name in names if name not in known))
        return compiled, target, base_url, extra, dynamic


def _fix(rendered: RenderedRequest, extra_secrets: frozenset[str] = frozenset()) -> Fixed:
    secrets = set(rendered.secrets) | extra_secrets
    key = None
    signing_secret = getattr(rendered, "signing_secret", None)
    if signing_secret:
        secrets.add(signing_secret)
        key = signing.secret_key(signing_secret)
    masked = rendered.masked()
    host = urlsplit(rendered.url).hostname or ""
    if not host:
        raise MacroError(f"url: {masked['url']!r} has no host name.")
    headers = tuple(rendered.headers)
    return Fixed(
        rendered.method, rendered.url, headers, host, frozenset(secrets), key, masked["url"],
        masked["headers"], _as_dict(mask_headers(list(headers), secrets)),
        secret_variants(secrets),  # raw, percent-encoded, JSON-escaped, base64 user:pass
        any(name.lower() == "user-agent" for name, _ in headers),
    )


def _prepared(fixed: Fixed, body: str) -> Prepared:
    masked = {"method": fixed.method, "url": fixed.masked_url, "headers": fixed.masked_shown,
              "body": fixed.mask(body)}
    return Prepared(fixed, body.encode("utf-8"), masked)


_last_second: list = [None, ""]


def iso_now() -> str:
    """``iso()`` of now, formatted at most once per second (``CCTUI_NOW`` honoured)."""
    return stamp()[1]


def stamp() -> tuple[int, str]:
    """(unix seconds, ISO 8601) of now for one attempt (``CCTUI_NOW`` honoured); the ISO
    text is formatted at most once per second (a run makes thousands of attempts a second)."""
    if os.environ.get("CCTUI_NOW"):
        moment = now()
        return int(moment.timestamp()), iso(moment)
    second = int(time.time())
    if _last_second[0] != second:
        _last_second[1] = iso(datetime.fromtimestamp(second, UTC))
        _last_second[0] = second
    return second, _last_second[1]



def _as_dict(headers: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out
