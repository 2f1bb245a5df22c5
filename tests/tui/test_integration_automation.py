"""The TUI and automation together: schedules and triggers run through the dispatcher
while the app is open (against a real loopback receiver), the detail's per-record log,
part-2 keys in [keymap], and the macro list following another process's ``macro add``."""

from __future__ import annotations

import pytest

from cctui.automation.triggers import QueuedRunner, attach
from cctui.config import Config
from cctui.store import open_store


@pytest.fixture
async def receiver(make_hook_receiver):
    """Answers 200 on 127.0.0.1 and remembers each request's path and body."""
    return await make_hook_receiver()


def _macro(name: str, url: str, **extra) -> dict:
    return {"name": name, "target": "feedback", "method": "POST", "url": url, "format": "json",
            "body": '{"id": "((id))"}', **extra}


def _app(seeded_dir, tmp_path, *, with_triggers: bool = False):
    from cctui.tui.app import CctuiApp

    store = open_store(seeded_dir)
    triggers = attach(store, QueuedRunner(lambda: None)) if with_triggers else None
    return CctuiApp(store, Config(tmp_path / "config.toml"), triggers=triggers), store, triggers


async def test_due_schedules_run_through_the_dispatcher_while_open(seeded_dir, tmp_path, receiver, tui):
    base, seen = receiver
    app, store, _ = _app(seeded_dir, tmp_path)
    store.macro_put(_macro("daily-new", f"{base}/daily", schedule={"every": "daily", "filter": "status:new"}))
    new_ids = {r["id"] for r in store.feedback_all() if r["status"] == "New"}
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            app.run_due_schedules()  # the 60-second hook, called now (CCTUI_NOW is fixed)
            await tui.wait_for(pilot, lambda: any(r.trigger == "schedule" for r in app.dispatcher.session_runs),
                           "the scheduled run on screen 3")
            run = next(r for r in app.dispatcher.session_runs if r.trigger == "schedule")
            await tui.wait_for(pilot, lambda: not run.running, "the scheduled run to finish")
            assert (run.macro, run.delivered, run.failed) == ("daily-new", len(new_ids), 0)
            # Same period again (the timer's own call, or another tick): nothing more is sent.
            # The positive signal first: this call finished and found nothing due.
            again = app.run_due_schedules()
            await again.wait()
            assert again.result == []
            assert [r.trigger for r in app.dispatcher.session_runs] == ["schedule"]
            assert len(seen) == len(new_ids)
            # The macros screen shows when it runs next (CCTUI_NOW is 2026-11-28 12:00 UTC).
            await pilot.press("2")
            await tui.wait_for(pilot, lambda: app.screen.query("#macros-table")
                               and app.screen.query_one("#macros-table").row_count, "the macros table")
            row = app.screen.query_one("#macros-table").get_row("daily-new")
            assert "11-29 00:00" in row
    finally:
        store.close()


async def test_a_status_edit_in_the_detail_fires_a_trigger_shown_in_the_dispatcher(
        seeded_dir, tmp_path, receiver, tui):
    from cctui.tui.screens.detail import DetailScreen

    base, seen = receiver
    app, store, triggers = _app(seeded_dir, tmp_path, with_triggers=True)
    store.macro_put(_macro("on-triage", f"{base}/triaged",
                           trigger={"on": ["modify"], "filter": "status:triaged"}))
    record = next(r for r in store.feedback_all() if r["status"] == "New")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await tui.loaded(pilot)
            app.open_record(record["id"])
            await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.record,
                           "the detail")
            await pilot.press("s")  # New -> Triaged, written by the store in a thread
            await tui.wait_for(pilot, lambda: any(r.trigger == "modify" for r in app.dispatcher.session_runs),
                           "the triggered run in the dispatcher")
            run = next(r for r in app.dispatcher.session_runs if r.trigger == "modify")
            await tui.wait_for(pilot, lambda: not run.running, "the triggered run to finish")
            assert (run.macro, run.delivered, run.total) == ("on-triage", 1, 1)
            assert [hit["path"] for hit in seen] == ["/triaged"] and record["id"] in seen[0]["body"]
            entries = list(store.log_iter(record_id=record["id"]))
            assert [e["trigger"] for e in entries] == ["modify"]
        # After quit the runner the app borrowed is handed back.
        assert isinstance(triggers.runner, QueuedRunner)
    finally:
        store.close()


async def test_detail_opens_the_records_own_log(make_app, tui):
    from cctui.tui.screens.detail import DetailScreen
    from cctui.tui.screens.logs import LogsScreen

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail")
        record_id = app.screen.record_id
        assert "Log" in str(app.screen.query_one("KeyHints").render())
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LogsScreen)
        assert app.screen.filter_text == f"record:{record_id}"


async def test_workflow_binding_ids_can_be_remapped(make_app, tui):
    from cctui.tui.screens.preset_picker import PresetPicker

    app = make_app('[keymap]\n"macros-new" = "a"\n"confirm-yes" = "s"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        assert not app._notifications  # no "no binding has that id" warning
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, PresetPicker)


async def test_old_binding_ids_still_work_with_a_warning(make_app, tui):
    from cctui.tui.screens.preset_picker import PresetPicker

    app = make_app('[keymap]\n"macros.new" = "a"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        warnings = [n.message for n in app._notifications]
        assert warnings == ["config [keymap] 'macros.new' is now called 'macros-new'; "
                            "the old name still works, but rename it."]
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, PresetPicker)


async def test_macro_list_follows_another_process(make_app, tui, seeded_dir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("2")
        await pilot.pause()
        table = app.screen.query_one("#macros-table")
        assert "late-comer" not in [key.value for key in table.rows]
        other = open_store(seeded_dir)  # what `cctui macro add` in another terminal does
        try:
            other.macro_put(_macro("late-comer", "https://example.com/hook"))
        finally:
            other.close()
        await tui.wait_for(pilot, lambda: "late-comer" in [key.value for key in table.rows],
                       "the new macro in the list", timeout=5)


async def test_palette_runs_act_on_the_marked_records(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        first = tui.table(app).current_id
        assert app.marked_ids == [first]  # nothing marked: the current record
        await pilot.press("space", "space")
        await pilot.pause()
        marked = app.marked_ids
        assert len(marked) == 2 and first in marked
