"""Screen 3 after a scheduled retry is settled by a later run: the card of the run that
scheduled it stops saying "retrying" and says how the delivery ended (delivered, failed
or skipped), whether that run was sent in this TUI session or read from the store.

Real loopback receiver (``/flaky/1``: 503 once per webhook-id, then 200), real store in
tmp_path, the real app under Pilot; ``[delivery] max_wait = 0`` makes the 503's retry a
scheduled one, and moving ``CCTUI_NOW`` makes it due.
"""

from __future__ import annotations

import asyncio

import pytest

from cctui.config import Config
from cctui.delivery.receiver import serve_in_background
from cctui.store import open_store

LATER = "2026-11-28T12:30:00Z"  # well after the scheduled retry is due (tests/tui clock: 12:00)


@pytest.fixture
def flaky():
    url, stop = serve_in_background()
    yield url + "/flaky/1", stop.receiver
    stop()


def _store(seeded_dir, url: str):
    store = open_store(seeded_dir)
    store.macro_put({"name": "hook", "target": "feedback", "method": "POST", "url": url, "format": "json",
                     "body": '{"id": "((id))"}'})
    return store


def _app(store, tmp_path):
    from cctui.tui.app import CctuiApp

    return CctuiApp(store, Config(tmp_path / "config.toml", {"delivery": {"max_wait": 0}}))


async def send_due_retries(app, pilot, tui) -> None:
    """The app's run-due tick, now, and its retry run to its end. Not the tick worker's
    own end: the app's start-up tick (1 s after mount, same exclusive group) may cancel
    this one on a loaded machine, and then it is the one that sends."""
    app.run_due_schedules()
    await tui.wait_for(pilot, lambda: any(r.trigger == "retry" and not r.running
                                          for r in app.dispatcher.session_runs), "the retry run")


def _card_text(app, run_id: str) -> str:
    for card in app.screen.query("DispatchRunCard"):
        if card.run.run_id == run_id:
            return str(card.render())
    raise AssertionError(f"no card for {run_id}")


async def test_the_card_of_a_tui_run_says_delivered_once_its_scheduled_retry_is_delivered(
        seeded_dir, tmp_path, flaky, tui, monkeypatch):
    url, received = flaky
    store = _store(seeded_dir, url)
    record = store.feedback_all()[0]["id"]
    app = _app(store, tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            first = app.dispatcher.start("hook", [record], trigger="manual")
            await tui.wait_for(pilot, lambda: not first.running, "the first run to finish")
            assert (first.delivered, first.failed, first.scheduled) == (0, 0, 1)
            await pilot.press("3")
            await tui.wait_for(pilot, lambda: first.run_id and app.screen.query("DispatchRunCard"), "the card")
            assert "retrying 1" in _card_text(app, first.run_id)

            monkeypatch.setenv("CCTUI_NOW", LATER)  # the retry is due
            await send_due_retries(app, pilot, tui)
            [retried] = [r for r in app.dispatcher.session_runs if r.trigger == "retry"]
            assert (retried.delivered, retried.scheduled) == (1, 0)

            def settled() -> bool:
                text = _card_text(app, first.run_id)
                return "retrying 0" in text and "delivered 1" in text

            await tui.wait_for(pilot, settled, "the first run's card to say delivered, not retrying")
            text = _card_text(app, first.run_id)
            assert "retry scheduled" not in text and "failed 0" in text, text

            # Its log (l on the card): the one attempt of that run, whose delivery a later
            # run delivered, is not counted as retrying.
            for card in app.screen.query("DispatchRunCard"):
                if card.run.run_id == first.run_id:
                    card.focus()
            await pilot.press("l")
            await tui.wait_for(pilot, lambda: app.screen.query("#logs-table") and
                               app.screen.query_one("#logs-table").entries, "the run's log")
            count = str(app.screen.query_one("#logs-count").render())
            assert count.startswith("1 of 2 attempts · 0 failed") and "retrying" not in count, count
            assert app.screen.filter_text == f"run:{first.run_id}"
        assert received.count == 2 and store.retries_all() == []
    finally:
        store.close()


async def test_the_card_of_a_stored_run_counts_a_retry_that_a_later_cli_retry_delivered(
        seeded_dir, tmp_path, flaky, tui, monkeypatch, run):
    # The CLI runs in a thread: it starts its own event loop, as the installed command does.
    url, received = flaky
    store = _store(seeded_dir, url)
    record = store.feedback_all()[0]["id"]
    store.close()
    sent = await asyncio.to_thread(run, "--data-dir", str(seeded_dir), "send", "hook", "--item", record, "--max-wait", "0")
    assert sent.code == 0 and "retrying 1" in sent.out, sent
    monkeypatch.setenv("CCTUI_NOW", LATER)
    retried = await asyncio.to_thread(run, "--data-dir", str(seeded_dir), "retry")
    assert retried.code == 0 and "delivered 1" in retried.out, retried
    store = open_store(seeded_dir)
    [first] = [run for run in store.runs_all() if run["trigger"] == "manual"]
    app = _app(store, tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await tui.wait_for(pilot, lambda: any(c.run.run_id == first["id"]
                                                  for c in app.screen.query("DispatchRunCard")), "the card")
            text = _card_text(app, first["id"])
            assert "delivered 1" in text and "retrying 0" in text and "retry scheduled" not in text, text
        assert received.count == 2
    finally:
        store.close()


async def test_the_card_says_failed_when_the_scheduled_retry_fails_for_good(
        seeded_dir, tmp_path, tui, monkeypatch):
    """503, then (due) a 404: the delivery ended failed; the first run's card says so."""
    answers = iter([503, 404])
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        return web.Response(status=next(answers), headers={"Retry-After": "0"})

    web_app = web.Application()
    web_app.router.add_post("/hook", hook)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    store = _store(seeded_dir, f"http://127.0.0.1:{port}/hook")
    record = store.feedback_all()[0]["id"]
    app = _app(store, tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            first = app.dispatcher.start("hook", [record], trigger="manual")
            await tui.wait_for(pilot, lambda: not first.running, "the first run to finish")
            assert first.scheduled == 1
            monkeypatch.setenv("CCTUI_NOW", LATER)
            await send_due_retries(app, pilot, tui)
            await pilot.press("3")

            def settled() -> bool:
                cards = [c for c in app.screen.query("DispatchRunCard") if c.run.run_id == first.run_id]
                return bool(cards) and "failed 1" in str(cards[0].render())

            await tui.wait_for(pilot, settled, "the first run's card to say failed")
            assert "retrying 0" in _card_text(app, first.run_id)
    finally:
        store.close()
        await asyncio.shield(runner.cleanup())
