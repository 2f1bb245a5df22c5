"""The feedback table: filter, sort, marks, detail and edits, through real keys."""

from __future__ import annotations

from cctui.store import open_store
from cctui.tui.screens.detail import DetailScreen


async def test_filter_as_you_type_and_counts(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("slash", *"status:new")
        await tui.wait_for(pilot, lambda: "9 of 24" in tui.status_text(app))
        assert all(r["status"] == "New" for r in tui.table(app).rows)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.focused is tui.table(app)


async def test_bad_filter_term_is_shown_and_previous_rows_stay(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("slash", *"severity:critical", "enter")
        await tui.wait_for(pilot, lambda: "3 of 24" in tui.status_text(app))
        await pilot.press("slash", *" colour:red", "enter")
        error = app.screen.query_one("#filter-error")
        await tui.wait_for(pilot, lambda: "colour" in str(error.render()))
        assert error.display
        assert len(tui.table(app).rows) == 3
        assert "3 of 24" in tui.status_text(app)
        await pilot.press("slash", *["backspace"] * len(" colour:red"), "enter")
        await tui.wait_for(pilot, lambda: not app.screen.query_one("#filter-bar").error)
        assert not error.display


async def test_sort_cycles_columns_and_flips(make_app, tui):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await tui.loaded(pilot)
        rows = tui.table(app).rows
        assert [r["created"] for r in rows] == sorted((r["created"] for r in rows), reverse=True)
        screen = app.screen
        while screen.sort_field != "votes":
            await pilot.press("s")
        await tui.wait_for(pilot, lambda: "Votes ↓" in tui.status_text(app))
        await tui.wait_for(pilot, lambda: [r["votes"] for r in tui.table(app).rows] == sorted((r["votes"] for r in rows), reverse=True))
        await pilot.press("S")
        await tui.wait_for(pilot, lambda: [r["votes"] for r in tui.table(app).rows] == sorted(r["votes"] for r in rows))
        assert "Votes ↑" in tui.status_text(app)
        header = tui.table(app).render_line(0).text
        assert "Votes ↑" in header


async def test_sort_by_severity_follows_the_schema_order(make_app, tui):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await tui.loaded(pilot)
        while app.screen.sort_field != "severity":
            await pilot.press("s")
        order = ["Critical", "High", "Medium", "Low"]
        await tui.wait_for(pilot, lambda: [r["severity"] for r in tui.table(app).rows] == sorted((r["severity"] for r in tui.table(app).rows), key=order.index))


async def test_mark_one_range_all_and_clear(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        screen, table = app.screen, tui.table(app)
        ids = [r["id"] for r in table.rows]
        await pilot.press("space")
        assert screen.marks == {ids[0]} and table.cursor_row == 1
        await pilot.press("space")
        await pilot.press("k", "space")  # unmark the second again
        assert screen.marks == {ids[0]}
        await pilot.press("j", "j", "shift+down", "shift+down")
        assert screen.marks == {ids[0], ids[4], ids[5], ids[6]}
        await pilot.pause()
        assert "4 marked" in tui.status_text(app)
        assert table.render_line(1).text.startswith("●")
        await pilot.press("escape")
        await pilot.pause()
        assert screen.marks == set() and "0 marked" in tui.status_text(app)
        await pilot.press("slash", *"type:bug", "enter")
        await tui.wait_for(pilot, lambda: "12 of 24" in tui.status_text(app))
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert len(screen.marks) == 12 and all(i.startswith("BUG-") for i in screen.marks)
        assert "12 marked" in tui.status_text(app)


async def test_mark_all_covers_rows_not_on_screen(make_app, tui):
    app = make_app()
    async with app.run_test(size=(80, 12)) as pilot:  # only a few rows visible
        await tui.loaded(pilot)
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert len(app.screen.marks) == 24


async def test_m_hands_marked_ids_to_the_bulk_run(make_app, tui, monkeypatch):
    calls = []
    import cctui.tui.screens.bulk as bulk

    monkeypatch.setattr(bulk, "start_bulk", lambda app, ids, **kw: calls.append((ids, kw)))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        current = tui.table(app).current_id
        await pilot.press("m")
        await pilot.press("space", "space", "m")
        await pilot.pause()
    rows = calls
    assert rows[0] == ([current], {"target": "feedback", "feedback_type": None, "hidden": 0})
    assert len(rows[1][0]) == 2


async def test_sidebar_switches_tables_with_counts(make_app, tui):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await tui.loaded(pilot)
        sidebar = app.screen.query_one("#sidebar")
        assert sidebar.display
        labels = [str(sidebar.get_option_at_index(i).prompt) for i in range(sidebar.option_count)]
        assert labels[0].startswith("All feedback") and "24" in labels[0]
        await pilot.press("right_square_bracket")
        await tui.wait_for(pilot, lambda: "Bug Report" in tui.status_text(app) and "12 of 12" in tui.status_text(app))
        for _ in range(4):
            await pilot.press("right_square_bracket")
        await tui.wait_for(pilot, lambda: tui.table(app).columns[1].key == "name")
        assert "Users" in tui.status_text(app) and "3 of 3" in tui.status_text(app)
        assert tui.table(app).rows[0]["id"].startswith("USR-")


async def test_saved_filters_from_config_in_sidebar_and_palette(make_app, tui):
    app = make_app('[filters]\n"Critical bugs" = "type:bug severity:critical"\n')
    async with app.run_test(size=(120, 30)) as pilot:
        await tui.loaded(pilot)
        app.run_saved_filter("Critical bugs")
        await tui.wait_for(pilot, lambda: "3 of 24" in tui.status_text(app))
        assert app.screen.query_one("#filter-input").value == "type:bug severity:critical"


async def test_narrow_terminal_hides_sidebar_and_keeps_ids_visible(make_app, tui):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await tui.loaded(pilot)
        assert not app.screen.query_one("#sidebar").display
        line = tui.table(app).render_line(1).text
        assert tui.table(app).rows[0]["id"] in line
        assert len(line) == 80 - 1  # one column for the scrollbar
        await pilot.press("b")
        await pilot.pause()
        assert app.screen.query_one("#sidebar").display


async def test_open_detail_edit_status_persists_and_table_follows(make_app, tui, seeded_dir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        record = tui.table(app).current_record
        assert record["status"] == "New"
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.record is not None)
        assert record["title"] in str(app.screen.query_one("#detail-title").render())
        assert "Second line" in str(app.screen.query_one("#detail-description").render())
        await pilot.press("s")  # New -> Triaged
        await tui.wait_for(pilot, lambda: any("Triaged" in str(n.message) for n in app._notifications))
        await pilot.press("v")  # Critical -> High
        await tui.wait_for(pilot, lambda: any("severity is now" in str(n.message) for n in app._notifications))
        await pilot.press("escape")
        await tui.wait_for(pilot, lambda: tui.table(app).current_record["status"] == "Triaged")
    fresh = open_store(seeded_dir)
    try:
        stored = fresh.feedback_get(record["id"])
        assert stored["status"] == "Triaged"
        assert stored["severity"] != record["severity"]
        assert stored["modified"] == "2026-11-28T12:00:00Z"
    finally:
        fresh.close()


async def test_detail_shows_recent_deliveries(make_app, tui, seeded_dir):
    store = open_store(seeded_dir)
    store.log_append([{
        "id": "att-1", "delivery_id": "del-1", "macro": "slack-bugs", "record_id": "BUG-0001",
        "trigger": "manual", "attempt": 1, "method": "POST", "url": "http://127.0.0.1/x",
        "status_code": 404, "ok": False, "error": "no_service", "duration_ms": 3,
        "started_at": "2026-11-28T11:00:00Z", "response_body": "", "request_headers": [],
    }])
    store.close()
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await tui.loaded(pilot)
        app.open_record("BUG-0001")
        deliveries = lambda: str(app.screen.query_one("#detail-deliveries").render())  # noqa: E731
        await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and "slack-bugs" in deliveries())
        assert "404" in deliveries()
