"""Where a request goes on a real network: which proxy, and which TLS certificates to trust.

Settings, most specific first: the macro's ``proxy`` / ``ca_bundle`` / ``verify`` keys,
then the config file's ``[delivery] proxy`` / ``ca_bundle``, then the environment
(``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY`` in either case, read by the
standard library's own rules; ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` through OpenSSL).

A ``ca_bundle`` *adds* a private CA to the system's trusted ones (it does not replace
them), so one macro can reach both an internal Jira and Slack.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cctui.errors import InputError

#: Proxy URL schemes aiohttp can talk to (a SOCKS proxy needs a package cctui does not use).
PROXY_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Network:
    """One run's network settings (the macro's over the config's); see the module doc."""

    proxy: str | None = None  # an explicit proxy URL: overrides the environment
    proxy_from: str = ""  # where ``proxy`` was set, for messages ("the macro's proxy key")
    ca_bundle: str | None = None
    ca_from: str = ""
    verify: bool = True

    def proxy_for(self, url: str, environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
        """``(proxy URL or None, where it comes from)`` for a request to ``url``."""
        if self.proxy:
            return self.proxy, self.proxy_from
        parts = urlsplit(url)
        proxy, where = _env_proxy(parts.scheme.lower(), parts.hostname or "", parts.port,
                                  _env_key(os.environ if environ is None else environ))
        if proxy:
            # Checked like a configured one: a socks5:// or unparsable value would
            # otherwise be spoken HTTP to, or fail each request naming only the url.
            check_proxy(proxy, where)
        return proxy, where


def _setting(source: Any, key: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(key)
    return getattr(source, key, None)


def _delivery(config: Any) -> Mapping:
    delivery = _setting(config, "delivery")
    return delivery if isinstance(delivery, Mapping) else {}


def network_for(macro: Any = None, config: Any = None) -> Network:
    """The settings a run of ``macro`` uses, checked (bad values raise InputError)."""
    delivery = _delivery(config)
    proxy, proxy_from = _setting(macro, "proxy"), "the macro's proxy key"
    if not proxy:
        proxy, proxy_from = delivery.get("proxy"), "[delivery] proxy in the config file"
    ca_bundle, ca_from = _setting(macro, "ca_bundle"), "the macro's ca_bundle key"
    if not ca_bundle:
        ca_bundle, ca_from = delivery.get("ca_bundle"), "[delivery] ca_bundle in the config file"
    verify = _setting(macro, "verify")
    written = str(proxy or "")
    if "${" in written:
        # As in the url and headers: a proxy password belongs in the environment, not the
        # macro file (an unset variable is an error before anything is sent).
        from cctui.macros.secrets import resolve

        proxy = resolve(written, os.environ, where=proxy_from.removeprefix("the "), found=set())
        try:
            check_proxy(str(proxy), proxy_from)
            if not _same_host(written, str(proxy)):
                raise InputError("a value moved the host")
        except InputError:
            # Never the resolved value: a password that breaks the URL would show in clear.
            raise InputError(f"{proxy_from}: the proxy {_shown(written)!r} is not a usable http:// or "
                             "https:// URL once its ${NAME} values are filled in; percent-encode a "
                             "'/', '?', '#', '@' or ':' in a password (%2F, %3F, %23, %40, %3A).") from None
    if proxy:
        check_proxy(str(proxy), proxy_from)
    if ca_bundle:
        ca_bundle = str(Path(str(ca_bundle)).expanduser())
    return Network(str(proxy) if proxy else None, proxy_from if proxy else "",
                   ca_bundle or None, ca_from if ca_bundle else "", verify is not False)


def _same_host(written: str, resolved: str) -> bool:
    """Does ``resolved`` reach the host and port ``written`` names? A password variable
    holding a '/' (``me:${PW}@proxy:3128`` with ``12/ab``) would make "me" the host."""
    try:
        before, after = urlsplit(written), urlsplit(resolved)
        if "${" in before.netloc.rpartition("@")[2]:
            return True  # the host itself comes from a variable
        return (before.hostname, before.port) == (after.hostname, after.port)
    except ValueError:
        return False


def check_proxy(proxy: str, where: str) -> str:
    """``proxy`` if it is an http:// or https:// URL with a host, else an InputError."""
    try:
        parts = urlsplit(proxy)
        _port = parts.port  # raises ValueError for a port that is not a number
        ok = parts.scheme.lower() in PROXY_SCHEMES and bool(parts.hostname)
    except ValueError:  # an unclosed "[", a port that is not a number
        ok = False
    if not ok or any(c.isspace() for c in proxy):
        raise InputError(f"{where}: the proxy {_shown(proxy)!r} must be an http:// or https:// URL "
                         "with a host, such as \"http://proxy.example:3128\".")
    return proxy


def _shown(proxy: str) -> str:
    from cctui.macros.secrets import mask_url

    return mask_url(proxy)


def _env_key(environ: Mapping[str, str]) -> tuple:
    return tuple(sorted((k, v) for k, v in environ.items() if k.lower().endswith("_proxy")))


@lru_cache(maxsize=256)
def _env_proxy(scheme: str, host: str, port: int | None, env: tuple) -> tuple[str | None, str]:
    # The standard library's reading of the *_proxy variables (lower case wins over upper
    # case; HTTP_PROXY is ignored under CGI), plus ALL_PROXY for any scheme.
    proxies: dict[str, str] = {}
    for name, value in env:
        if value:
            proxies.setdefault(name.lower()[:-6], value)
    for name, value in env:  # lower case last, so it wins
        if value and name.islower():
            proxies[name[:-6]] = value
    if "REQUEST_METHOD" in os.environ:
        proxies.pop("http", None)
    chosen, variable = proxies.get(scheme), f"{scheme.upper()}_PROXY"
    if not chosen:
        chosen, variable = proxies.get("all"), "ALL_PROXY"
    if not chosen:
        return None, ""
    bypass_for = f"{host}:{port}" if port else host
    # NO_PROXY matching as urllib does it; undocumented, so typeshed does not list it
    if urllib.request.proxy_bypass_environment(bypass_for, proxies):  # type: ignore[attr-defined]
        return None, ""
    if "://" not in chosen:
        chosen = f"http://{chosen}"  # curl's reading of "proxy.example:3128"
    return chosen, f"the environment variable {variable}"


def cert_env() -> tuple[str | None, str | None]:
    """``SSL_CERT_FILE`` and ``SSL_CERT_DIR``: where OpenSSL's default context looks."""
    return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")


def ssl_context(network: Network, ready: tuple[str | None, str | None] | None = None) -> ssl.SSLContext | bool:
    """What aiohttp's ``ssl=`` gets: a verifying context (the system CAs, plus the
    ``ca_bundle`` when set), or ``False`` for ``verify = false``. ``ready``: the
    :func:`cert_env` that aiohttp's own verifying context was made with (at its import);
    while it still holds, ``True`` reuses that context (loading the CAs again would
    cost 20-50 ms at the start of every run)."""
    if not network.verify:
        return False
    if not network.ca_bundle:
        where = cert_env()
        return True if where == ready else _default_context(*where)
    return _bundle_context(network.ca_bundle, network.ca_from)


@lru_cache(maxsize=4)
def _default_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # Made once per SSL_CERT_FILE / SSL_CERT_DIR, which create_default_context() reads.
    return ssl.create_default_context()


def _bundle_context(path: str, where: str) -> ssl.SSLContext:
    context = ssl.create_default_context()  # the system's CAs (and SSL_CERT_FILE) first
    try:
        context.load_verify_locations(cafile=path)
    except FileNotFoundError:
        raise InputError(f"{where}: the CA bundle {path} does not exist.") from None
    except IsADirectoryError:
        raise InputError(f"{where}: the CA bundle {path} is a directory; give a .pem file.") from None
    except PermissionError:
        raise InputError(f"{where}: the CA bundle {path} cannot be read (permission denied).") from None
    except (ssl.SSLError, ValueError, OSError) as exc:
        raise InputError(f"{where}: the CA bundle {path} holds no PEM certificate cctui can load "
                         f"({getattr(exc, 'reason', None) or exc}).") from None
    return context


def proxy_credentials(network: Network, url: str) -> frozenset[str]:
    """The credentials of the proxy a request to ``url`` goes through (its password, and
    ``user:password``, whose base64 is the ``Proxy-Authorization`` sent), as secrets to
    mask: a proxy that passes that header on, or a proxy setting that points at the
    receiver itself, echoes them back in what the log keeps."""
    proxy, _ = network.proxy_for(url)
    parts = urlsplit(proxy) if proxy else None
    if parts is None or parts.password is None:
        return frozenset()
    user, password = unquote(parts.username or ""), unquote(parts.password)
    return frozenset(s for s in (password, f"{user}:{password}", parts.password) if s)


def describe(network: Network, url: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Lines for a preview: the proxy a request to ``url`` goes through and the extra CA
    bundle (``verify = false`` is one of the request's own warnings)."""
    notes = []
    proxy, where = network.proxy_for(url, environ)
    if proxy:
        notes.append(f"sent through the proxy {_shown(proxy)} (from {where}).")
    if network.ca_bundle:
        notes.append(f"TLS certificates signed by the CAs in {network.ca_bundle} are trusted too "
                     f"(from {network.ca_from}).")
    return notes
