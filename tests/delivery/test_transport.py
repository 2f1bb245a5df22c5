"""The aiohttp transport against real servers on 127.0.0.1.

Most servers here are raw asyncio servers that write exact bytes, so each wire behaviour
(chunked, close-delimited, a stale keep-alive connection...) is tested as it really
arrives. HTTPS, private CAs and proxies are in test_tls_proxy.py.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cctui.delivery.transport import TRUNCATED, AiohttpTransport, HttpSender


def request(url: str, method: str = "POST", body: bytes = b'{"a": 1}', timeout: float = 5.0,
            headers=None) -> httpx.Request:
    return httpx.Request(method, url, content=body if method != "HEAD" else None,
                         headers=headers or {"Content-Type": "application/json"},
                         extensions={"timeout": {"connect": timeout, "read": timeout,
                                                 "write": timeout, "pool": timeout}})


class RawServer:
    """An asyncio server whose ``answer(head, body, index)`` returns the bytes to write
    (or None to write nothing), then closes the connection if ``close`` says so."""

    def __init__(self, answer, close=lambda index: False) -> None:
        self.answer = answer
        self.close = close
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                index = len(self.requests)
                self.requests.append(head + body)
                data = self.answer(head, body, index)
                if data is None:
                    await asyncio.sleep(3600)
                writer.write(data)
                await writer.drain()
                if self.close(index):
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def ok(text: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(text), extra, text)


async def send(transport, req) -> httpx.Response:
    return await transport.handle_async_request(req)


def send_one(answer) -> tuple[httpx.Response, int]:
    """One POST through a fresh AiohttpTransport to a RawServer answering with ``answer``:
    the response and how many requests the server saw."""

    async def main():
        async with RawServer(answer) as server:
            transport = AiohttpTransport()
            try:
                return await send(transport, request(server.url)), len(server.requests)
            finally:
                await transport.aclose()

    return asyncio.run(main())


def test_keep_alive_reuses_one_connection():
    async def main():
        async with RawServer(lambda head, body, i: ok(b"ok %d" % i)) as server:
            transport = AiohttpTransport()
            try:
                bodies = [(await send(transport, request(server.url + "/hook"))).content for _ in range(5)]
            finally:
                await transport.aclose()
            return server, bodies

    server, bodies = asyncio.run(main())
    assert bodies == [b"ok %d" % i for i in range(5)]
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /hook HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in first and b"\r\nContent-Length: 8\r\n" in first
    assert first.endswith(b'\r\n\r\n{"a": 1}')


def test_concurrent_requests_open_parallel_connections_and_pool_them():
    async def main():
        async with RawServer(lambda head, body, i: ok()) as server:
            transport = AiohttpTransport()
            try:
                for _ in range(3):
                    answers = await asyncio.gather(*(send(transport, request(server.url)) for _ in range(4)))
                    assert all(a.status_code == 200 for a in answers)
            finally:
                await transport.aclose()
            return server.connections

    assert asyncio.run(main()) == 4


def test_chunked_response_is_decoded_across_reads():
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
               b"5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n")

    async def main():
        async with RawServer(lambda head, body, i: chunked) as server:
            transport = AiohttpTransport()
            try:
                first = await send(transport, request(server.url))
                second = await send(transport, request(server.url))  # reused after a chunked body
            finally:
                await transport.aclose()
            return first, second, server.connections

    first, second, connections = asyncio.run(main())
    assert first.content == second.content == b"hello world!"
    assert first.headers["content-type"] == "text/plain"
    assert connections == 1


def test_parser_handles_a_response_split_into_single_bytes():
    """The parser's incremental paths (head, chunk sizes, CRLFs) one byte at a time."""
    wire = (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")

    async def slow(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        for i in range(len(wire)):
            writer.write(wire[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        await reader.read()
        writer.close()

    async def main():
        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        transport = AiohttpTransport()
        try:
            return await send(transport, request(url, body=b""))
        finally:
            await transport.aclose()
            server.close()

    answer = asyncio.run(main())
    assert answer.status_code == 201 and answer.content == b"abcde"


def test_body_delimited_by_connection_close():
    async def main():
        answer = lambda head, body, i: b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
        async with RawServer(answer, close=lambda i: True) as server:
            transport = AiohttpTransport()
            try:
                results = [await send(transport, request(server.url)) for _ in range(2)]
            finally:
                await transport.aclose()
            return results, server.connections

    results, connections = asyncio.run(main())
    assert [r.content for r in results] == [b"until the end"] * 2
    assert connections == 2  # a close-delimited connection is never pooled


def test_connection_close_header_is_honoured():
    async def main():
        async with RawServer(lambda head, body, i: ok(extra=b"Connection: close\r\n")) as server:
            transport = AiohttpTransport()
            try:
                for _ in range(3):
                    assert (await send(transport, request(server.url))).content == b"ok"
            finally:
                await transport.aclose()
            return server.connections

    assert asyncio.run(main()) == 3


def test_head_204_and_304_have_no_body_and_keep_the_connection():
    def answer(head, body, i):
        if head.startswith(b"HEAD"):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        code = 204 if i == 1 else 304
        return b"HTTP/1.1 %d X\r\n\r\n" % code

    async def main():
        async with RawServer(answer) as server:
            transport = AiohttpTransport()
            try:
                results = [await send(transport, request(server.url, method="HEAD")),
                           await send(transport, request(server.url)),
                           await send(transport, request(server.url, method="GET", body=b""))]
            finally:
                await transport.aclose()
            return results, server.connections

    results, connections = asyncio.run(main())
    assert [(r.status_code, r.content) for r in results] == [(200, b""), (204, b""), (304, b"")]
    assert connections == 1


def test_a_kept_alive_connection_the_server_closed_while_idle_is_not_used():
    """The server closes the kept-alive connection while it is idle: the next request
    still gets its answer (over a new connection), not an error, and nothing is resent."""
    async def main():
        async with RawServer(lambda head, body, i: ok(b"ok %d" % i)) as server:
            transport = AiohttpTransport()
            try:
                first = await send(transport, request(server.url))
                for writer in server.writers:  # server-side idle close
                    writer.close()
                await asyncio.sleep(0.05)
                second = await send(transport, request(server.url))
            finally:
                await transport.aclose()
            return first, second, server.connections, len(server.requests)

    first, second, connections, requests = asyncio.run(main())
    assert (first.content, second.content) == (b"ok 0", b"ok 1")
    assert connections == 2 and requests == 2


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_request_written_then_dropped_on_reuse_is_an_error_never_resent(method):
    """The keep-alive race: the pooled connection looks fine, the request is written, then
    the server closes without a byte of answer. The receiver may have acted on it, so it is
    an error for the engine to log (and retry by policy), never a silent second copy;
    aiohttp on its own resends PUT and DELETE here."""
    async def main():
        async with RawServer(lambda head, body, i: ok() if i != 1 else b"", close=lambda i: i == 1) as server:
            transport = AiohttpTransport()
            try:
                first = await send(transport, request(server.url, method=method))
                with pytest.raises(httpx.RemoteProtocolError, match="closed the connection before answering"):
                    await send(transport, request(server.url, method=method))
                seen = len(server.requests)
                third = await send(transport, request(server.url, method=method))
            finally:
                await transport.aclose()
            return first, seen, third, server.connections

    first, seen, third, connections = asyncio.run(main())
    assert first.status_code == third.status_code == 200
    assert seen == 2 and connections == 2


def test_fresh_connection_closed_without_answer_is_an_error():
    async def main():
        async with RawServer(lambda head, body, i: b"", close=lambda i: True) as server:
            transport = AiohttpTransport()
            try:
                with pytest.raises(httpx.RemoteProtocolError, match="closed the connection before answering"):
                    await send(transport, request(server.url))
            finally:
                await transport.aclose()
            return len(server.requests)

    assert asyncio.run(main()) == 1  # not retried: the connection was new


def test_reset_mid_response_is_a_read_error_with_clear_text():
    async def main():
        answer = lambda head, body, i: b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial"
        async with RawServer(answer, close=lambda i: True) as server:
            transport = AiohttpTransport()
            try:
                with pytest.raises(httpx.ReadError) as caught:
                    await send(transport, request(server.url))
            finally:
                await transport.aclose()
            return str(caught.value)

    text = asyncio.run(main())
    assert "connection reset" in text and "mid-response" in text and "7 of 100000" in text


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_body_is_capped_at_64_kib_and_the_connection_dropped(framing):
    size = 200_000

    def answer(head, body, i):
        if i > 0:
            return ok(b"small")
        data = b"x" * size
        if framing == "length":
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + data
        if framing == "chunked":
            return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"".join(b"%x\r\n%s\r\n" % (10_000, data[:10_000]) for _ in range(20)) + b"0\r\n\r\n")
        return b"HTTP/1.1 200 OK\r\n\r\n" + data

    async def main():
        async with RawServer(answer, close=lambda i: framing == "close") as server:
            transport = AiohttpTransport()
            try:
                big = await send(transport, request(server.url))
                small = await send(transport, request(server.url))
            finally:
                await transport.aclose()
            return big, small, server.connections

    big, small, connections = asyncio.run(main())
    assert len(big.content) == 64 * 1024 and big.extensions.get(TRUNCATED) is True
    assert small.content == b"small" and not small.extensions.get(TRUNCATED)
    assert connections == 2  # the cut connection was closed, not pooled


def test_body_of_exactly_64_kib_is_not_truncated():
    data = b"y" * (64 * 1024)

    async def main():
        async with RawServer(lambda head, body, i: ok(data)) as server:
            transport = AiohttpTransport()
            try:
                return await send(transport, request(server.url))
            finally:
                await transport.aclose()

    answer = asyncio.run(main())
    assert answer.content == data and not answer.extensions.get(TRUNCATED)


def test_total_timeout_is_a_read_timeout():
    async def main():
        async with RawServer(lambda head, body, i: None) as server:  # never answers
            transport = AiohttpTransport()
            try:
                with pytest.raises(httpx.ReadTimeout, match="timed out after 0.2 s"):
                    await send(transport, request(server.url, timeout=0.2))
            finally:
                await transport.aclose()

    asyncio.run(main())


def test_connect_timeout_is_a_connect_timeout():
    import socket

    # A listening socket whose accept queue is full (backlog 0, never accepted, already
    # holding connections): Linux drops further SYNs, so connecting hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)

    async def main():
        transport = AiohttpTransport()
        try:
            with pytest.raises(httpx.ConnectTimeout, match=f"connect to 127.0.0.1:{port} timed out after 0.2 s"):
                await send(transport, request(f"http://127.0.0.1:{port}/", timeout=0.2))
        finally:
            await transport.aclose()

    try:
        asyncio.run(main())
    finally:
        for sock in fillers + [listener]:
            sock.close()


def test_refused_and_bad_responses_map_to_httpx_errors():
    async def main():
        transport = AiohttpTransport()
        try:
            import socket

            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            sock.close()
            with pytest.raises(httpx.ConnectError, match=f"connection refused by 127.0.0.1:{port}"):
                await send(transport, request(f"http://127.0.0.1:{port}/"))
            async with RawServer(lambda head, body, i: b"NOT HTTP AT ALL\r\n\r\n") as server:
                with pytest.raises(httpx.RemoteProtocolError, match="malformed response: bad status line"):
                    await send(transport, request(server.url))
            with pytest.raises(httpx.UnsupportedProtocol):
                await send(transport, request("ftp://127.0.0.1/"))
        finally:
            await transport.aclose()

    asyncio.run(main())


def test_redirects_are_returned_not_followed():
    answer, requests = send_one(
        lambda head, body, i: b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
    assert answer.status_code == 302 and answer.headers["location"] == "/elsewhere" and requests == 1


def test_interim_100_continue_is_skipped():
    answer, _ = send_one(lambda head, body, i: b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"final"))
    assert answer.status_code == 200 and answer.content == b"final"


def test_gzip_body_is_decoded():
    import gzip

    packed = gzip.compress(b'{"ok": true}')

    answer, _ = send_one(lambda head, body, i: ok(packed, extra=b"Content-Encoding: gzip\r\n"))
    assert answer.content == b'{"ok": true}' and "content-encoding" not in answer.headers



@pytest.mark.parametrize("encoding", [b"gzip", b"deflate", b"br"])
def test_a_body_that_does_not_decode_is_a_malformed_response_in_plain_words(encoding):
    # It used to read "connection reset mid-response: 400, message" (aiohttp's wording).
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        send_one(lambda head, body, i: ok(b"not compressed at all", extra=b"Content-Encoding: " + encoding + b"\r\n"))
    assert str(caught.value) == (f"malformed response: the body says Content-Encoding: {encoding.decode()} "
                                 "but cannot be decoded")

def test_sender_passes_transport_errors_through_with_their_words():
    async def main():
        async with RawServer(lambda head, body, i: None) as server:
            sender = HttpSender(AiohttpTransport())
            try:
                with pytest.raises(httpx.TimeoutException, match="timed out after 0.2 s"):
                    await sender.send("POST", server.url, [("X-A", "1")], b"{}", 0.2)
            finally:
                await sender.aclose()

    asyncio.run(main())




def test_an_old_transport_setting_is_ignored_with_one_warning_line(store, receiver, monkeypatch, capsys):
    """CCTUI_TRANSPORT and [delivery] transport chose among transports that are gone:
    a run still works, and says once that the setting is no longer used."""
    from types import SimpleNamespace

    from cctui.delivery import transport as transport_module
    from cctui.delivery.engine import Engine

    from .conftest import FAST, add_items, put_macro

    monkeypatch.setattr(transport_module, "_warned", set())
    ids = add_items(store, 3)
    put_macro(store, url=receiver.url + "/hook")
    config = SimpleNamespace(delivery={**FAST, "transport": "lean"}, base_url=None)
    monkeypatch.setenv("CCTUI_TRANSPORT", "httpx-aiohttp")

    async def main():
        first = await Engine(store, config).run("hook", ids[:2])
        second = await Engine(store, config).run("hook", ids[2:])
        return first.delivered + second.delivered

    assert asyncio.run(main()) == 3
    assert capsys.readouterr().err == ("cctui: warning: CCTUI_TRANSPORT is no longer used (cctui has one "
                                       "transport, aiohttp); remove it.\n")
    monkeypatch.delenv("CCTUI_TRANSPORT")
    assert transport_module.warn_old_transport_setting(config) == (
        "[delivery] transport in the config file is no longer used (cctui has one transport, aiohttp); remove it.")
