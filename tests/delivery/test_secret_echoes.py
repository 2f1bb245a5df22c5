"""A ``${VAR}`` URL is a secret in every form a hostile server can send it back in: a
``Location`` (absolute or relative), a 404 that echoes the path, a JSON echo of the whole
request (``\\/`` escaped), and the error text of a URL that cannot be reached or parsed.
None of it may reach ``send`` output, ``logs``, exports or any file in the data dir."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from aiohttp import web

from cctui.delivery.receiver import Receiver, serve_in_background
from cctui.delivery.transport import BODY_LIMIT
from cctui.macros.secrets import MASK, mask_text, secret_parts

from .conftest import add_items, put_macro

TEAM, BOT, TOKEN = "T0AAAA17", "B0BBBB29", "Xk9q2LmZtokQ"
API_TOKEN = "api-7f3e9c1d"


@dataclass
class Hostile(Receiver):
    """Answers by the path's last segment, always echoing what it got."""

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        last = request.path.rstrip("/").rsplit("/", 1)[-1]
        if last.startswith("redirect-abs"):
            return web.Response(status=302, headers={"Location": f"{request.url}/moved"})
        if last.startswith("redirect-rel"):
            return web.Response(status=301, headers={"Location": f"{request.path}/"})
        if last.startswith("cut"):
            # 64 KiB of padding, then the path: cctui keeps 64 KiB, so it is cut half-way
            # through the token (the log would keep its first half).
            pad = BODY_LIMIT - len(request.path) + len(TOKEN) // 2
            return web.Response(status=404, text="x" * pad + request.path + " not found")
        if last.startswith("notfound"):
            return web.Response(status=404, text=f"Cannot POST {request.path}")
        echo = {"url": str(request.url), "path": request.path, "raw": request.raw_path,
                "headers": dict(request.headers), "body": body.decode()}
        # PHP-style JSON: "/" written as "\/".
        return web.Response(text=json.dumps(echo).replace("/", "\\/"), content_type="application/json")


@pytest.fixture
def hostile():
    url, stop = serve_in_background(receiver=Hostile())
    yield url
    stop()


def leaked_forms(url: str) -> set[str]:
    """The secret URL and the parts of it a server might send back on their own."""
    path = url.split("/", 3)[3]
    forms = {url, path, TEAM, BOT, TOKEN, API_TOKEN, f"{BOT}/{TOKEN}"}
    forms |= {f.replace("/", "\\/") for f in forms} | {quote(f, safe="") for f in forms}
    return forms


def assert_nowhere(forms: set[str], outputs: list[str], data_dir) -> None:
    for form in sorted(forms):
        for number, text in enumerate(outputs):
            assert form not in text, (form, number, text[:2000])
        for path in data_dir.rglob("*"):
            if path.is_file():
                assert form.encode() not in path.read_bytes(), (form, path)


@pytest.mark.parametrize("mode", ["redirect-abs", "redirect-rel", "notfound", "echo"])
def test_a_secret_url_never_comes_back_in_clear(cli, store, hostile, data_dir, monkeypatch,
                                                fast_cli_config, mode, tmp_path):
    secret_url = f"{hostile}/services/{TEAM}/{BOT}/{mode}-{TOKEN}"
    monkeypatch.setenv("HOOK_URL", secret_url)
    monkeypatch.setenv("API_TOKEN", API_TOKEN)
    add_items(store, 1)
    put_macro(store, url="${HOOK_URL}", headers="Authorization: Bearer ${API_TOKEN}")
    outputs = [cli("send", "hook", "--all", "--json"), cli("send", "hook", "--all"),
               cli("logs"), cli("logs", "--json")]
    for fmt in ("csv", "json", "jsonl"):
        out = tmp_path / f"logs.{fmt}"
        outputs.append(cli("export", "logs", "--format", fmt, "-o", str(out)))
        outputs.append(type("R", (), {"output": out.read_text(encoding="utf-8")})())
    entries = list(store.log_iter(macro="hook"))
    assert len(entries) == 2 and all(e["status_code"] == {"redirect-abs": 302, "redirect-rel": 301,
                                                          "notfound": 404, "echo": 200}[mode] for e in entries)
    # The server really did send the secret back, and cctui masked it.
    if mode == "echo":
        assert MASK in entries[0]["response_body"] and '\\"url\\": \\"' not in entries[0]["response_body"]
    elif mode == "notfound":
        assert entries[0]["response_body"] == f"Cannot POST {MASK}"
    else:
        assert MASK in entries[0]["response_headers"]["location"]
        assert MASK in entries[0]["explanation"]["title"]
    assert_nowhere(leaked_forms(secret_url), [r.output for r in outputs], data_dir)


