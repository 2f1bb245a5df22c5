"""Fixtures for the delivery tests: a store with items, macros, and real HTTP servers on
127.0.0.1 (the receiver in a thread, plus small misbehaving aiohttp apps)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from types import SimpleNamespace

import pytest

from cctui.delivery.receiver import Receiver, serve_in_background

#: A tiny retry schedule so tests that retry stay fast.
FAST = {"retry_schedule": [0.05, 0.1, 0.15], "breaker_threshold": 20, "jitter": 0.0}


def fast_config(**delivery):
    return SimpleNamespace(delivery={**FAST, **delivery}, base_url=None)


@pytest.fixture
def store(data_dir):
    from cctui.store import open_store

    s = open_store(data_dir)
    yield s
    s.close()


def add_items(store, count: int, **fields) -> list[str]:
    """``count`` bug reports; returns their ids."""
    items = [{"type": "Bug Report", "title": f"Crash #{n} on save", "status": "New", "severity": "High",
              "submitter": "ana@example.com", "votes": n, "description": "It \"crashes\"\nbadly", "steps": "",
              "category": "editor", **fields} for n in range(count)]
    return [item["id"] for item in store.feedback_add(items)]


def put_macro(store, name: str = "hook", url: str = "http://127.0.0.1:9/", **keys) -> dict:
    from cctui.macros.model import Macro

    data = {"name": name, "url": url, "body": '{"text": "((id)): ((title))"}', "timeout": 5, **keys}
    macro = Macro.from_dict(data).to_dict()
    store.macro_put(macro)
    return macro


@pytest.fixture
def receiver():
    """A receiver on a free port: ``(base_url, Receiver)``."""
    url, stop = serve_in_background()
    yield SimpleNamespace(url=url, state=stop.receiver, stop=stop)
    stop()


@pytest.fixture
def make_receiver():
    """Receivers with options: ``make_receiver(slack_rate=20)``."""
    stops = []

    def make(**options):
        url, stop = serve_in_background(**options)
        stops.append(stop)
        return SimpleNamespace(url=url, state=stop.receiver, stop=stop)

    yield make
    for stop in stops:
        stop()


class Lateness:
    """How late a thread of this process wakes from a short sleep, at worst, while it
    runs: the scheduling noise the recorder's thread meets too (on a busy two-core
    machine it reaches tenths of a second), measured rather than guessed."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            asked = time.monotonic()
            time.sleep(0.005)
            self.worst = max(self.worst, time.monotonic() - asked - 0.005)

    def __enter__(self) -> Lateness:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class HeldReceiver(Receiver):
    """A receiver that answers its first ``answer_first`` requests and holds every later
    one until the test calls :meth:`release`: a run stays open (with known requests in
    flight) for exactly as long as the test needs, however slow the machine is."""

    def __init__(self, answer_first: int = 0, **options) -> None:
        super().__init__(**options)
        self.answer_first = answer_first
        self._gate = threading.Event()

    def release(self) -> None:
        """Answer the held requests, and every later one at once."""
        self._gate.set()

    async def answer(self, request, body):
        # ``count`` already includes this request, and nothing awaited since it was counted.
        if self.count > self.answer_first and not self._gate.is_set():
            await asyncio.to_thread(self._gate.wait)
        return await super().answer(request, body)


@pytest.fixture
def held_receiver():
    """``held_receiver(answer_first=10)``: a :class:`HeldReceiver` on a free port, released
    and stopped at the end of the test."""
    stops = []

    def make(**options):
        held = HeldReceiver(**options)
        url, stop = serve_in_background(receiver=held)
        stops.append(stop)
        return SimpleNamespace(url=url, state=held, stop=stop)

    yield make
    for stop in stops:
        stop.receiver.release()  # a held thread would keep the test process from exiting
        stop()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def fast_cli_config(tmp_path, monkeypatch):
    """Point CCTUI_CONFIG at a config with the tiny retry schedule (for CLI tests)."""
    path = tmp_path / "config.toml"
    path.write_text("[delivery]\nretry_schedule = [0.05, 0.1, 0.15]\njitter = 0.0\n", encoding="utf-8")
    monkeypatch.setenv("CCTUI_CONFIG", str(path))
    return path


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Collector(list):
    """A listener that keeps every event."""

    def __call__(self, event) -> None:
        self.append(event)

    def of(self, kind) -> list:
        return [e for e in self if isinstance(e, kind)]
