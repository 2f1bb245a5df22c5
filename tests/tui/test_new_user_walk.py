"""Issue 11's defects, found walking the TUI as a new user: each one pressed through Pilot."""

from __future__ import annotations

import pytest

SMALL = (80, 24)


def _hook_macro(name: str, url: str, **extra) -> dict:
    return {"name": name, "target": "feedback", "method": "POST", "url": url, "format": "json",
            "body": '{"id": "((id))"}', **extra}


def _log_entries(store, macro: str, record_ids: list[str], *, ok: bool = True) -> None:
    """Attempts as the engine writes them (fixed times), without sending anything."""
    store.log_append([{
        "id": f"att-{macro}-{i}", "delivery_id": f"dlv-{i}", "macro": macro, "record_id": rid,
        "trigger": "bulk", "attempt": 1, "method": "POST", "url": "http://127.0.0.1:9/x",
        "status_code": 200 if ok else 404, "ok": ok, "error": None, "duration_ms": 3,
        "started_at": f"2026-11-28T11:{i:02d}:00Z", "response_body": "ok", "request_headers": [],
        "run_id": "run-1",
    } for i, rid in enumerate(record_ids)])


# -- 1: a log opened from another screen can be left ------------------------------------------
@pytest.mark.parametrize("leave", ["escape", "1"])
async def test_a_record_log_is_left_with_esc_or_1(make_app, tui, leave):
    from cctui.tui.screens.detail import DetailScreen
    from cctui.tui.screens.feedback import FeedbackScreen
    from cctui.tui.screens.logs import LogsScreen

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail")
        await pilot.press("l")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "the record's log")
        await pilot.press(leave)
        want = DetailScreen if leave == "escape" else FeedbackScreen
        await tui.wait_for(pilot, lambda: isinstance(app.screen, want), f"{leave} leaving the log")


def _at(screen, base: str) -> bool:
    """``screen`` is ``base`` and shows a row for "l" to open: the macros table's "hook"
    row, or the dispatch screen's run card."""
    from cctui.tui.widgets.dispatch_run_card import DispatchRunCard

    if type(screen).__name__ != base:
        return False
    if base == "MacrosScreen":
        return screen.current_name == "hook"
    return bool(screen.query(DispatchRunCard))


@pytest.mark.parametrize("start, base", [("2", "MacrosScreen"), ("3", "DispatchScreen")])
async def test_a_log_pushed_from_screens_2_and_3_is_left_by_their_number(make_app, tui, start, base):
    from cctui.tui.run_progress import RunProgress
    from cctui.tui.screens.logs import LogsScreen

    app = make_app()
    app.store.macro_put(_hook_macro("hook", "http://127.0.0.1:9/x"))
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        if start == "3":
            app.dispatcher.track(RunProgress(macro="hook", total=1, state="done"))
        await pilot.press(start)
        # "l" opens the log of the selected row: wait until the screen shows the row (the
        # macros table fills from a thread worker; on a busy machine that comes later).
        await tui.wait_for(pilot, lambda: _at(app.screen, base), base)
        await pilot.press("l")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "the log")
        await pilot.press(start)
        await tui.wait_for(pilot, lambda: _at(app.screen, base), f"{start} back to {base}")
        # and from there each number reaches its base screen
        await pilot.press("l")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "the log again")
        await pilot.press("4")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, LogsScreen) and app.screen.filter_text == "",
                           "4: the full log")
        await pilot.press(start)
        await tui.wait_for(pilot, lambda: type(app.screen).__name__ == base, f"{start} after 4")


# -- 8: j/k/g/G in every table -------------------------------------------------------------------
async def test_log_table_moves_with_j_k_g_G(make_app, tui):
    from cctui.tui.widgets.log_table import LogTable

    app = make_app()
    _log_entries(app.store, "hook", [f"BUG-{i:04d}" for i in range(1, 6)])
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("4")
        await tui.wait_for(pilot, lambda: app.screen.query(LogTable) and len(app.screen.query_one(LogTable).entries) == 5,
                           "five attempts")
        table = app.screen.query_one(LogTable)
        await pilot.press("j", "j")
        assert table.cursor == 2
        await pilot.press("k")
        assert table.cursor == 1
        await pilot.press("G")
        assert table.cursor == 4
        await pilot.press("g")
        assert table.cursor == 0


async def test_macro_table_moves_with_j_k_g_G(make_app, tui):
    app = make_app()
    for name in ("a-hook", "b-hook", "c-hook"):
        app.store.macro_put(_hook_macro(name, "http://127.0.0.1:9/x"))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        await tui.wait_for(pilot, lambda: app.screen.query("#macros-table") and app.screen.query_one("#macros-table").row_count == 3)
        table = app.screen.query_one("#macros-table")
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == 2
        await pilot.press("g")
        assert table.cursor_row == 0


# -- 10: empty screens say what to do ------------------------------------------------------------
async def test_empty_screens_say_what_to_do_and_R_claims_nothing(make_app, tui):
    from cctui.tui.widgets.log_table import LogTable

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        await tui.wait_for(pilot, lambda: app.screen.query("#macros-empty"), "screen 2")
        await pilot.pause()
        empty = app.screen.query_one("#macros-empty")
        assert empty.display and "press n" in str(empty.render()).lower()
        await pilot.press("3")
        await tui.wait_for(pilot, lambda: app.screen.query("#dispatch-empty"), "screen 3 says what to do")
        assert "press m" in str(app.screen.query_one("#dispatch-empty").render())
        await pilot.press("4")
        await tui.wait_for(pilot, lambda: app.screen.query(LogTable) and "No deliveries yet" in app.screen.query_one(LogTable).placeholder)
        lines = [app.screen.query_one(LogTable).render_line(y).text for y in range(4)]
        assert any("No deliveries yet" in line for line in lines)
        await pilot.press("R")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert messages and "Nothing to retry: no attempts are shown." in messages[-1]
        assert not any("succeeded" in m for m in messages)


