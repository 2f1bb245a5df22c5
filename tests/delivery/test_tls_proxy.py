"""Private CAs and proxies, against real servers on 127.0.0.1: HTTPS servers whose
certificates come from test CAs (trustme), and a real forward proxy (proxy.py, run as
its own process) that also tunnels HTTPS with CONNECT."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import trustme
from aiohttp import web

from cctui.delivery.engine import Engine
from cctui.delivery.network import Network, _env_key, _env_proxy
from cctui.errors import InputError

from .conftest import FAST, add_items, put_macro

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def wait_for(condition, timeout: float = 15.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")



@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    """Each test starts with no *_PROXY variable, whatever the machine has."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="module")
def cas(tmp_path_factory):
    """Two test CAs, each with a certificate for 127.0.0.1 and its PEM file."""
    where = tmp_path_factory.mktemp("cas")
    out = []
    for n in (1, 2):
        ca = trustme.CA()
        pem = where / f"ca{n}.pem"
        ca.cert_pem.write_to_path(str(pem))
        out.append(SimpleNamespace(ca=ca, pem=str(pem), cert=ca.issue_cert("127.0.0.1", "localhost")))
    return out


class HttpsServer:
    """An aiohttp HTTPS server on 127.0.0.1 with a certificate issued by ``issued``."""

    def __init__(self, issued) -> None:
        self.issued = issued
        self.hits = 0

    async def __aenter__(self) -> HttpsServer:
        import ssl

        async def hook(request):
            await request.read()
            self.hits += 1
            return web.Response(text="tls ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.issued.configure_cert(context)
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


class PlainServer(HttpsServer):
    def __init__(self) -> None:
        self.hits = 0

    async def __aenter__(self) -> PlainServer:
        async def hook(request):
            await request.read()
            self.hits += 1
            return web.Response(text="plain ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self


def _start_proxy(where, *extra: str):
    port_file, log_file = where / "port", where / "access.log"
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0", "--port-file",
         str(port_file), "--num-workers", "1", "--num-acceptors", "1", "--log-file", str(log_file), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        port = int(wait_for(lambda: port_file.exists() and port_file.read_text().strip(), what="proxy.py"))
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True,
                 what="proxy.py to accept")
        return process, SimpleNamespace(url=f"http://127.0.0.1:{port}", log=log_file, port=port)
    except BaseException:
        _stop(process)
        raise


def _stop(process) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture(scope="module")
def forward_proxy(tmp_path_factory):
    """proxy.py as a real forward proxy in its own process group; its access log tells
    which requests (and CONNECT tunnels) went through it."""
    process, proxy = _start_proxy(tmp_path_factory.mktemp("proxy"))
    yield proxy
    _stop(process)


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory):
    """proxy.py requiring Basic credentials (me / pw) from its clients."""
    process, proxy = _start_proxy(tmp_path_factory.mktemp("auth-proxy"), "--basic-auth", "me:pw")
    yield proxy
    _stop(process)

def proxied(proxy, needle: str) -> bool:
    """The proxy's access log has a line with ``needle`` (e.g. "CONNECT 127.0.0.1:1234")."""
    return proxy.log.exists() and needle in proxy.log.read_text(errors="replace")


def config(**delivery):
    return SimpleNamespace(delivery={**FAST, **delivery}, base_url=None)


def run(store, server_factory, macro_keys=None, delivery=None, records: int = 1):
    """Run macro "hook" at the server's /hook; returns (summary, newest log entry, server)."""
    ids = add_items(store, records)

    async def main():
        async with server_factory() as server:
            put_macro(store, url=server.url + "/hook", **(macro_keys or {}))
            summary = await Engine(store, config(**(delivery or {}))).run("hook", ids)
            return summary, server

    summary, server = asyncio.run(main())
    return summary, next(iter(store.log_iter())), server


# -- private CAs -----------------------------------------------------------------------

def test_a_private_ca_is_refused_without_ca_bundle_with_a_tls_error(store, cas):
    summary, entry, server = run(store, lambda: HttpsServer(cas[0].cert), delivery={"retry_schedule": [0.01]})
    assert summary.failed == 1 and server.hits == 0
    assert entry["status_code"] == 0
    assert entry["error"].startswith(f"TLS certificate of 127.0.0.1:{server.port} not trusted: ")
    assert entry["error"].endswith("unable to get local issuer certificate (a private CA goes in ca_bundle)")
    assert "TLS" in entry["explanation"]["title"] or "certificate" in entry["explanation"]["title"].lower()


