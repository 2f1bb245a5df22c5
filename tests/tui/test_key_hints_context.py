"""The key hints say what a key does where the focus is.

QA: with the filter box focused the footer still said "esc Clear marks", but esc there
leaves the box (the marks stay). In the box the footer says "esc Back to table" and does
not offer "/ Filter" (``/`` is a character there); on the table it is "esc Clear marks".
"""

from __future__ import annotations

from textual.widgets import Input

SMALL = (80, 24)


def hints(app) -> str:
    from cctui.tui.widgets.key_hints import KeyHints

    return str(app.screen.query_one(KeyHints).render())


async def test_esc_hint_follows_the_focus_and_does_what_it_says(make_app, tui):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        await pilot.press("space")  # one mark
        assert len(app.screen.marks) == 1
        assert "esc Clear marks" in hints(app) and "/ Filter" in hints(app)

        await pilot.press("slash")
        await tui.wait_for(pilot, lambda: isinstance(app.screen.focused, Input), "the filter box")
        await pilot.pause()
        assert "Clear marks" not in hints(app), hints(app)
        assert "esc Back to table" in hints(app), hints(app)
        assert "/ Filter" not in hints(app), hints(app)
        await pilot.press("slash")  # a character in the box
        assert app.screen.query_one("#filter-input", Input).value == "/"
        await pilot.press("backspace")

        await pilot.press("escape")  # what the hint said: back to the table, marks kept
        await tui.wait_for(pilot, lambda: not isinstance(app.screen.focused, Input), "the table")
        assert len(app.screen.marks) == 1
        await pilot.pause()
        assert "esc Clear marks" in hints(app), hints(app)
        await pilot.press("escape")
        assert not app.screen.marks
