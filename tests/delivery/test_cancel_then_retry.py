"""A run cancelled while requests are still on the wire and one record waits for its
retry, then retried in the same process (the TUI's `c` then `r` on screen 3): the retry
finishes the run, every record delivered exactly once. Real loopback receiver, real store."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from aiohttp import web

from cctui.delivery import Engine
from cctui.delivery import events as ev

from .conftest import add_items, fast_config, put_macro


class SlowAfterFailure:
    """Answers 200 at once, except: ``failing``'s first request gets a 503, and from then
    on, while ``slow`` is set, each request takes ``lag`` seconds (a receiver that slowed
    down, so a cancel finds requests still on the wire)."""

    def __init__(self, failing: str, lag: float) -> None:
        self.failing, self.lag = failing, lag
        self.slow = False
        self.in_flight = 0
        self.answered: list[tuple[str, int]] = []  # (record id, status) per request

    async def handle(self, request: web.Request) -> web.Response:
        record = json.loads(await request.text())["text"].split(":")[0]
        if record == self.failing and not any(r == record for r, _ in self.answered):
            self.slow = True
            self.answered.append((record, 503))
            return web.Response(status=503, text="busy", headers={"Retry-After": "1"})
        if self.slow:
            self.in_flight += 1
            await asyncio.sleep(self.lag)
            self.in_flight -= 1
        self.answered.append((record, 200))
        return web.Response(text="ok")


async def until(condition, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_retry_right_after_a_cancel_finishes_the_cancelled_run(store):
    ids = add_items(store, 120)
    receiver = SlowAfterFailure(failing=ids[10], lag=1.0)

    async def scenario() -> tuple[ev.RunSummary, ev.RunSummary]:
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            put_macro(store, url=f"http://127.0.0.1:{port}/hook", concurrency=4)
            # The failing record's retry (30 s) is waited for in the foreground.
            engine = Engine(store, fast_config(retry_schedule=[30, 30], max_wait=60))
            waiting: list[ev.RetryScheduled] = []
            task = engine.start("hook", ids, listener=lambda e: waiting.append(e)
                                if isinstance(e, ev.RetryScheduled) else None)
            await until(lambda: waiting and receiver.in_flight >= 1)
            assert engine.cancel()  # `c` on screen 3; requests on the wire finish slowly
            receiver.slow = False
            retried = await engine.retry(now=True)  # `r` at once, in the same process
            first = await task
            return first, retried
        finally:
            await runner.cleanup()

    first, retried = asyncio.run(scenario())
    assert first.cancelled and first.retrying == 1 and first.not_sent > 50
    delivered = Counter(record for record, status in receiver.answered if status == 200)
    assert delivered == Counter({rid: 1 for rid in ids})  # every record, exactly once
    assert retried.delivered == first.not_sent + first.retrying
    assert store.retries_all() == []
    assert [run["status"] for run in store.runs_all()].count("done") >= 1
