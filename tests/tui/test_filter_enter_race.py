"""Keys typed right after Enter in the filter box reach the table, not the box.

tests/tui/test_workflow_loop.py failed under load with 48 of 50 records marked: its first
spaces after ``type:bug⏎`` went into the filter box (``"type:bug  "``). Enter reached the
screen as the Input's Submitted message, after the keys already queued behind it, and the
focus moved to the table later still (``focus()`` is deferred). A quick typist or a paste
(``type:bug⏎`` then space) hits the same race. Here the keys are posted back to back, as a
terminal delivers them, so the race shows on every run, not just under load.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

SMALL = (80, 24)


async def test_spaces_right_after_enter_mark_rows(make_app, tui):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        await pilot.press("slash")
        await tui.type_text(pilot, "type:bug")
        for key, character in (("enter", "\r"), ("space", " "), ("space", " ")):
            app.post_message(events.Key(key, character))
        screen = app.screen
        await tui.wait_for(pilot, lambda: screen.view_settled and len(screen.marks) == 2
                           or screen.query_one("#filter-input", Input).value != "type:bug", "the keys handled")
        assert screen.query_one("#filter-input", Input).value == "type:bug"
        assert len(screen.marks) == 2
        assert all(row["type"] == "Bug Report" for row in tui.table(app).rows)
        assert not isinstance(screen.focused, Input)
