"""How the shell looks in the cases test_snapshots_screens does not cover: a filtered view
with marks and a range, and each shipped theme. Fixed data, clock and size."""

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


def test_filtered_view_with_marks(snap_compare, make_app, tui):
    keys = ["slash", *"type:bug", "enter", "space", "space", "j", "shift+down"]
    assert snap_compare(make_app(), run_before=_ready(tui, *keys), terminal_size=SIZE)


@pytest.mark.parametrize("theme", ["cctui-dusk", "cctui-ansi", "cctui-paper", "cctui-contrast"])
def test_theme(snap_compare, make_app, tui, theme):
    assert snap_compare(make_app(theme=theme), run_before=_ready(tui, "space"), terminal_size=SIZE)
