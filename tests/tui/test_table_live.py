"""The feedback table while things happen: keys in a burst, edits from elsewhere."""

from __future__ import annotations

from textual import events

from cctui.store import open_store


def _send(app, key: str, char: str | None = None) -> None:
    """Post a key the way the terminal driver does, without waiting for the app."""
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


async def test_keys_typed_right_after_slash_land_in_the_filter(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        _send(app, "slash", "/")
        for char in "crash":
            _send(app, char, char)
        filter_input = app.screen.query_one("#filter-input")
        await tui.wait_for(pilot, lambda: filter_input.value == "crash")
        await tui.wait_for(pilot, lambda: app.screen.view_settled and app.screen.query_text == "crash")
        assert all("crash" in r["title"].lower() or "crash" in r["description"].lower() for r in tui.table(app).rows)
        assert app.screen.marks == set()  # nothing reached the table's keys
        await pilot.press("slash")  # in the box, "/" is a character
        assert filter_input.value == "crash/"


async def test_marked_ids_is_public_and_a_snapshot(make_app, tui):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        first = tui.table(app).current_id
        await pilot.press("space")
        marked = app.screen.marked_ids
        assert marked == frozenset({first})
        await pilot.press("escape")
        assert marked == frozenset({first}) and app.screen.marked_ids == frozenset()


async def test_edits_and_additions_elsewhere_show_without_losing_the_cursor(make_app, tui, seeded_dir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await pilot.press("down", "down")
        current = tui.table(app).current_id
        other = open_store(seeded_dir)
        try:
            other.feedback_update([current], {"title": "Edited from the CLI"})
            other.feedback_add([other.schema.feedback({"type": "Bug Report", "title": "Brand new one",
                                                       "created": "2026-11-27T09:00:00Z"})])
        finally:
            other.close()
        await tui.wait_for(pilot, lambda: "25 of 25" in tui.status_text(app), timeout=10)
        rows = tui.table(app).rows
        assert tui.table(app).current_id == current
        assert next(r for r in rows if r["id"] == current)["title"] == "Edited from the CLI"
        assert rows[0]["title"] == "Brand new one"  # newest first
        sidebar = app.screen.query_one("#sidebar")
        assert "25" in str(sidebar.get_option_at_index(0).prompt)
