"""What goes on the wire is what the log says: real servers on 127.0.0.1 record the raw
request (headers, request line) and the engine's log entries are compared with it."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import zlib

import brotli
import pytest
from aiohttp import web

from cctui.delivery.engine import Engine

from .conftest import add_items, fast_config, put_macro


class WireServer:
    """An aiohttp server that records each request's raw headers and raw path, and answers
    with ``answer(request)`` (default: 200 "ok")."""

    def __init__(self, answer=None) -> None:
        self.answer = answer or (lambda request: web.Response(text="ok"))
        self.seen: list[tuple[str, str, list[tuple[str, str]]]] = []

    async def __aenter__(self) -> WireServer:
        async def handle(request: web.Request) -> web.StreamResponse:
            await request.read()
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
            self.seen.append((request.method, request.raw_path, headers))
            return self.answer(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


@pytest.mark.parametrize("method,body", [("POST", '{"text": "((id)): ((title))"}'), ("GET", ""),
                                         ("DELETE", ""), ("PUT", "plain ((id))")])
def test_the_log_lists_exactly_the_headers_the_receiver_got(store, method, body):
    ids = add_items(store, 2)

    async def main():
        async with WireServer() as server:
            put_macro(store, url=server.url + "/hook", method=method, body=body,
                      format="text" if method == "PUT" else "json",
                      headers="X-Team: core\nX-Trace: a b  c")
            summary = await Engine(store, fast_config()).run("hook", ids)
            return summary, server.seen

    summary, seen = asyncio.run(main())
    assert summary.delivered == 2 and len(seen) == 2
    logged = {e["request_headers"]["webhook-id"]: e["request_headers"] for e in store.log_iter()}
    for got_method, _, raw in seen:
        assert got_method == method
        # header for header, value for value, what the receiver got is what the log says
        assert dict(raw) == logged[dict(raw)["webhook-id"]]
        names = [name.lower() for name, _ in raw]
        assert len(names) == len(set(names))  # nothing sent twice
        assert "accept" not in names and "accept-encoding" not in names  # nothing aiohttp adds
        assert ("content-length" in names) == (method in ("POST", "PUT", "DELETE"))
        assert {"host", "user-agent", "webhook-id", "x-team", "x-trace"} <= set(names)


def test_path_and_query_go_out_exactly_as_written(store):
    ids = add_items(store, 1)
    path = "/hooks/a%2Fb/%7Euser/caf%C3%A9?q=a%2Fb&tilde=%7E&plus=a+b&pct=100%25"

    async def main():
        async with WireServer() as server:
            put_macro(store, url=server.url + path)
            await Engine(store, fast_config()).run("hook", ids)
            return server.seen

    (seen,) = asyncio.run(main())
    assert seen[1] == path
    assert store.log_iter().__next__()["url"].endswith(path)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_compressed_response_bodies_are_logged_decoded(store, coding):
    text = '{"ok": true, "said": "' + "compressed " * 200 + '"}'
    packed = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[coding](text.encode())
    ids = add_items(store, 1)

    def answer(request):
        return web.Response(body=packed, headers={"Content-Encoding": coding, "Content-Type": "application/json"})

    async def main():
        async with WireServer(answer) as server:
            put_macro(store, url=server.url + "/hook")
            return await Engine(store, fast_config()).run("hook", ids)

    assert asyncio.run(main()).delivered == 1
    (entry,) = store.log_iter()
    assert entry["response_body"] == text and len(packed) < len(text)


class DropServer:
    """A raw server that reads each whole request and answers 200 on the same kept-alive
    connection, except for the requests numbered in ``drops`` (0 is the first): it closes
    the connection after reading those, without a byte of answer."""

    def __init__(self, drops: set[int]) -> None:
        self.drops = drops
        self.requests: list[bytes] = []

    async def __aenter__(self) -> DropServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader, writer) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.requests.append(head + await reader.readexactly(length))
                if len(self.requests) - 1 in self.drops:
                    writer.close()
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def _webhook_id(raw: bytes) -> bytes:
    return next(line.split(b":", 1)[1].strip() for line in raw.split(b"\r\n")
                if line.lower().startswith(b"webhook-id:"))


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_request_read_then_dropped_is_a_logged_attempt_retried_with_the_same_id(store, method):
    """Every request the receiver read shows in the log: no silent resend (aiohttp on its
    own resends a PUT on a dropped kept-alive connection)."""
    ids = add_items(store, 2)

    async def main():
        # the first answer keeps the connection alive; the second request is dropped on that
        # reused connection (the keep-alive race), the third on a fresh one
        async with DropServer(drops={1, 2}) as server:
            put_macro(store, url=server.url + "/hook", method=method, concurrency=1)
            summary = await Engine(store, fast_config()).run("hook", ids, concurrency=1)
            return summary, server.requests

    summary, requests = asyncio.run(main())
    entries = list(store.log_iter())
    assert summary.delivered == 2
    assert len(requests) == len(entries) == 4  # 2 dropped + 2 answered, each one logged
    dropped = [e for e in entries if e["status_code"] == 0]
    assert len(dropped) == 2
    assert all("connection reset" in e["error"] for e in dropped)
    # per delivery, the receiver got as many copies (one webhook-id each) as the log has attempts
    from collections import Counter

    received = Counter(_webhook_id(r).decode() for r in requests)
    logged = Counter(e["request_headers"]["webhook-id"] for e in entries)
    assert received == logged and len(received) == 2


def test_the_preview_lists_the_same_headers_the_receiver_got(store):
    from cctui.macros.model import Macro
    from cctui.macros.preview import preview_request

    ids = add_items(store, 1)

    async def main():
        async with WireServer() as server:
            put_macro(store, url=server.url + "/hook", headers="X-Team: core", signing_secret="whsec_c2VjcmV0")
            await Engine(store, fast_config()).run("hook", ids)
            return server.seen

    (seen,) = asyncio.run(main())
    shown, _ = preview_request(Macro.from_dict(store.macro_get("hook")), ids[0], store=store)
    received = dict(seen[2])
    assert set(shown["headers"]) == set(received)
    for name in ("Host", "Content-Length", "Content-Type", "X-Team", "User-Agent"):
        assert shown["headers"][name] == received[name]


USERINFO_PASSWORD = "s3cr3t-pa55word"


def test_user_info_goes_out_as_an_authorization_header_the_log_and_preview_list(store):
    """aiohttp would build this header from the URL itself, unlisted in the log: cctui
    builds it, so the log and the preview list it (masked) with every other header."""
    from cctui.macros.model import Macro
    from cctui.macros.preview import preview_request

    ids = add_items(store, 1)

    async def main():
        async with WireServer() as server:
            url = server.url.replace("http://", f"http://bob%40example.com:{USERINFO_PASSWORD}@") + "/hook"
            put_macro(store, url=url, headers="X-Team: core")
            summary = await Engine(store, fast_config()).run("hook", ids)
            return summary, server.seen

    summary, seen = asyncio.run(main())
    assert summary.delivered == 1
    (_, raw_path, raw), = seen
    received = dict(raw)
    assert received["Authorization"] == "Basic " + base64.b64encode(
        f"bob@example.com:{USERINFO_PASSWORD}".encode()).decode()
    (entry,) = store.log_iter()
    logged = entry["request_headers"]
    # every header the receiver got is in the log; the credential masked, its scheme kept
    assert set(logged) == set(received)
    assert logged["Authorization"] == "Basic ••••"
    assert {k: v for k, v in logged.items() if k != "Authorization"} == \
        {k: v for k, v in received.items() if k != "Authorization"}
    assert "@" not in entry["url"] and entry["url"].endswith("/hook")  # the URL sent had no user-info
    text = json.dumps(entry)
    assert USERINFO_PASSWORD not in text and received["Authorization"].split()[1] not in text
    shown, _ = preview_request(Macro.from_dict(store.macro_get("hook")), ids[0], store=store)
    assert shown["headers"]["Authorization"] == "Basic ••••"
    assert "@" not in shown["url"] and USERINFO_PASSWORD not in json.dumps(shown)


@pytest.mark.parametrize("url", [
    "https://a.example:443/x", "http://127.0.0.1:8080/h", "http://a.example:80/", "https://Bücher.example/x",
    "http://[::1]:8080/x", "https://u:p@h.example:8443/x", "HTTP://H.Example/x", "https://h.example:80/x",
])
def test_host_header_is_what_the_url_gives(url):
    import httpx

    from cctui.macros.request import host_header

    assert host_header(url) == httpx.URL(url).netloc.decode("ascii")
