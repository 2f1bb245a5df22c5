"""Proxy credentials stay masked even when what answers echoes them back: a proxy that
passes ``Proxy-Authorization`` on, or a "proxy" setting that points at the receiver
itself, returns the credentials in the body and headers the log keeps."""

from __future__ import annotations

import asyncio
import base64
import json
from types import SimpleNamespace

import pytest
from aiohttp import web

from cctui.delivery.engine import Engine

from .conftest import FAST, add_items, put_macro

USER, PASSWORD = "relay-bot", "Pr0xy-pa55word"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


async def echo_server(seen: list | None = None):
    """An aiohttp server that answers any request, proxy-style absolute URLs included,
    with the headers it got: in the body (JSON) and in response headers (and appends them
    to ``seen``)."""

    async def echo(request):
        await request.read()
        headers = dict(request.headers)
        if seen is not None:
            seen.append(headers)
        return web.Response(text=json.dumps({"url": str(request.url), "headers": headers}),
                            headers={"X-Seen-Proxy-Auth": headers.get("Proxy-Authorization", "")})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"127.0.0.1:{port}"


def send_via_echo(store, proxy, *, seen: list | None = None, env=None):
    """Send one record to the echoing server, which is also the proxy ``proxy(where)``
    names: a macro ``proxy``, or ``HTTP_PROXY`` when ``env`` (a monkeypatch) is given.
    Returns the run's summary."""
    ids = add_items(store, 1)

    async def main():
        runner, where = await echo_server(seen)
        try:
            keys = {} if env is not None else {"proxy": proxy(where)}
            if env is not None:
                env.setenv("HTTP_PROXY", proxy(where))
            put_macro(store, url=f"http://{where}/hook", **keys)
            return await Engine(store, SimpleNamespace(delivery=dict(FAST), base_url=None)).run("hook", ids)
        finally:
            await runner.cleanup()

    return asyncio.run(main())


def send_through_echoing_proxy(store, *, macro_proxy: bool, monkeypatch) -> dict:
    summary = send_via_echo(store, lambda where: f"http://{USER}:{PASSWORD}@{where}",
                            env=None if macro_proxy else monkeypatch)
    assert summary.delivered == 1
    return next(iter(store.log_iter()))


@pytest.mark.parametrize("macro_proxy", [True, False], ids=["macro-proxy", "env-proxy"])
def test_proxy_credentials_echoed_back_are_masked_in_the_log(store, macro_proxy, monkeypatch):
    entry = send_through_echoing_proxy(store, macro_proxy=macro_proxy, monkeypatch=monkeypatch)
    assert "Proxy-Authorization" in entry["response_body"]  # the echo did come back
    text = json.dumps(entry)
    assert BASIC not in text and PASSWORD not in text
    assert entry["response_headers"]["x-seen-proxy-auth"] == "Basic ••••"


def test_a_macro_proxy_reads_its_password_from_a_variable_and_masks_it(store, monkeypatch):
    # proxy = "http://user:${VAR}@host" was sent with the literal "${VAR}" as the password
    # (the proxy answered 407), while url and headers resolve ${VAR}.
    monkeypatch.setenv("PROXY_PW", PASSWORD)
    seen: list[dict] = []
    summary = send_via_echo(store, lambda where: f"http://{USER}:${{PROXY_PW}}@{where}", seen=seen)
    assert summary.delivered == 1
    assert [h.get("Proxy-Authorization") for h in seen] == [f"Basic {BASIC}"]
    (entry,) = store.log_iter()
    echoed = json.loads(entry["response_body"])["headers"]["Proxy-Authorization"]
    assert echoed == "Basic ••••"  # the real credentials arrived, and are masked
    assert BASIC not in json.dumps(entry) and PASSWORD not in json.dumps(entry)


def test_a_macro_proxy_variable_that_is_not_set_stops_send_in_one_sentence(run_cli, store):
    add_items(store, 1)
    put_macro(store, url="http://127.0.0.1:9/hook", proxy="http://me:${PROXY_PW}@127.0.0.1:9")
    code, out, err = run_cli("send", "hook", "--all")
    assert code == 2, (code, out, err)
    assert err.strip().count("\n") == 0 and "PROXY_PW" in err and "proxy" in err
    assert list(store.log_iter()) == []


