"""How the shell looks: fixed data, fixed clock, fixed size, no blinking cursor."""

from __future__ import annotations

import pytest

SIZE = (100, 30)


def _ready(tui, *keys):
    async def run_before(pilot) -> None:
        await tui.loaded(pilot)
        for key in keys:
            await pilot.press(key)
        await tui.wait_for(pilot, lambda: not any(w.is_running for w in pilot.app.screen.workers))
        await pilot.pause()

    return run_before


def test_feedback_screen(snap_compare, make_app, tui):
    assert snap_compare(make_app(), run_before=_ready(tui), terminal_size=SIZE)


def test_filtered_view_with_marks(snap_compare, make_app, tui):
    keys = ["slash", *"type:bug", "enter", "space", "space", "j", "shift+down"]
    assert snap_compare(make_app(), run_before=_ready(tui, *keys), terminal_size=SIZE)


def test_detail_view(snap_compare, make_app, tui):
    async def run_before(pilot) -> None:
        await tui.loaded(pilot)
        pilot.app.open_record("BUG-0001")
        await tui.wait_for(pilot, lambda: getattr(pilot.app.screen, "record", None) is not None)
        await pilot.pause()

    assert snap_compare(make_app(), run_before=run_before, terminal_size=SIZE)


def test_help_screen(snap_compare, make_app, tui):
    assert snap_compare(make_app(), run_before=_ready(tui, "question_mark"), terminal_size=(100, 40))


@pytest.mark.parametrize("theme", ["cctui-dusk", "cctui-ansi", "cctui-paper", "cctui-contrast"])
def test_theme(snap_compare, make_app, tui, theme):
    assert snap_compare(make_app(theme=theme), run_before=_ready(tui, "space"), terminal_size=SIZE)