# -- 11: s sorts only by columns on screen, and the view goes to the top --------------------------
async def test_sort_cycles_only_visible_columns_and_goes_to_the_top(make_app, tui):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        from cctui.tui.widgets.table_model import fit_columns

        table = tui.table(app)
        visible = [c.key for c, _ in fit_columns(table.columns, table.scrollable_content_region.width)]
        assert "submitter" not in visible  # 80 columns drop some
        seen = []
        for _ in range(len(table.columns) + 2):
            await pilot.press("s")
            seen.append(app.screen.sort_field)
        assert set(seen) <= set(visible), seen
        await pilot.press("G")
        assert table.cursor_row == len(table.rows) - 1
        await pilot.press("s")
        await tui.wait_for(pilot, lambda: app.screen.view_settled and table.cursor_row == 0, "the top after a sort")
        assert table.scroll_y == 0


# -- 14 and 9: the bulk confirmation at 80x24 --------------------------------------------------------
async def test_bulk_confirm_fits_80x24_and_warns_about_marks_the_filter_hides(make_app, tui):
    from cctui.tui.screens.confirm import ConfirmScreen

    app = make_app()
    app.store.macro_put(_hook_macro("hook", "http://127.0.0.1:9/x",
                                    body='{"id": "((id))", "title": "((title))", "text": "((description))",\n'
                                         '"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}'))
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        await pilot.press("space", "space", "space")  # three marked
        assert len(app.screen.marks) == 3
        first_three = set(app.screen.marks)
        shown_one = sorted(first_three)[0]
        await pilot.press("slash")
        await tui.type_text(pilot, f"id:{shown_one}")
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: app.screen.view_settled and len(tui.table(app).rows) == 1, "the filter")
        await pilot.press("m")
        await tui.wait_for(pilot, lambda: app.screen.query("#picker-query"), "the picker")
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.pause()
        screen = app.screen
        assert "3 records, 2 not shown by the filter" in str(screen.query_one("#confirm-hidden").render())
        for button in screen.query("Button"):
            region = button.region
            assert region.height >= 1 and region.bottom <= 24 and region.right <= 80, (button.id, region)
            assert screen.get_widget_at(region.x + 1, region.y)[0] is button, button.id


# -- 12: a burst that ends rejected does not keep a half-typed filter's count ---------------------
async def test_rejected_burst_shows_the_count_from_before_the_burst(make_app, tui, monkeypatch):
    from cctui.tui.screens import feedback

    # A generous burst window: the keys below count as one burst however slow the machine.
    monkeypatch.setattr(feedback, "FILTER_DEBOUNCE", 1.0)
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        await tui.wait_for(pilot, lambda: app.screen.view_settled)
        assert "24 of 24" in tui.status_text(app)
        await pilot.press("slash")
        await tui.type_text(pilot, "kind:bogus")  # "k" alone filters at once (9 records)
        bar = app.screen.filter_bar
        await tui.wait_for(pilot, lambda: "kind" in bar.error and app.screen.view_settled, "the rejection")
        await tui.wait_for(pilot, lambda: len(tui.table(app).rows) == 24, "the rows from before the burst")
        assert "24 of 24" in tui.status_text(app) and "kind" in bar.error


async def test_macro_list_fits_80_columns(make_app, tui):
    from cctui.macros.samples import sample_macro_dicts

    app = make_app()
    for macro in sample_macro_dicts("http://127.0.0.1:8765"):
        if macro["name"] == "slack-bugs":
            macro["url"] = "https://hooks.slack.com/services/T000/B000/XXXX"
        app.store.macro_put(macro)
    app.store.run_create({"macro": "slack-bugs", "trigger": "bulk", "record_ids": ["BUG-0001"],
                          "started": "2026-11-28T11:30:00Z", "status": "done", "dry_run": False,
                          "summary": {"total": 1, "delivered": 1}})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        await tui.wait_for(pilot, lambda: app.screen.query("#macros-table")
                           and app.screen.query_one("#macros-table").row_count == 6, "the sample macros")
        await pilot.pause()
        table = app.screen.query_one("#macros-table")
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert not table.horizontal_scrollbar.display or not table.show_horizontal_scrollbar
        assert "next run" in [str(c.label) for c in table.columns.values()]


# -- 13: the demo's theme switch stays in the demo ----------------------------------------------
async def test_theme_switch_in_the_demo_does_not_write_the_config(config_file, tui, seeded_dir):
    from cctui.config import load_config
    from cctui.store import open_store
    from cctui.tui.app import CctuiApp

    store = open_store(seeded_dir)
    try:
        app = CctuiApp(store, load_config(config_file), theme="cctui-paper", remember_theme=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await tui.loaded(pilot)
            app.theme = "cctui-contrast"
            await pilot.pause()
    finally:
        store.close()
    assert not config_file.exists()


def test_a_log_read_that_arrives_before_the_table_is_mounted_is_dropped():
    # Unit test of LogsScreen._show: a read can finish before the screen's widgets are
    # mounted (the push's resume starts one; on a loaded machine it wins the race) or
    # after they are gone. It used to raise NoMatches inside the worker, which ended the
    # app; now it fills nothing and on_mount's own read shows the entries.
    from cctui.tui.screens.logs import LogsScreen

    LogsScreen()._show([], 0)  # no widgets mounted: must not raise