def test_ca_bundle_in_the_macro_trusts_the_private_ca(store, cas):
    summary, entry, server = run(store, lambda: HttpsServer(cas[0].cert), {"ca_bundle": cas[0].pem}, records=3)
    assert summary.delivered == 3 and server.hits == 3 and entry["response_body"] == "tls ok"


def test_ca_bundle_in_the_config_trusts_the_private_ca(store, cas):
    summary, _, server = run(store, lambda: HttpsServer(cas[0].cert), delivery={"ca_bundle": cas[0].pem})
    assert summary.delivered == 1 and server.hits == 1


def test_ca_bundle_adds_to_the_system_cas_rather_than_replacing_them(store, cas, monkeypatch):
    """SSL_CERT_FILE stands in for the system store (it is where OpenSSL looks): with it,
    a server signed by CA 2 is trusted although the macro's ca_bundle names only CA 1."""
    keys = {"ca_bundle": cas[0].pem}
    summary, entry, _ = run(store, lambda: HttpsServer(cas[1].cert), keys, delivery={"retry_schedule": [0.01]})
    assert summary.failed == 1 and "not trusted" in entry["error"]
    monkeypatch.setenv("SSL_CERT_FILE", cas[1].pem)
    summary, _, server = run(store, lambda: HttpsServer(cas[1].cert), keys)
    assert summary.delivered == 1 and server.hits == 1
    summary, _, server = run(store, lambda: HttpsServer(cas[0].cert), keys)
    assert summary.delivered == 1 and server.hits == 1


def test_ssl_cert_file_set_after_aiohttp_was_imported_is_still_honoured(store, cas, monkeypatch):
    # Without a ca_bundle cctui reuses the context aiohttp made at import, but only while
    # SSL_CERT_FILE / SSL_CERT_DIR are what they were then.
    summary, entry, _ = run(store, lambda: HttpsServer(cas[1].cert), delivery={"retry_schedule": [0.01]})
    assert summary.failed == 1 and "not trusted" in entry["error"]
    monkeypatch.setenv("SSL_CERT_FILE", cas[1].pem)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    summary, _, server = run(store, lambda: HttpsServer(cas[1].cert))
    assert summary.delivered == 1 and server.hits == 1


def test_verify_false_sends_and_every_log_entry_carries_the_warning(store, cas):
    summary, entry, server = run(store, lambda: HttpsServer(cas[0].cert), {"verify": False}, records=2)
    assert summary.delivered == 2 and server.hits == 2
    for entry in store.log_iter():
        assert entry["warning"].startswith("verify = false: the receiver's TLS certificate is not checked")


def test_preview_warns_about_verify_false_and_names_the_ca_bundle(run_cli, cas, tmp_path):
    run_cli("feedback", "add", "--type", "bug", "--title", "t")
    path = tmp_path / "m.toml"
    path.write_text(f'name = "tls"\nurl = "https://127.0.0.1:1/hook"\nverify = false\nca_bundle = "{cas[0].pem}"\n'
                    'body = \'{"t": "((title))"}\'\n')
    assert run_cli("macro", "add", str(path))[0] == 0
    code, out, err = run_cli("macro", "preview", "tls", "--item", "BUG-0001")
    assert code == 0 and out.startswith("POST https://127.0.0.1:1/hook\n")
    assert "warning: verify = false: the receiver's TLS certificate is not checked" in err
    assert f"note: TLS certificates signed by the CAs in {cas[0].pem} are trusted too" in err
    shown = run_cli("macro", "show", "tls")[1]
    assert "verify = false" in shown and f'ca_bundle = "{cas[0].pem}"' in shown


