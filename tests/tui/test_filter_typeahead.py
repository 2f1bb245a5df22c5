"""Keys typed right after Enter in the filter box act on the NEW rows (type-ahead).

Found by a QA walk: ``/``, ``type:bug``, Enter and two quick spaces (a fast typist or a
paste) marked records of the previous view. Enter moves the focus to the table at once
(test_filter_enter_race.py), but the filtered rows are computed in a view worker, so the
spaces marked the old rows that were about to be replaced. Now the table holds the keys
until the newest filter's rows are on screen and then applies them, in order.

To make the race show on every run, each test holds the loader's view lock (the one the
view worker takes before it computes) while the keys go in, as a slow filter on a big
store would: the worker can only answer once the keys have reached the table.
"""

from __future__ import annotations

from contextlib import contextmanager

from textual import events
from textual.widgets import Input

SMALL = (80, 24)
BURST_ENTER_SPACES = (("enter", "\r"), ("space", " "), ("space", " "))


@contextmanager
def slow_filter(screen):
    """The view worker waits (on the loader's own lock) until the block ends."""
    lock = screen._loader._view_lock
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def burst(app, keys) -> None:
    """Post the keys back to back, as a terminal delivers a paste or a fast typist."""
    for key, character in keys:
        app.post_message(events.Key(key, character))


def typed(text: str) -> list[tuple[str, str]]:
    names = {":": "colon", " ": "space"}
    return [(names.get(c, c), c) for c in text]


def held(table) -> int:
    return len(getattr(table, "held_keys", ()))


async def start(pilot, tui):
    app = pilot.app
    await tui.loaded(pilot)
    screen = app.screen
    await tui.wait_for(pilot, lambda: screen.view_settled, "the first view")
    return screen, tui.table(app)

async def type_ahead(pilot, tui, screen, table, query: str, keys) -> None:
    """Type ``query`` in the filter box, then post ``keys`` (Enter first) in one burst while
    the filter is held back; returns once each key after Enter has acted or is held."""
    with slow_filter(screen):
        await pilot.press("slash")
        await tui.type_text(pilot, query)
        burst(pilot.app, keys)
        await tui.wait_for(pilot, lambda: screen.marks or held(table) == len(keys) - 1, "the keys handled")



async def test_spaces_after_enter_mark_the_first_rows_of_the_new_view(make_app, tui):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        screen, table = await start(pilot, tui)
        old_first = [row["id"] for row in table.rows[:2]]
        with slow_filter(screen):
            burst(app, [("slash", "/"), *typed("type:bug"), *BURST_ENTER_SPACES])
            # Until the rows come: the spaces either marked (old rows) or wait in the table.
            await tui.wait_for(pilot, lambda: len(screen.marks) == 2 or held(table) == 2, "the spaces handled")
        await tui.wait_for(pilot, lambda: screen.view_settled and held(table) == 0 and len(screen.marks) == 2,
                           "the filter's rows and the marks")
        rows = table.rows
        assert rows and all(row["type"] == "Bug Report" for row in rows)
        new_first = [row["id"] for row in rows[:2]]
        assert new_first != old_first  # else this test could not tell the views apart
        assert screen.marks == set(new_first)
        shown = {row["id"] for row in rows}
        assert not screen.marks - shown, "marked records outside the new view"
        assert table.cursor_row == 2  # each space marks and moves down
        assert screen.query_one("#filter-input", Input).value == "type:bug"
        assert app.focused is table


async def test_ctrl_a_after_enter_marks_exactly_the_filtered_records(make_app, tui):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        screen, table = await start(pilot, tui)
        await type_ahead(pilot, tui, screen, table, "type:bug", (("enter", "\r"), ("ctrl+a", None)))
        await tui.wait_for(pilot, lambda: screen.view_settled and held(table) == 0 and screen.marks,
                           "the filter's rows and the marks")
        bugs = {row["id"] for row in screen.feedback if row["type"] == "Bug Report"}
        assert len(bugs) < len(screen.feedback)
        assert screen.marks == bugs == {row["id"] for row in table.rows}