@pytest.mark.parametrize("variable, value", [
    ("ALL_PROXY", "socks5://127.0.0.1:1080"),  # SOCKS is not supported: it was spoken HTTP to
    ("HTTP_PROXY", "http://127.0.0.1:notaport"),  # "request not sent: ValueError: Invalid URL"
    ("http_proxy", "http://[::1"),
])
def test_a_proxy_variable_cctui_cannot_use_stops_send_and_preview_naming_it(run_cli, store, variable, value):
    ids = add_items(store, 1)
    put_macro(store, url="http://127.0.0.1:9/hook")
    for args in (("send", "hook", "--all"), ("macro", "preview", "hook", "--item", ids[0])):
        code, out, err = run_cli(*args, env={variable: value})
        assert code == 2, (args, code, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and f"the environment variable {variable.upper()}" in lines[0], err
        assert "must be an http:// or https:// URL" in lines[0] and "Traceback" not in err
    assert list(store.log_iter()) == []


def test_a_config_proxy_with_a_port_that_is_not_a_number_is_refused_before_sending(run_cli, store, tmp_path,
                                                                                   monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[delivery]\nproxy = "http://me:Pw-9x@127.0.0.1:notaport"\n')
    monkeypatch.setenv("CCTUI_CONFIG", str(config))
    add_items(store, 1)
    put_macro(store, url="http://127.0.0.1:9/hook")
    code, out, err = run_cli("send", "hook", "--all")
    assert code == 2 and "[delivery] proxy in the config file" in err and "Pw-9x" not in err, (code, out, err)
    assert list(store.log_iter()) == []


def test_a_proxy_that_never_answers_is_named_in_the_timeout(store):
    # An https:// proxy setting in front of a plain proxy (or a proxy that hangs) ended in
    # "timed out after 1 s": nothing said the proxy was where it hung.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts (the kernel does) and never answers
    port = listener.getsockname()[1]
    try:
        ids = add_items(store, 1)
        put_macro(store, url="http://192.0.2.1/hook", proxy=f"http://me:{PASSWORD}@127.0.0.1:{port}", timeout=1)
        config = SimpleNamespace(delivery={**FAST, "retry_schedule": []}, base_url=None)
        summary = asyncio.run(Engine(store, config).run("hook", ids))
    finally:
        listener.close()
    assert summary.failed == 1
    (entry,) = store.log_iter()
    assert entry["error"] == (f"timed out after 1 s (through the proxy http://me:••••@127.0.0.1:{port}, "
                              "from the macro's proxy key)")


@pytest.mark.parametrize("password", ["Pr0x/y-Pass@word", "1234/Pass@word"])  # the second parses, host "me"
def test_a_proxy_password_variable_that_breaks_the_url_is_not_shown(run_cli, store, password):
    add_items(store, 1)
    put_macro(store, url="http://127.0.0.1:9/hook", proxy="http://me:${PROXY_PW}@127.0.0.1:9")
    for args in (("send", "hook", "--all"), ("macro", "preview", "hook", "--item", "BUG-0001")):
        code, out, err = run_cli(*args, env={"PROXY_PW": password})
        assert code == 2, (args, code, out, err)
        assert "${PROXY_PW}" in err and "percent-encode" in err, err
        assert password.split("/")[0] not in out + err and "Pass@word" not in out + err


def test_the_log_lists_the_proxy_authorization_a_plain_http_request_carried(store):
    # Plain http goes to the proxy with Proxy-Authorization on the request itself; the log's
    # request_headers did not list it ("what the log says was sent is what was sent").
    seen: list[dict] = []
    summary = send_via_echo(store, lambda where: f"http://{USER}:{PASSWORD}@{where}", seen=seen)
    assert summary.delivered == 1
    assert [h.get("Proxy-Authorization") for h in seen] == [f"Basic {BASIC}"]  # sent once
    (entry,) = store.log_iter()
    assert entry["request_headers"]["Proxy-Authorization"] == "Basic ••••"
