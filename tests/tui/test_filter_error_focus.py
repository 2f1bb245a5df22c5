"""A rejected filter keeps the filter box focused.

Found walking the TUI at 80x24: `/`, `foo:bar`, Enter showed "unknown field 'foo'" under
the box but moved the focus to the table, so the keys typed next to fix the query ran
table and detail commands (`b` hid the sidebar, `s` sorted, Enter opened a record, and
there `v`/`c` changed its severity and category). Screen 4's log filter already kept the
focus on a bad term; screen 1 now does the same, and a good filter still goes back to the
table.
"""

from __future__ import annotations

SMALL = (80, 24)


async def test_bad_filter_keeps_focus_good_filter_returns_to_table(make_app, tui):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        screen = app.screen
        before = [row["id"] for row in tui.table(app).rows]
        await pilot.press("slash")
        await tui.type_text(pilot, "foo:bar")
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: "unknown field 'foo'" in screen.filter_bar.error, "the filter error")
        await pilot.pause()
        assert app.focused is screen.query_one("#filter-input"), app.focused
        await tui.type_text(pilot, "bv")  # fixing the query: typed into the box, not commands
        assert screen.query_one("#filter-input").value == "foo:barbv"
        assert [row["id"] for row in tui.table(app).rows] == before
        assert app.screen is screen

        screen.query_one("#filter-input").value = ""
        await tui.type_text(pilot, "type:bug")
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: all(r["type"] == "Bug Report" for r in tui.table(app).rows), "the bugs")
        assert app.focused is tui.table(app)
        assert not screen.filter_bar.error