def test_a_missing_ca_bundle_is_one_sentence_at_add_and_at_send(run_cli, tmp_path, monkeypatch):
    path = tmp_path / "m.toml"
    path.write_text('name = "tls"\nurl = "https://127.0.0.1:1/hook"\nca_bundle = "/nowhere/ca.pem"\n')
    code, _, err = run_cli("macro", "add", str(path))
    assert code == 2 and err.strip() == (f"cctui: {path}: key 'ca_bundle': /nowhere/ca.pem does not exist "
                                         "(give a .pem file of CA certificates).")
    path.write_text('name = "tls"\nurl = "https://127.0.0.1:1/hook"\n')
    assert run_cli("macro", "add", str(path))[0] == 0
    run_cli("feedback", "add", "--type", "bug", "--title", "t")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[delivery]\nca_bundle = "/nowhere/ca.pem"\n')
    monkeypatch.setenv("CCTUI_CONFIG", str(cfg))
    code, out, err = run_cli("send", "tls", "--all")
    assert code == 2
    assert err.strip() == ("cctui: [delivery] ca_bundle in the config file: the CA bundle /nowhere/ca.pem "
                           "does not exist.")
    assert run_cli("logs", "--json")[1] == ""  # nothing was sent or logged


# -- proxies -----------------------------------------------------------------------------

