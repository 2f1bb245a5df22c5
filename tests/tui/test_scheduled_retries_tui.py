"""Scheduled retries in the open TUI: it sends the due ones (off the event loop, through the
dispatcher), and screens 3 and 4 show a retry the run could not wait for as
"retry scheduled at T", not as failed. Real loopback receiver, real store, Pilot."""

from __future__ import annotations

import pytest

from cctui.config import Config
from cctui.delivery.receiver import serve_in_background
from cctui.store import open_store

NOW = "2026-11-28T12:00:00Z"  # the clock of tests/tui (conftest: fixed_now)


@pytest.fixture
def hooks():
    url, stop = serve_in_background()
    yield url, stop.receiver
    stop()


def _app(seeded_dir, tmp_path, url: str):
    from cctui.tui.app import CctuiApp

    store = open_store(seeded_dir)
    store.macro_put({"name": "hook", "target": "feedback", "method": "POST", "url": url, "format": "json",
                     "body": '{"id": "((id))"}'})
    return CctuiApp(store, Config(tmp_path / "config.toml")), store


def _scheduled(delivery_id: str, record_id: str, due: str) -> dict:
    return {"delivery_id": delivery_id, "macro": "hook", "record_id": record_id, "run_id": "run-x",
            "trigger": "bulk", "attempt": 3, "used": 2, "limited": 0, "due": due, "scheduled_at": NOW,
            "status_code": 503, "error": "503 Service Unavailable", "claimed_by": None, "claimed_at": None}


async def test_the_open_tui_sends_due_scheduled_retries_once(seeded_dir, tmp_path, hooks, tui):
    url, received = hooks
    app, store = _app(seeded_dir, tmp_path, url + "/hook")
    first, second = [r["id"] for r in store.feedback_all()[:2]]
    store.retry_put([_scheduled("msg_due", first, "2026-11-28T11:59:00Z"),
                     _scheduled("msg_later", second, "2026-11-28T13:00:00Z")])
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            app.run_due_schedules()  # the 60-second hook, called now (CCTUI_NOW is fixed)
            await tui.wait_for(pilot, lambda: any(r.trigger == "retry" for r in app.dispatcher.session_runs),
                               "the scheduled retry's run on screen 3")
            run = next(r for r in app.dispatcher.session_runs if r.trigger == "retry")
            await tui.wait_for(pilot, lambda: not run.running, "the retry run to finish")
            assert (run.delivered, run.failed) == (1, 0)
            # The next tick: nothing more is due. The positive signal first: that tick ran
            # to its end (a claimed retry would have been tracked on screen 3 by then).
            tick = app.run_due_schedules()
            await tick.wait()
            assert tick.is_finished and tick.error is None
            assert [r.trigger for r in app.dispatcher.session_runs] == ["retry"]
        assert [item.headers["webhook-id"] for item in received.received] == ["msg_due"]
        [entry] = list(store.log_iter())
        assert (entry["delivery_id"], entry["attempt"], entry["ok"]) == ("msg_due", 3, True)
        assert [e["delivery_id"] for e in store.retries_all()] == ["msg_later"]
    finally:
        store.close()


async def test_screens_3_and_4_show_a_scheduled_retry_as_retrying(seeded_dir, tmp_path, hooks, tui):
    url, received = hooks
    app, store = _app(seeded_dir, tmp_path, url + "/status/503?retry_after=999999")
    record = store.feedback_all()[0]["id"]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            run = app.dispatcher.start("hook", [record], trigger="manual")
            await tui.wait_for(pilot, lambda: not run.running, "the run to finish")
            assert (run.failed, run.scheduled, run.next_retry) == (0, 1, "2026-11-28T13:00:00Z")
            await pilot.press("3")
            await tui.wait_for(pilot, lambda: app.screen.query("DispatchRunCard"), "the run card")
            card = str(app.screen.query("DispatchRunCard").first().render())
            assert "1 retry scheduled at 2026-11-28T13:00:00Z" in card and "failed 0" in card
            await pilot.press("4")
            await tui.wait_for(pilot, lambda: app.screen.query("#logs-table") and
                               app.screen.query_one("#logs-table").entries, "the log")
            count = str(app.screen.query_one("#logs-count").render())
            assert "0 failed · 1 retrying" in count
            from cctui.tui.widgets.log_table import entry_cells

            [entry] = app.screen.query_one("#logs-table").entries
            assert entry_cells(entry)[-1].endswith("retry scheduled at 2026-11-28T13:00:00Z")
        assert received.count == 1 and len(store.retries_all()) == 1
    finally:
        store.close()


async def test_a_scheduled_retry_dropped_because_another_run_delivered_it_leaves_screen_4s_count(
        seeded_dir, tmp_path, hooks, tui, monkeypatch):
    url, received = hooks
    app, store = _app(seeded_dir, tmp_path, url + "/status/503?retry_after=999999")
    record = store.feedback_all()[0]["id"]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            failing = app.dispatcher.start("hook", [record], trigger="manual")
            await tui.wait_for(pilot, lambda: not failing.running, "the first run to finish")
            assert failing.scheduled == 1
            store.macro_update("hook", {"url": url + "/hook"})
            delivering = app.dispatcher.start("hook", [record], trigger="manual")
            await tui.wait_for(pilot, lambda: not delivering.running, "the second run to finish")
            assert delivering.delivered == 1
            monkeypatch.setenv("CCTUI_NOW", "2026-11-28T14:00:00Z")  # the retry is due
            tick = app.run_due_schedules()
            await tick.wait()
            await tui.wait_for(pilot, lambda: any(r.trigger == "retry" and not r.running
                                                  for r in app.dispatcher.session_runs), "the retry run")
            [retried] = [r for r in app.dispatcher.session_runs if r.trigger == "retry"]
            assert (retried.skipped, retried.delivered, retried.scheduled) == (1, 0, 0)
            await pilot.press("4")
            await tui.wait_for(pilot, lambda: app.screen.query("#logs-table") and
                               app.screen.query_one("#logs-table").entries, "the log")
            count = str(app.screen.query_one("#logs-count").render())
            assert "3 of 3 attempts · 0 failed" in count and "retrying" not in count, count
            from cctui.tui.widgets.log_table import entry_cells

            newest = app.screen.query_one("#logs-table").entries[0]
            assert newest["skipped"] and entry_cells(newest)[-1] == "skipped: scheduled retry dropped"
        assert received.count == 2 and store.retries_all() == []
    finally:
        store.close()
