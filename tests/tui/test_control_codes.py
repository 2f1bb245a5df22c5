"""Control characters and ANSI escapes in records and log entries never reach the
terminal as commands.

Found walking the TUI on imported feedback: a title holding ``ESC [2J ESC [H`` cleared the
screen under the table, and a description holding ``ESC ]0;...BEL`` retitled the
terminal window. Every line a widget renders passes through the app's line filters on
its way to the terminal; this checks those lines, on every screen a record's text shows
on, at 80x24.
"""

from __future__ import annotations

import re

from textual.geometry import Region

from cctui.store import open_store

SMALL = (80, 24)
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # not \n
TITLE = "ANSI \x1b[31mRED\x1b[0m \x1b[2J\x1b[H clear\tand \x07bell \u202eevil"
DESCRIPTION = "osc \x1b]0;pwned title\x07 move \x1b[5;1H cr\r lf\r\n nul\x00 del\x7f csi\x9b2J"
ANSWER = "\x1b[2J\x1b]0;answered\x07 not ok"


def _terminal_text(app) -> str:
    """The text of every line every visible widget of the screen sends to the terminal,
    after the app's line filters (what the compositor writes)."""
    out = []
    for widget in [app.screen, *app.screen.walk_children()]:
        if not widget.display or not widget.size.area:
            continue
        for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
            out.append("".join(segment.text for segment in strip if not segment.control))
    return "\n".join(out)  # the only newlines are the ones joining lines here


async def test_control_codes_in_fields_never_reach_the_terminal(make_app, seeded_dir, tui):
    from cctui.tui.screens.detail import DetailScreen
    from cctui.tui.screens.log_detail import LogDetailScreen

    store = open_store(seeded_dir)
    [hostile] = store.feedback_add([store.schema.feedback({
        "type": "Bug Report", "title": TITLE, "description": DESCRIPTION, "status": "New",
        "severity": "Critical", "created": "2026-11-30T09:00:00Z"})], origin="test")
    store.log_append([{
        "id": "att-1", "delivery_id": "dlv-1", "macro": "hook", "record_id": hostile["id"],
        "trigger": "bulk", "attempt": 1, "method": "POST", "url": "http://127.0.0.1:9/x",
        "status_code": 500, "ok": False, "error": "HTTP 500 \x1b[2J", "duration_ms": 3,
        "started_at": "2026-11-28T11:00:00Z", "response_body": ANSWER, "request_headers": [],
        "request_body": TITLE, "run_id": "run-1"}])
    store.close()

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        await tui.wait_for(pilot, lambda: "ANSI" in _terminal_text(app), "the hostile row")
        table = _terminal_text(app)
        assert not CONTROL.search(table), repr(CONTROL.findall(table))
        assert "ANSI [31mRED[0m" in table  # what is left shows as text

        app.open_record(hostile["id"])
        await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                           and "pwned" in _terminal_text(app), "the detail with the description")
        detail = _terminal_text(app)
        assert not CONTROL.search(detail), repr(CONTROL.findall(detail))

        await pilot.press("1")
        await pilot.press("4")
        await tui.wait_for(pilot, lambda: app.screen.query("#logs-table")
                           and app.screen.query_one("#logs-table").entries, "the log")
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, LogDetailScreen)
                           and "answered" in _terminal_text(app), "the attempt with the answer")
        answer = _terminal_text(app)
        assert not CONTROL.search(answer), repr(CONTROL.findall(answer))