def test_http_proxy_from_the_environment_carries_plain_http(store, forward_proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    summary, entry, server = run(store, PlainServer, records=2)
    assert summary.delivered == 2 and server.hits == 2
    wait_for(lambda: proxied(forward_proxy, f"POST 127.0.0.1:{server.port}/hook"), what="the proxy's log")


def test_https_goes_through_the_proxy_with_connect(store, forward_proxy, cas, monkeypatch):
    monkeypatch.setenv("https_proxy", forward_proxy.url)  # lower case works too
    summary, _, server = run(store, lambda: HttpsServer(cas[0].cert), {"ca_bundle": cas[0].pem})
    assert summary.delivered == 1 and server.hits == 1
    wait_for(lambda: proxied(forward_proxy, f"CONNECT 127.0.0.1:{server.port}"), what="a CONNECT in the log")


def test_all_proxy_is_used_when_no_scheme_has_its_own(store, forward_proxy, monkeypatch):
    monkeypatch.setenv("ALL_PROXY", forward_proxy.url)
    summary, _, server = run(store, PlainServer)
    assert summary.delivered == 1
    wait_for(lambda: proxied(forward_proxy, f"127.0.0.1:{server.port}/hook"), what="the proxy's log")


def test_no_proxy_sends_directly(store, closed_port, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")  # would fail if used
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    summary, _, server = run(store, PlainServer)
    assert summary.delivered == 1 and server.hits == 1


def test_the_macro_proxy_overrides_the_environment(store, forward_proxy, closed_port, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # an explicit proxy is used all the same
    summary, _, server = run(store, PlainServer, {"proxy": forward_proxy.url})
    assert summary.delivered == 1
    wait_for(lambda: proxied(forward_proxy, f"127.0.0.1:{server.port}/hook"), what="the proxy's log")


def test_the_config_proxy_is_used_and_a_dead_proxy_is_named_in_the_log(store, forward_proxy, closed_port):
    summary, _, server = run(store, PlainServer, delivery={"proxy": forward_proxy.url})
    assert summary.delivered == 1
    wait_for(lambda: proxied(forward_proxy, f"127.0.0.1:{server.port}/hook"), what="the proxy's log")
    dead = f"http://127.0.0.1:{closed_port}"
    summary, entry, server = run(store, PlainServer, delivery={"proxy": dead, "retry_schedule": [0.01]})
    assert summary.failed == 1 and server.hits == 0
    assert entry["error"] == (f"cannot connect to the proxy {dead} (from [delivery] proxy in the config file): "
                              "connection refused")


def test_proxy_credentials_in_the_url_are_sent_to_the_proxy_and_masked(store, auth_proxy, cas):
    keys = {"proxy": auth_proxy.url.replace("http://", "http://me:pw@"), "ca_bundle": cas[0].pem}
    summary, _, server = run(store, lambda: HttpsServer(cas[0].cert), keys)
    assert summary.delivered == 1 and server.hits == 1
    wait_for(lambda: proxied(auth_proxy, f"CONNECT 127.0.0.1:{server.port}"), what="a CONNECT in the log")
    summary, _, server = run(store, PlainServer, keys)  # plain http: the request itself goes to the proxy
    assert summary.delivered == 1 and server.hits == 1
    keys["proxy"] = auth_proxy.url.replace("http://", "http://me:wrong@")
    summary, entry, server = run(store, lambda: HttpsServer(cas[0].cert), keys,
                                 delivery={"retry_schedule": [0.01]})
    assert summary.failed == 1 and server.hits == 0
    assert entry["error"].startswith(f"the proxy http://me:••••@127.0.0.1:{auth_proxy.port} (from the macro's "
                                     "proxy key) refused the connection: 407")
    assert "wrong" not in str(entry)


def test_preview_names_the_proxy_a_send_would_use(run_cli, tmp_path, monkeypatch):
    run_cli("feedback", "add", "--type", "bug", "--title", "t")
    path = tmp_path / "m.toml"
    path.write_text('name = "p"\nurl = "https://hooks.example/x"\n')
    run_cli("macro", "add", str(path))
    monkeypatch.setenv("HTTPS_PROXY", "http://corp-proxy.example:3128")
    err = run_cli("macro", "preview", "p", "--item", "BUG-0001")[2]
    assert ("note: sent through the proxy http://corp-proxy.example:3128 (from the environment "
            "variable HTTPS_PROXY).") in err
    path.write_text('name = "p"\nurl = "https://hooks.example/x"\nproxy = "http://me:pw@other.example:8080"\n')
    run_cli("macro", "add", str(path))
    err = run_cli("macro", "preview", "p", "--item", "BUG-0001")[2]
    assert "note: sent through the proxy http://me:••••@other.example:8080 (from the macro's proxy key)." in err
    shown = run_cli("macro", "show", "p")[1]
    assert 'proxy = "http://me:••••@other.example:8080"' in shown and "pw" not in shown


@pytest.mark.parametrize("env,url,expected", [
    ({"HTTPS_PROXY": "http://a:1"}, "https://h.example/", ("http://a:1", "HTTPS_PROXY")),
    ({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:1"}, "https://h.example/", ("http://low:1", "HTTPS_PROXY")),
    ({"HTTPS_PROXY": "http://a:1"}, "http://h.example/", (None, "")),
    ({"HTTP_PROXY": "http://b:1", "ALL_PROXY": "http://c:1"}, "http://h.example/", ("http://b:1", "HTTP_PROXY")),
    ({"all_proxy": "c.example:3128"}, "https://h.example/", ("http://c.example:3128", "ALL_PROXY")),
    ({"ALL_PROXY": "http://c:1", "NO_PROXY": ".example"}, "https://h.example/", (None, "")),
    ({"ALL_PROXY": "http://c:1", "no_proxy": "*"}, "https://h.example/", (None, "")),
    ({"ALL_PROXY": "http://c:1", "NO_PROXY": "other.example"}, "https://h.example/", ("http://c:1", "ALL_PROXY")),
])
def test_proxy_variables_any_case(env, url, expected):
    proxy, where = Network().proxy_for(url, env)
    assert (proxy, where.rpartition(" ")[2] if where else "") == expected


def test_a_socks_proxy_is_refused_in_one_sentence():
    from cctui.delivery.network import network_for

    with pytest.raises(InputError, match=r"^\[delivery\] proxy in the config file: the proxy "
                                         r"'socks5://p:1080' must be an http:// or https:// URL"):
        network_for(None, SimpleNamespace(delivery={"proxy": "socks5://p:1080"}))
    _env_proxy.cache_clear()
    assert _env_key({"X": "1", "ftp_proxy": "f"}) == (("ftp_proxy", "f"),)


@pytest.fixture
def https_in_thread(cas):
    """A stdlib HTTPS server (test CA 1's certificate) in a thread, for in-process CLI runs."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cas[0].cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_send_and_the_log_table_warn_about_verify_false(run_cli, store, https_in_thread):
    # The warning was only in `logs --json` and the preview: an operator running `send`
    # or reading `cctui logs` was never told the certificate went unchecked.
    add_items(store, 2)
    put_macro(store, url=f"{https_in_thread}/hook", verify=False)
    sent = run_cli("send", "hook", "--all")
    assert sent.code == 0, sent
    assert sent.err.count("verify = false: the receiver's TLS certificate is not checked") == 1, sent.err
    table = run_cli("logs").out.splitlines()
    assert len(table) == 3 and all(line.endswith("· TLS certificate not checked (verify = false)")
                                   for line in table[1:]), table
