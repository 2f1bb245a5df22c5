"""The inbound listener under abuse, over real loopback connections (raw sockets for the
slow clients): read timeouts, the connection cap, hostile bodies and ids, and no log flood
when file descriptors run out."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time

import aiohttp
import httpx
import pytest

from cctui.automation.connections import ConnectionGuard, Limits, Throttle, start
from cctui.automation.listener import make_listener_app
from cctui.core.records import Schema
from cctui.store import open_store

TOKEN = "abuse-token-5d2e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(data_dir):
    store = open_store(data_dir)
    store.feedback_add([Schema().feedback({"type": "bug", "title": "Crash"})])
    yield store
    store.close()


@pytest.fixture
async def serve(store):
    """``await serve(**limits)`` -> (port, guard, said): the listener behind its guard."""
    runners = []

    async def make(**limits):
        said: list[str] = []
        guard = ConnectionGuard(Limits(**limits), Throttle(said.append))
        app = make_listener_app(store, TOKEN, rate_limit=0, guard=guard)
        runner, server = await start(app, guard, "127.0.0.1", 0)
        runners.append((runner, server))
        return server.sockets[0].getsockname()[1], guard, said

    yield make
    for runner, server in runners:
        server.close()
        await runner.cleanup()


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _closed_by_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            drip: bytes = b"", limit: float = 30.0) -> bytes:
    """Keep dripping ``drip`` until the server closes the connection; what it answered."""
    got = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(reader.read(4096), 0.1)
        except TimeoutError:
            if drip:
                try:
                    writer.write(drip)
                    await writer.drain()
                except ConnectionError:
                    return got
            continue
        except ConnectionError:
            return got
        if not chunk:
            return got
        got += chunk
    raise AssertionError("the server kept the slow connection open")


async def test_a_client_trickling_its_headers_is_cut(serve):
    port, guard, _ = await serve(header_timeout=0.5)
    reader, writer = await _open(port)
    writer.write(b"POST /records/BUG-0001 HTTP/1.1\r\nHost: x\r\n")
    answer = await _closed_by_server(reader, writer, drip=b"X")  # a header byte at a time
    assert answer == b""
    assert guard.timed_out == 1 and guard.open == 0
    writer.close()


async def test_an_idle_connection_is_cut(serve):
    port, guard, _ = await serve(header_timeout=0.5)
    reader, writer = await _open(port)
    assert await _closed_by_server(reader, writer) == b""
    assert guard.timed_out == 1


async def test_a_slow_body_gets_408_and_is_cut(serve, store):
    port, guard, _ = await serve(header_timeout=0.5, body_timeout=0.5)
    reader, writer = await _open(port)
    writer.write(b"POST /records/BUG-0001 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                 + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"status\"")
    answer = await _closed_by_server(reader, writer)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert json.loads(body) == {"error": "the request body did not arrive within 0.5 s."}
    assert store.feedback_get("BUG-0001")["status"] == "New"


async def test_keep_alive_requests_each_get_their_own_header_deadline(serve, store):
    port, guard, _ = await serve(header_timeout=2.0)
    async with aiohttp.ClientSession() as session:
        for status in ("Triaged", "Closed"):
            async with session.post(f"http://127.0.0.1:{port}/records/BUG-0001", json={"status": status},
                                    headers=AUTH) as response:
                assert response.status == 200
    assert store.feedback_get("BUG-0001")["status"] == "Closed"
    assert guard.timed_out == 0


async def test_past_the_connection_cap_new_connections_get_503(serve, wait):
    port, guard, said = await serve(header_timeout=30, max_connections=3)
    idle = [await _open(port) for _ in range(3)]
    async with aiohttp.ClientSession() as session:
        await wait.until(lambda: guard.open == 3, "the three idle connections to be accepted")
        async with session.post(f"http://127.0.0.1:{port}/records/BUG-0001", json={"status": "Closed"},
                                headers=AUTH) as response:
            assert response.status == 503 and response.headers["Retry-After"] == "1"
            assert "too many open connections" in (await response.json())["error"]
        for _, writer in idle:
            writer.close()
        await wait.until(lambda: guard.open == 0, "the listener to see the idle connections closed")
        async with session.post(f"http://127.0.0.1:{port}/records/BUG-0001", json={"status": "Closed"},
                                headers=AUTH) as response:
            assert response.status == 200
    assert guard.refused == 1
    assert len(said) == 1 and "max_connections" in said[0]


@pytest.mark.parametrize("body, sentence", [
    (b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "the request body is not valid JSON (it nests lists or objects too deeply)."),
    (b'{"votes": ' + b"9" * 5000 + b"}",
     "the request body is not valid JSON (a number has more than 4,300 digits)."),
])
async def test_hostile_bodies_are_400_with_a_sentence(serve, store, body, sentence):
    port, _, _ = await serve()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/records/BUG-0001", data=body,
                                headers={**AUTH, "Content-Type": "application/json"}) as response:
            assert response.status == 400
            assert (await response.json()) == {"error": sentence}
    assert store.feedback_get("BUG-0001")["title"] == "Crash"


async def test_a_5000_digit_id_is_400_with_a_sentence(serve):
    port, _, _ = await serve()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/records/BUG-{'9' * 5000}", json={"status": "Closed"},
                                headers=AUTH) as response:
            assert response.status == 400
            error = (await response.json())["error"]
    assert error.endswith("is not a record id (expected e.g. BUG-0042).") and len(error) < 200


# -- out of file descriptors ----------------------------------------------------------------

def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (60, 60))


def _answer(url: str, **options) -> httpx.Response | None:
    """The listener's answer, or None while it takes no connection."""
    try:
        return httpx.post(url, **options)
    except httpx.TransportError:
        return None


def test_running_out_of_file_descriptors_is_one_line_not_a_flood(data_dir, tmp_path, wait):
    store = open_store(data_dir)
    store.feedback_add([Schema().feedback({"type": "bug", "title": "Crash"})])
    store.close()
    config = tmp_path / "config.toml"
    config.write_text("[listener]\nmax_connections = 100000\nheader_timeout = 60\nrate_limit = 0\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "listen", "--port", str(port)],
        env={**os.environ, "CCTUI_LISTEN_TOKEN": TOKEN, "CCTUI_CONFIG": str(config), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_low_fd_limit,
    )
    err_lines: list[str] = []
    reader = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}/records/BUG-0001"
    flood: list[socket.socket] = []

    def flood_more() -> None:
        if len(flood) < 300:
            try:
                flood.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                pass
        else:
            time.sleep(0.05)  # all 300 open: nothing to do but keep them open

    def out_of_fds() -> bool:
        return any("out of file descriptors" in line for line in err_lines)

    try:
        wait(lambda: _answer(url, json={}, timeout=1), "the listener to take requests")
        # Flood until the listener runs out of descriptors and says so...
        wait(lambda: flood_more() or out_of_fds(), "the listener to run out of file descriptors")
        # ...then keep it out of them for three seconds: asyncio retries a failed accept
        # every second, and no retry may print another line (the scenario's length).
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            flood_more()
        for sock in flood:
            sock.close()
        # Once the flood is gone, the listener answers again.
        answered = wait(lambda: _answer(url, json={"status": "Closed"}, headers=AUTH, timeout=2),
                        "the listener to answer again after the flood")
        assert answered.status_code == 200
    finally:
        for sock in flood:
            sock.close()
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(timeout=5)
    text = "".join(err_lines)
    assert "Traceback" not in text
    fd_lines = [line for line in err_lines if "out of file descriptors" in line]
    assert len(fd_lines) == 1, text
    assert len(err_lines) <= 3, text