def test_a_secret_cut_off_by_the_64_kib_body_limit_leaves_no_half_in_clear(cli, store, hostile, data_dir,
                                                                           monkeypatch, fast_cli_config):
    secret_url = f"{hostile}/services/{TEAM}/{BOT}/cut-{TOKEN}"
    monkeypatch.setenv("HOOK_URL", secret_url)
    add_items(store, 1)
    put_macro(store, url="${HOOK_URL}")
    sent = cli("send", "hook", "--all", "--json")
    (entry,) = store.log_iter(macro="hook")
    assert entry["status_code"] == 404 and entry["response_truncated"]
    assert entry["response_body"].endswith(MASK)
    half = TOKEN[: len(TOKEN) // 2]
    assert_nowhere({f"cut-{half}", half}, [sent.output, cli("logs", "--json").output], data_dir)


@pytest.mark.parametrize("netloc", ["unreachable", "bad-port"])
def test_a_secret_url_that_fails_keeps_its_secret_out_of_the_error(cli, store, data_dir, monkeypatch,
                                                                   fast_cli_config, closed_port, netloc):
    # A token typed where the port goes: httpx says "Invalid port: '<token>'".
    host = f"127.0.0.1:{closed_port}" if netloc == "unreachable" else f"127.0.0.1:{TOKEN}"
    secret_url = f"http://{host}/services/{TEAM}/{BOT}/{TOKEN}"
    monkeypatch.setenv("HOOK_URL", secret_url)
    add_items(store, 1)
    put_macro(store, url="${HOOK_URL}")
    outputs = [cli("send", "hook", "--all", "--json"), cli("send", "hook", "--all"),
               cli("logs"), cli("logs", "--json"), cli("export", "logs", "--format", "json")]
    assert outputs[0].exit_code == 1, outputs[0].output
    (entry, *_) = store.log_iter(macro="hook")
    assert entry["status_code"] == 0 and entry["error"]
    if netloc == "bad-port":
        assert f"Invalid port: '{MASK}'" in entry["error"] and entry["url"] == f"http://127.0.0.1/{MASK}"
    assert_nowhere(leaked_forms(secret_url) - {API_TOKEN}, [r.output for r in outputs], data_dir)


def test_a_url_secret_echoed_percent_decoded_or_as_basic_auth_is_masked(cli, store, hostile, data_dir,
                                                                        monkeypatch, fast_cli_config):
    # A server echoes the path it decoded (%41 -> A, %5F -> _), and aiohttp sends the
    # user-info of a URL as "Authorization: Basic base64(user:password)", decoded (%40 -> @).
    host = hostile.split("//", 1)[1]
    monkeypatch.setenv("HOOK_PATH", f"{hostile}/services/{TEAM}/notfound-Zk%41%42secret%5FPCT77")
    monkeypatch.setenv("HOOK_USER", f"http://usr:pa%40ssW0rd99@{host}/services/echo")
    add_items(store, 1)
    put_macro(store, url="${HOOK_PATH}")
    put_macro(store, name="basic", url="${HOOK_USER}")
    put_macro(store, name="literal", url=f"http://ana:LitPw%40ss777@{host}/services/echo")  # typed in
    outputs = [cli("send", "hook", "--all", "--json"), cli("send", "basic", "--all", "--json"),
               cli("send", "literal", "--all", "--json"), cli("logs", "--json"),
               cli("export", "logs", "--format", "csv")]
    echoed = {e["macro"]: e["response_body"] for e in store.log_iter()}
    assert echoed["hook"].startswith("Cannot POST") and '"Authorization": "Basic ' in echoed["basic"]
    assert '"Authorization": "Basic ' in echoed["literal"]
    basic = {base64.b64encode(b"usr:pa@ssW0rd99").decode(), base64.b64encode(b"ana:LitPw@ss777").decode()}
    assert_nowhere({"notfound-ZkABsecret", "pa@ssW0rd99", "LitPw@ss777", *basic}, [r.output for r in outputs],
                   data_dir)


def test_distinctive_parts_are_masked_but_words_and_hosts_are_not():
    url = "https://hooks.example.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx?v=2&key=k3y-value"
    parts = secret_parts(url)
    assert {"T0123ABCD", "B0123ABCD", "abcdefghijklmnopqrstuvwx", "k3y-value",
            "/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx"} <= parts
    assert not parts & {"services", "hooks.example.com", "2", "https"}
    echoed = '{"path":"\\/services\\/T0123ABCD\\/B0123ABCD\\/abcdefghijklmnopqrstuvwx"} at services'
    assert mask_text(echoed, [url]) == f'{{"path":"{MASK}"}} at services'
    assert mask_text("Location: ../B0123ABCD/abcdefghijklmnopqrstuvwx", [url]) == f"Location: ..{MASK}"
    assert mask_text("see %2Fservices%2FT0123ABCD%2FB0123ABCD%2Fabcdefghijklmnopqrstuvwx", [url]) \
        == f"see {MASK}"


def test_a_return_value_holding_a_secret_is_refused_and_logged(cli, store, receiver, data_dir, monkeypatch,
                                                               fast_cli_config):
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("API_TOKEN", API_TOKEN)
    (item,) = add_items(store, 1)
    # /echo answers {"headers": {...}, "body": ..., "path": ...}, credentials included.
    put_macro(store, url=receiver.url + "/echo/${HOOK_TOKEN}", headers="X-Api-Key: ${API_TOKEN}",
              return_values={"echo_path": "path", "echo_key": "headers.X-Api-Key",
                             "echo_headers": "headers", "echo_type": "headers.Content-Type"},
              on_success={"status": "Escalated"})
    sent = cli("send", "hook", "--item", item, "--json")
    assert sent.exit_code == 0, sent.output  # delivered: the receiver accepted it
    record = store.feedback_get(item)
    # Fields whose value holds a secret are not written; the others and on_success are.
    assert record["echo_type"] == "application/json" and record["status"] == "Escalated"
    assert not {"echo_path", "echo_key", "echo_headers"} & set(record)
    (entry,) = store.log_iter(macro="hook")
    assert entry["ok"] and entry["error"].startswith(
        "return_values: echo_path, echo_key, echo_headers not stored: the response's value holds a secret")
    assert "not stored (it holds a secret)" in entry["explanation"]["title"]
    shown = cli("logs").output
    assert "echo_path, echo_key, echo_headers not stored" in shown
    assert_nowhere({TOKEN, API_TOKEN}, [sent.output, shown, cli("feedback", "list", "--json").output], data_dir)


def test_a_url_that_does_not_parse_is_one_masked_sentence_not_a_traceback(cctui, store, data_dir, monkeypatch,
                                                                          tmp_path):
    # "[" opens an IPv6 address that never closes: urllib cannot split this URL at all.
    secret_url = f"http://[::1/services/{TEAM}/{BOT}/{TOKEN}"
    monkeypatch.setenv("HOOK_URL", secret_url)
    [item] = add_items(store, 1)
    put_macro(store, url="${HOOK_URL}")
    literal = tmp_path / "literal.toml"  # a token typed in, not ${NAME}
    literal.write_text(f'name = "literal"\nurl = "http://[::1/hook?token={TOKEN}"\nformat = "text"\nbody = "x"\n',
                       encoding="utf-8")
    outputs = [cctui("macro", "preview", "hook", "--item", item), cctui("send", "hook", "--item", item),
               cctui("macro", "add", str(literal)), cctui("logs", "--json")]
    for refused in outputs[:3]:
        assert refused.code == 2 and "is not a valid URL" in refused.err, refused
        assert len(refused.err.strip().splitlines()) == 1
    assert f"token={MASK}" in outputs[2].err
    assert store.macro_get("literal") is None
    texts = [text for o in outputs for text in (o.out, o.err)]
    assert_nowhere(leaked_forms(secret_url), texts, data_dir)