async def test_moves_and_marks_replay_in_order(make_app, tui):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        screen, table = await start(pilot, tui)
        await type_ahead(pilot, tui, screen, table, "type:bug",
                         (("enter", "\r"), ("G", "G"), ("space", " "), ("g", "g"), ("j", "j"), ("shift+down", None)))
        await tui.wait_for(pilot, lambda: screen.view_settled and held(table) == 0 and len(screen.marks) == 3,
                           "the filter's rows and the marks")
        ids = [row["id"] for row in table.rows]
        # G, space: the last bug; g j: the second, shift+down: it and the third.
        assert screen.marks == {ids[-1], ids[1], ids[2]}
        assert table.cursor_row == 2


async def test_a_second_filter_typed_ahead_runs_after_the_first(make_app, tui):
    """``/type:bug⏎ space / status:new⏎ space`` in one burst: the second ``/`` waits with
    the rest, so the first space marks the first bug, the second the first new bug."""
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        screen, table = await start(pilot, tui)
        keys = [("enter", "\r"), ("space", " "), ("slash", "/")]
        keys += typed(" status:new") + [("enter", "\r"), ("space", " ")]
        await type_ahead(pilot, tui, screen, table, "type:bug", keys)
        await tui.wait_for(pilot, lambda: screen.query_text == "type:bug status:new" and screen.view_settled
                           and held(table) == 0 and len(screen.marks) == 2, "both filters and the marks")
        bugs = [r["id"] for r in screen._loader.data.sorted[("feedback", "created", True)] if r["type"] == "Bug Report"]
        rows = table.rows
        assert rows and all(row["type"] == "Bug Report" and row["status"] == "New" for row in rows)
        # The first space marked the first bug and moved down to the second, which is not
        # new: the second filter keeps the cursor's row, and the second space marks there.
        assert rows[0]["id"] == bugs[0] and rows[1]["id"] != bugs[1]
        assert screen.marks == {bugs[0], rows[1]["id"]}
        assert app.focused is table


async def test_the_newest_request_gets_the_keys(make_app, tui):
    """A record added while the filter is computed: the loader's reload makes a newer
    request, which cancels the waiting one; the held ctrl+a acts on the newest rows (with
    the new record), and does not wait for the cancelled one."""
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        screen, table = await start(pilot, tui)
        with slow_filter(screen):
            await pilot.press("slash")
            await tui.type_text(pilot, "type:bug")
            burst(app, (("enter", "\r"), ("ctrl+a", None)))
            await tui.wait_for(pilot, lambda: screen.marks or held(table) == 1, "ctrl+a handled")
            generation = screen._loader.generation
            store = app.store
            store.feedback_add([store.schema.feedback({"type": "Bug Report", "title": "Added meanwhile",
                                                       "created": "2026-11-30T09:00:00Z"})])
            await tui.wait_for(pilot, lambda: screen._loader.generation > generation, "the newer request")
        await tui.wait_for(pilot, lambda: screen.view_settled and held(table) == 0 and screen.marks,
                           "the newest rows and the marks")
        rows = table.rows
        assert rows[0]["title"] == "Added meanwhile"
        assert all(row["type"] == "Bug Report" for row in rows)
        assert screen.marks == {row["id"] for row in rows}


async def test_bad_filter_drops_the_held_keys_with_a_toast(make_app, tui):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        screen, table = await start(pilot, tui)
        before = [row["id"] for row in table.rows]
        await type_ahead(pilot, tui, screen, table, "foo:bar", BURST_ENTER_SPACES)
        await tui.wait_for(pilot, lambda: "unknown field 'foo'" in screen.filter_bar.error, "the filter error")
        await tui.wait_for(pilot, lambda: held(table) == 0, "the held keys released")
        await pilot.pause()
        assert not screen.marks
        assert [row["id"] for row in table.rows] == before
        assert app.focused is screen.query_one("#filter-input", Input)
        assert screen.query_one("#filter-input", Input).value == "foo:bar"
        assert any("not applied" in str(n.message) for n in app._notifications)
