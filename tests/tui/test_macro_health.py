"""Screen 2's health column does not say "ok" for a macro whose last run delivered nothing.

Found walking the TUI: a bulk run against a host answering 429 with `Retry-After: 999999`
left all 13 records with a retry scheduled an hour later (none delivered, none failed),
and the macro list showed a green "ok" beside it, as it did for a host whose requests all
timed out. A run with retries still waiting now shows "retrying".
"""

from __future__ import annotations

from aiohttp import web

from cctui.macros.model import Macro

SMALL = (80, 24)


async def test_health_says_retrying_while_retries_wait(app_factory, tui):
    async def busy(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=429, text="slow down", headers={"Retry-After": "999999"})

    server = web.Application()
    server.router.add_route("*", "/{tail:.*}", busy)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    make, store = app_factory
    store.macro_put(Macro.from_dict({"name": "busy", "url": f"http://127.0.0.1:{port}/hook",
                                     "body": '{"id": "((id))"}', "concurrency": 2}).to_dict())
    ids = sorted(r["id"] for r in store.feedback_all())[:4]
    try:
        app = make()
        async with app.run_test(size=SMALL) as pilot:
            await tui.loaded(pilot)
            run = app.dispatcher.start("busy", ids, trigger="bulk")
            await tui.wait_for(pilot, lambda: not run.running, "the run to end")
            assert (run.delivered, run.failed, run.scheduled) == (0, 0, 4)
            await pilot.press("2")
            await tui.wait_for(pilot, lambda: app.screen.query("DataTable")
                               and app.screen.query_one("DataTable").row_count, "the macro list")
            await pilot.pause()
            row = [str(cell) for cell in app.screen.query_one("DataTable").get_row("busy")]
            assert "retrying" in " ".join(row) and "ok" not in " ".join(row), row
    finally:
        await runner.cleanup()
