"""Issue 11, defect 7: marked rows, the cursor and status colours in 16 colours.

A terminal without truecolor (``TEXTUAL_COLOR_SYSTEM=standard``, many SSH sessions) gets
every colour rounded to one of the 16 ANSI ones; that is where marked rows turned white
on white and the magenta mark hid "In Progress". Each check here rounds the table's real
segments the way Rich does for such a terminal, and the snapshots show that picture.
"""

from __future__ import annotations

import io

import pytest
from rich.color import ColorSystem, ColorType
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

THEMES = ("cctui-dusk", "cctui-ansi", "cctui-paper", "cctui-contrast")
SMALL = (80, 24)


def sixteen(style: Style) -> Style:
    """``style`` as a 16-colour terminal shows it."""
    def down(color):
        return None if color is None else color.downgrade(ColorSystem.STANDARD)

    return style + Style(color=down(style.color), bgcolor=down(style.bgcolor))


def legible(style: Style) -> bool:
    """Text and background differ (the terminal's default pair always does)."""
    fg, bg = sixteen(style).color, sixteen(style).bgcolor
    if fg is None or bg is None or (fg.type == ColorType.DEFAULT and bg.type == ColorType.DEFAULT):
        return True
    if style.reverse:
        return True
    return fg.get_truecolor() != bg.get_truecolor() or fg.type != bg.type


def export_16(app) -> str:
    """``app.export_screenshot()`` with every colour rounded to the 16 ANSI ones."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    render = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    lines = Segment.split_lines(console.render(render))
    for line in lines:
        console.print(*(Segment(s.text, sixteen(s.style) if s.style else s.style) for s in line), end="\n")
    return console.export_svg(title=app.title)


async def _marked_table(pilot, tui):
    """Mark an "In Progress" row and an "Escalated" one; the cursor rests on a third."""
    app = pilot.app
    await tui.loaded(pilot)
    await tui.wait_for(pilot, lambda: app.screen.view_settled, "the full view")
    table = tui.table(app)
    statuses = [row["status"] for row in table.rows]
    for wanted in ("In Progress", "Escalated"):
        target = statuses.index(wanted)
        while table.cursor_row != target:
            await pilot.press("down" if table.cursor_row < target else "up")
        await pilot.press("space")
    await pilot.press("home")
    await pilot.pause()
    return table


@pytest.mark.parametrize("theme", THEMES)
async def test_marked_cursor_and_status_cells_stay_legible_and_distinct(make_app, tui, theme):
    app = make_app(theme=theme)
    async with app.run_test(size=SMALL) as pilot:
        table = await _marked_table(pilot, tui)
        marked_rows, plain_rows = [], []
        for y in range(1, min(len(table.rows), table.size.height)):
            record = table.rows[int(table.scroll_y) + y - 1]
            segments = list(table.render_line(y))
            for segment in segments:
                if segment.text.strip():
                    assert legible(segment.style), (theme, record["status"], y - 1 == table.cursor_row, record["id"] in app.screen.marks, segment)
            sign = segments[0]
            if record["id"] in app.screen.marks:
                assert "●" in sign.text and legible(sign.style), (theme, sign)
                marked_rows.append(segments)
            elif y - 1 != table.cursor_row:
                plain_rows.append(segments)
        assert len(marked_rows) == 2
        cursor = list(table.render_line(table.cursor_row + 1))
        mark_style = sixteen(marked_rows[0][1].style)
        # A mark never looks like the cursor or like a plain row.
        assert mark_style.underline and not any(sixteen(s[1].style).underline for s in plain_rows)
        assert (sixteen(cursor[1].style).bgcolor, cursor[1].style.underline) != (mark_style.bgcolor, True)


@pytest.mark.parametrize("theme", THEMES)
def test_snapshot_16_colours(make_app, tui, snap_compare, theme):
    app = make_app(theme=theme)
    app.export_screenshot = lambda *args, **kwargs: export_16(app)

    async def run_before(pilot) -> None:
        await _marked_table(pilot, tui)

    assert snap_compare(app, run_before=run_before, terminal_size=SMALL)


def same_colour_text(app) -> list[str]:
    """Text the top screen shows in the same colour as its background once rounded to 16
    colours (a checkbox's half-block frame and an unchecked box's faint ``X`` excepted:
    off is meant to look empty)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    render = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    hidden = []
    for line in Segment.split_lines(console.render(render)):
        previous = ""
        for segment in line:
            text = segment.text.strip()
            if (text and text not in ("▐", "▌") and segment.style and not legible(segment.style)
                    and not (text == "X" and previous == "▐")):
                hidden.append(text)
            previous = text or previous
    return hidden


