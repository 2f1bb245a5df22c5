"""One ConfirmScreen for every question: keys, buttons, and the focused default."""

from __future__ import annotations


async def _macros_screen(pilot, tui):
    app = pilot.app
    await tui.loaded(pilot)
    await pilot.press("2")
    await tui.wait_for(pilot, lambda: app.screen.query("#macros-table")
                       and app.screen.query_one("#macros-table").row_count == 1, "the macro list")
    return app.screen


async def test_removing_a_macro_asks_first_and_no_is_the_default(make_app, tui):
    from cctui.tui.screens.confirm import ConfirmScreen

    app = make_app()
    app.store.macro_put({"name": "doomed", "target": "feedback", "method": "POST",
                         "url": "https://example.com/hook", "format": "json", "body": "{}"})
    async with app.run_test(size=(100, 30)) as pilot:
        await _macros_screen(pilot, tui)
        await pilot.press("delete")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "doomed" in str(app.screen.query_one("#confirm-question").render())
        assert app.screen.focused.id == "confirm-no"  # enter on a removal keeps the macro
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")
        assert app.store.macro_get("doomed") is not None
        await pilot.press("delete")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await tui.wait_for(pilot, lambda: app.store.macro_get("doomed") is None, "the removal")
        table = app.screen.query_one("#macros-table")
        await tui.wait_for(pilot, lambda: table.row_count == 0, "the list without it")


async def test_escape_and_the_buttons_answer_too(make_app, tui):
    from cctui.tui.screens.confirm import ConfirmScreen

    answers: list[bool] = []
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await tui.loaded(pilot)
        for press in (["escape"], ["n"], ["tab", "enter"], ["y"]):
            app.push_screen(ConfirmScreen("Really?", yes="Go", no="Stay"), answers.append)
            await tui.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            await pilot.press(*press)
            await tui.wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")
    # escape and n say no; tab moves from the focused "Stay" to "Go" and enter presses it.
    assert answers == [False, False, True, True]
