"""Screen 3: `c` cancels a run while requests are still on the wire and one record waits
for its retry; `r` at once then sends every record the cancel left unsent (it used to
send only the scheduled retry: the engine still counted the run as active)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from aiohttp import web


async def test_r_right_after_c_sends_every_record_the_cancel_left_unsent(app_factory, tmp_path, tui):
    make, store = app_factory
    ids = [r["id"] for r in store.feedback_all()]
    failing = ids[10]
    state = {"slow": False, "in_flight": 0}
    answered: list[tuple[str, int]] = []

    async def hook(request: web.Request) -> web.Response:
        record = json.loads(await request.text())["id"]
        if record == failing and not any(r == record for r, _ in answered):
            state["slow"] = True  # from now on the receiver is slow: a cancel finds requests on the wire
            answered.append((record, 503))
            return web.Response(status=503, text="busy", headers={"Retry-After": "1"})
        if state["slow"]:
            state["in_flight"] += 1
            await asyncio.sleep(1.0)
            state["in_flight"] -= 1
        answered.append((record, 200))
        return web.Response(text="ok")

    app_web = web.Application()
    app_web.router.add_post("/hook", hook)
    runner = web.AppRunner(app_web, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    # The failing record's retry (30 s) is waited for in the foreground, claimed by the app.
    (tmp_path / "config.toml").write_text("[delivery]\nretry_schedule = [30, 30]\nmax_wait = 60\n",
                                          encoding="utf-8")
    store.macro_put({"name": "hook", "target": "feedback", "method": "POST", "url": f"http://127.0.0.1:{port}/hook",
                     "format": "json", "body": '{"id": "((id))"}', "concurrency": 4})
    try:
        app = make()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")
            run = app.dispatcher.start("hook", ids)
            await tui.wait_for(pilot, lambda: run.run_id is not None and state["in_flight"] >= 1
                               and store.retries_all() != [], "a record waiting for its retry, requests on the wire")
            await pilot.press("c")
            state["slow"] = False
            await tui.wait_for(pilot, lambda: not run.running, "the run marked cancelled")
            await pilot.press("r")
            retry = app.dispatcher.session_runs[-1]
            assert retry is not run and retry.trigger == "retry"
            await tui.wait_for(pilot, lambda: not retry.running, "the retry done")
            assert store.run_get(run.run_id)["status"] == "done"  # finished by the retry
    finally:
        await runner.cleanup()
    delivered = Counter(record for record, status in answered if status == 200)
    # Every record but the one waiting for its retry, exactly once; that one keeps its
    # retry, scheduled as it was (the clock is fixed: it is not due yet).
    assert delivered == Counter({rid: 1 for rid in ids if rid != failing})
    [kept] = store.retries_all()
    assert kept["record_id"] == failing and kept["claimed_by"] is None
