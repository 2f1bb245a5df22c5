"""What a receiver says is shown by `cctui send` and `cctui logs` on the user's terminal:
the words taken from its error body carry no control characters (an ``ESC ]0;...BEL``
would retitle the window, ``ESC [2J`` clear the screen). ``logs --json`` keeps the body
exactly as it came."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from cctui.delivery.receiver import Receiver, serve_in_background

from .conftest import add_items, put_macro

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b1m\u202eevil"


class Hostile(Receiver):
    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        kind = request.path.rsplit("/", 1)[-1]
        if kind == "jira":
            return web.json_response({"errorMessages": [ESCAPES], "errors": {"summary": ESCAPES}}, status=400)
        if kind == "discord":
            return web.json_response({"message": ESCAPES, "retry_after": 1}, status=404)
        if kind == "salesforce":
            return web.json_response([{"errorCode": "BAD" + ESCAPES, "message": ESCAPES}], status=400)
        return web.json_response({"error": ESCAPES}, status=403)


@pytest.fixture
def hostile():
    url, stop = serve_in_background(receiver=Hostile())
    yield url
    stop()


@pytest.mark.parametrize("kind", ["jira", "discord", "salesforce", "slack-like"])
def test_a_receivers_error_words_reach_the_terminal_without_control_characters(run_cli, store, hostile, kind):
    add_items(store, 1)
    put_macro(store, url=f"{hostile}/{kind}")
    sent = run_cli("send", "hook", "--all")
    shown = run_cli("logs")
    assert sent.code == 1 and "pwned" in sent.out and "pwned" in shown.out  # the words are shown
    for text in (sent.out + sent.err, shown.out):
        assert not any(c in text for c in "\x1b\x07\x9b\u202e"), repr(text)
    (entry,) = json.loads("[" + run_cli("logs", "--json").out.strip().replace("\n", ",") + "]")
    assert json.loads(entry["response_body"])  # the log keeps the body exactly as it came


@pytest.fixture
def raw_redirect():
    """A raw TCP server answering every request with a 302 whose Location holds escapes
    (aiohttp's server would refuse to send such a header)."""
    import socketserver
    import threading

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            location = ("http://x.example/" + ESCAPES).encode("utf-8")
            self.request.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + location +
                                 b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_redirects_location_reaches_the_terminal_without_control_characters(run_cli, store, raw_redirect):
    add_items(store, 1)
    put_macro(store, url=f"{raw_redirect}/hook")
    sent = run_cli("send", "hook", "--all")
    shown = run_cli("logs")
    assert sent.code == 1 and "URL moved to http://x.example/" in sent.out, sent
    for text in (sent.out + sent.err, shown.out):
        assert not any(c in text for c in "\x1b\x07\x9b\u202e"), repr(text)


class NameEcho(Receiver):
    """Echoes the request's X-Api-Key as part of a response header's *name*."""

    async def answer(self, request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=404, text="x", headers={f"X-Seen-{request.headers['X-Api-Key']}": "1"})


def test_a_secret_echoed_in_a_response_header_name_is_masked(run_cli, store, data_dir):
    # The log keeps header names lowercased, so the secret came back lowercased, in clear.
    url, stop = serve_in_background(receiver=NameEcho())
    try:
        add_items(store, 1)
        put_macro(store, url=f"{url}/hook", headers="X-Api-Key: ${HOOK_KEY}")
        outputs = [run_cli("send", "hook", "--all", "--json", env={"HOOK_KEY": "Ab12Cd34Ef56"}),
                   run_cli("logs", "--json"), run_cli("export", "logs", "--format", "csv")]
    finally:
        stop()
    (entry,) = store.log_iter(macro="hook")
    assert "x-seen-••••" in entry["response_headers"]
    shown = "".join(o.out + o.err for o in outputs).lower()
    shown += "".join(p.read_text(errors="replace").lower() for p in data_dir.rglob("*") if p.is_file())
    assert "ab12cd34ef56" not in shown
