"""A real loopback webhook receiver for automation tests (aiohttp on 127.0.0.1).

It runs on its own thread and loop because the CLI under test runs the delivery engine
with ``asyncio.run`` in the test's thread.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from aiohttp import web


class Receiver:
    """Records every request; answers ``status`` with ``{"key": "CC-<n>"}``."""

    def __init__(self) -> None:
        self.hits: list[dict] = []
        self.status = 200
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.text()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        self.hits.append({"path": request.path, "body": body})
        return web.json_response({"key": f"CC-{len(self.hits)}"}, status=self.status)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def paths(self) -> list[str]:
        return [hit["path"] for hit in self.hits]


@pytest.fixture
def receiver():
    server = Receiver()
    server.start()
    yield server
    server.stop()