@pytest.mark.parametrize("theme", THEMES)
async def test_placeholders_and_line_numbers_stay_legible(make_app, tui, theme):
    """Found walking the demo in ``TEXTUAL_COLOR_SYSTEM=standard``: the filter box's
    placeholder, the macro form's placeholders and the body's line numbers were bright
    black on bright black in the default theme."""
    app = make_app(theme=theme)
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        assert not same_colour_text(app), (theme, "feedback", same_colour_text(app))
        form = await tui.open_new_macro_form(pilot)
        form.query_one("#f-body").text = '{\n  "text": "((title))",\n  "id": "((id))"\n}'
        await pilot.pause()
        assert not same_colour_text(app), (theme, "macro form", same_colour_text(app))


@pytest.fixture
def sixteen_colour_terminal(monkeypatch):
    """The app's console as ``TEXTUAL_COLOR_SYSTEM=standard`` makes it (read at import)."""
    import textual.constants

    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "standard")


def shipped_themes() -> list[str]:
    """Every theme in the themes/ directory (a new file is checked without editing here)."""
    from importlib.resources import files

    return sorted(p.name.removesuffix(".toml") for p in files("cctui.themes").iterdir()
                  if p.name.endswith(".toml"))


def test_the_theme_list_is_the_themes_directory():
    assert set(THEMES) == set(shipped_themes())


def behind_modal(app) -> tuple[str, list[str]]:
    """The text of the screen *behind* the top (modal) screen (every cell the modal's box
    does not cover), and the pieces of it 16 colours show in their background's colour."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    render = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    dialogs = [child.region for child in app.screen.children]  # the modal's own box
    shown, hidden = [], []
    for y, line in enumerate(Segment.split_lines(console.render(render))):
        x = 0
        for segment in line:
            inside = any(region.contains(x, y) for region in dialogs)
            x += segment.cell_length
            text = segment.text.strip()
            if text and not inside:
                shown.append(segment.text)
                if segment.style and not legible(segment.style):
                    hidden.append(text)
    return "".join(shown), hidden


@pytest.mark.parametrize("theme", shipped_themes())
async def test_the_screen_behind_a_modal_stays_readable(make_app, tui, theme, sixteen_colour_terminal):
    """QA in ``TEXTUAL_COLOR_SYSTEM=standard``: the table dimmed behind the macro picker
    rounded to its own background colour and could not be read."""
    app = make_app(theme=theme)
    app.store.macro_put({"name": "hook", "target": "feedback", "method": "POST",
                         "url": "https://example.com/hook", "format": "json", "body": "{}"})
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        await tui.wait_for(pilot, lambda: app.screen.view_settled, "the full view")
        await pilot.press("space")
        await pilot.press("m")
        await tui.wait_for(pilot, lambda: app.screen.is_modal, "the macro picker")
        await pilot.pause()
        shown, hidden = behind_modal(app)
        assert "of 24" in shown  # the table's count is there to be read, behind the modal
        assert not hidden, (theme, hidden)


def checkbox_cells(app, checkbox) -> tuple[Style, Style]:
    """The 16-colour styles of a checkbox's ``X`` and of its frame's ``▐``."""
    region = checkbox.region
    console = Console(width=app.size[0], height=app.size[1], file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    render = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    line = list(Segment.split_lines(console.render(render)))[region.y]
    x = 0
    found: dict[str, Style] = {}
    for segment in line:
        if region.x <= x < region.right and segment.text.strip() in ("X", "▐") and segment.text.strip() not in found:
            found[segment.text.strip()] = segment.style
        x += segment.cell_length
    return found["X"], found["▐"]


@pytest.mark.parametrize("theme", shipped_themes())
async def test_checkbox_x_is_visible_on_and_off_and_tells_them_apart(make_app, tui, theme, sixteen_colour_terminal):
    """QA: in the contrast theme an unchecked box's ``X`` was drawn in its background's
    colour in 16 colours, so the box looked like an empty bracket pair. Off must still
    show a (dim) X, and on must look different from off, focused or not."""
    from textual.widgets import Checkbox

    app = make_app(theme=theme)
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        form = await tui.open_new_macro_form(pilot)
        box = form.query_one("#f-once_per_record", Checkbox)
        box.scroll_visible(animate=False)
        await pilot.pause()
        looks = {}
        for focused in (False, True):
            if focused:
                box.focus()
            for value in (False, True):
                box.value = value
                await pilot.pause()
                x_style, _frame = checkbox_cells(app, box)
                assert legible(x_style), (theme, "focused" if focused else "blurred", value, x_style)
                shown = sixteen(x_style)
                looks[focused, value] = (shown.color, shown.bgcolor, shown.bold)
            assert looks[focused, False] != looks[focused, True], (theme, focused, looks)
