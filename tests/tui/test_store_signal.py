"""One source of store-change news: every screen follows another process's writes through
the app's ``store_changed`` signal (one watcher, no polling per screen)."""

from __future__ import annotations

import pytest

from cctui.store import open_store


def _other(seeded_dir):
    """Another writer on the same data dir: what `cctui ...` in another terminal does."""
    return open_store(seeded_dir)


async def _subscribed(pilot, screen) -> None:
    await pilot.pause()
    assert screen in pilot.app.store_changed._subscriptions, f"{screen} does not listen to store_changed"


async def test_feedback_screen_follows_another_process(make_app, tui, seeded_dir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await _subscribed(pilot, app.screen)
        other = _other(seeded_dir)
        try:
            other.feedback_update(["BUG-0001"], {"title": "Renamed in another terminal"})
        finally:
            other.close()
        await tui.wait_for(pilot, lambda: any(r["title"] == "Renamed in another terminal"
                                              for r in tui.table(app).rows), "the edit in the table", timeout=10)


async def test_detail_follows_another_process(make_app, tui, seeded_dir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        app.open_record("BUG-0001")
        await tui.wait_for(pilot, lambda: getattr(app.screen, "record", None) is not None, "the detail")
        await _subscribed(pilot, app.screen)
        other = _other(seeded_dir)
        try:
            other.feedback_update(["BUG-0001"], {"status": "Closed"})
        finally:
            other.close()
        await tui.wait_for(pilot, lambda: app.screen.record["status"] == "Closed", "the new status", timeout=10)
        assert "Closed" in str(app.screen.query_one("#detail-fields").render())


async def test_macros_screen_follows_another_process(make_app, tui, seeded_dir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("2")
        await _subscribed(pilot, app.screen)
        other = _other(seeded_dir)
        try:
            other.macro_put({"name": "from-elsewhere", "target": "feedback", "method": "POST",
                             "url": "https://example.com/hook", "format": "json", "body": "{}"})
        finally:
            other.close()
        table = app.screen.query_one("#macros-table")
        await tui.wait_for(pilot, lambda: "from-elsewhere" in [k.value for k in table.rows], "the macro", timeout=10)


async def test_dispatch_screen_follows_another_process(make_app, tui, seeded_dir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("3")
        await pilot.pause()
        other = _other(seeded_dir)
        try:
            run_id = other.run_create({"macro": "cli-run", "trigger": "manual", "total": 2, "state": "done",
                                       "record_ids": ["BUG-0001", "BUG-0002"], "started_at": "2026-11-28T11:00:00Z"})
        finally:
            other.close()
        await tui.wait_for(pilot, lambda: any(run.run_id == run_id for run in app.dispatcher.runs),
                           "the run from the CLI", timeout=10)
        await tui.wait_for(pilot, lambda: run_id in "".join(str(c.render()) for c in app.screen.query("DispatchRunCard")),
                           "its card", timeout=10)


async def test_logs_screen_follows_another_process(make_app, tui, seeded_dir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("4")
        await _subscribed(pilot, app.screen)
        table = app.screen.query_one("#logs-table")
        assert table.entries == []
        other = _other(seeded_dir)
        try:  # a CLI send: attempts in the log, then its run record
            other.log_append([{"macro": "cli-run", "record_id": "BUG-0001", "trigger": "manual", "attempt": 1,
                               "method": "POST", "url": "https://example.com/hook", "status_code": 200, "ok": True,
                               "error": None, "duration_ms": 12, "started_at": "2026-11-28T11:00:00Z"}])
            other.run_create({"macro": "cli-run", "trigger": "manual", "total": 1, "state": "done"})
        finally:
            other.close()
        await tui.wait_for(pilot, lambda: len(table.entries) == 1, "the new attempt", timeout=10)


@pytest.mark.parametrize("module", ["screens/feedback.py", "screens/macros.py", "screens/dispatch.py",
                                    "screens/logs.py", "screens/detail.py", "widgets/table_loader.py"])
def test_no_screen_polls_the_store_itself(module):
    from pathlib import Path

    import cctui.tui

    source = (Path(cctui.tui.__file__).parent / module).read_text(encoding="utf-8")
    assert "set_interval" not in source and "REVISION_POLL" not in source


async def test_a_real_cli_process_reaches_the_detail_through_the_signal(make_app, tui, seeded_dir):
    import asyncio
    import sys

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        app.open_record("BUG-0002")
        await tui.wait_for(pilot, lambda: getattr(app.screen, "record", None) is not None, "the detail")
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cctui", "--data-dir", str(seeded_dir), "feedback", "set", "BUG-0002",
            "severity=Critical", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await cli.communicate()
        assert cli.returncode == 0, err.decode()
        await tui.wait_for(pilot, lambda: app.screen.record["severity"] == "Critical", "the CLI's edit",
                           timeout=10)
