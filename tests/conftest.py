"""Fixtures shared by every area: temp data dirs, an isolated config, the real CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from click.testing import CliRunner


class Waiter:
    """Wait on a condition, never on a count of sleeps: poll ``condition`` until it is true
    and fail naming ``what`` after ``timeout`` seconds (generous: a loaded two-core machine
    must never trip it; a passing wait ends as soon as the condition holds)."""

    POLL = 0.005

    def __call__(self, condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        """In a plain test (threads, subprocesses): returns the condition's true value."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(self.POLL)

    async def until(self, condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        """The same on an event loop: the loop keeps running while it waits."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            await asyncio.sleep(self.POLL)


@pytest.fixture
def wait() -> Waiter:
    """``wait(lambda: cond, "what")`` in sync tests, ``await wait.until(...)`` in async ones."""
    return Waiter()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's config or data."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CCTUI_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("CCTUI_DATA_DIR", str(home / "data"))
    monkeypatch.delenv("CCTUI_NOW", raising=False)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)  # as cctui makes it: a looser one gets a warning on stderr
    return path


@pytest.fixture
def cli(data_dir):
    """Invoke the real CLI in-process: ``cli("feedback", "list", "--json")``."""
    from cctui.cli import cli as root

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict | None = None):
        return runner.invoke(root, ["--data-dir", str(data_dir), *args], input=input, env=env)

    return invoke


@pytest.fixture
def cctui_proc(data_dir):
    """Run ``cctui`` as a real subprocess: ``cctui_proc("seed", "--count", "10")``."""

    def run(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None):
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "cctui", "--data-dir", str(data_dir), *args],
            capture_output=True, text=True, timeout=timeout, env=full_env, input=input,
        )

    return run


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Outcome(NamedTuple):
    """A command's exit code, stdout and stderr (unpacks as a tuple too)."""

    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys):
    """``run(*argv)`` -> Outcome(code, out, err), via ``cctui.cli.main`` with no preset
    --data-dir (so user errors become exit codes exactly as for the installed command)."""
    from cctui.cli import main

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def cctui(data_dir, run):
    """``cctui("feedback", "list")``: ``run`` on this test's data directory."""
    return lambda *args: run("--data-dir", str(data_dir), *args)


@pytest.fixture
def run_cli(cctui, monkeypatch):
    """``run_cli(*args, env={...})``: ``cctui`` with environment variables set first."""

    def invoke(*args: str, env: dict | None = None) -> Outcome:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        return cctui(*args)

    return invoke


class LineServer:
    """A raw TCP server on 127.0.0.1: keeps each request line as read, answers the next
    status of ``statuses`` (200 once they run out)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.lines: list[bytes] = []
        self.heads: list[bytes] = []  # request line and headers, as read
        self.statuses = list(statuses or [])
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def handle(reader, writer):
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                head += chunk
            self.lines.append(head.split(b"\r\n", 1)[0])
            self.heads.append(head)
            status = self.statuses.pop(0) if self.statuses else 200
            writer.write(b"HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok" % status)
            await writer.drain()
            writer.close()

        async def start():
            self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> LineServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self.server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [line.decode("ascii").split(" ")[1] for line in self.lines]


@pytest.fixture
def line_server():
    with LineServer() as server:
        yield server
