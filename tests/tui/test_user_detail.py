"""Enter on the Users table opens a read-only detail of the user.

QA: the Users table's footer showed "⏎ Open", but Enter only answered with a toast that
users had no detail view. Now Enter shows the user's fields and latest deliveries; the
keys offered there (back, macro, log) are the ones that work, and none edits the user.
"""

from __future__ import annotations

SMALL = (80, 24)


async def _users_table(pilot, tui):
    app = pilot.app
    await tui.loaded(pilot)
    for _ in range(12):
        if app.screen.section.target == "users":
            break
        await pilot.press("right_square_bracket")
        await pilot.pause()
    assert app.screen.section.target == "users"
    await tui.wait_for(pilot, lambda: app.screen.view_settled and "3 of 3" in tui.status_text(app), "the users")
    return tui.table(app)


async def test_enter_on_a_user_opens_its_read_only_detail(make_app, tui):
    from cctui.tui.widgets.key_hints import KeyHints

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        table = await _users_table(pilot, tui)
        assert "⏎ Open" in str(app.screen.query_one(KeyHints).render())
        while table.current_record["name"] != "Grace Hopper":
            await pilot.press("down")
        user_id = table.current_id
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: type(app.screen).__name__ == "UserDetailScreen", "the user detail")
        screen = app.screen
        await tui.wait_for(pilot, lambda: screen.user is not None, "the user loaded")
        text = "\n".join(str(screen.query_one(f"#{w}").render()) for w in ("user-title", "user-fields", "user-deliveries"))
        for shown in (user_id, "Grace Hopper", "grace@example.com", "admin", "Navy", "No deliveries yet"):
            assert shown in text, (shown, text)
        assert not app._notifications, [n.message for n in app._notifications]  # no "no detail view"
        hints = str(screen.query_one(KeyHints).render())
        assert "Back" in hints and "Macro" in hints and "Log" in hints
        assert "Status" not in hints and "Severity" not in hints  # read-only
        await pilot.press("s", "v", "c")  # the feedback detail's edit keys do nothing here
        await pilot.pause()
        assert app.store.user_get(user_id)["role"] == "admin"
        await pilot.press("escape")
        await tui.wait_for(pilot, lambda: app.screen.section.target == "users", "back on the users table")
        assert tui.table(app).current_id == user_id
