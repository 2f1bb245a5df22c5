"""Fields and bodies too long to lay out are shown cut, with a note, not laid out whole.

Found attacking the TUI: an imported record with a 2 MB title and a 5 MB description (the
importer takes any length) froze the app for about 3 s each time its detail opened
(Textual wraps the whole text on the event loop), `esc` included; a 1 MB request body in
the log detail did the same. Screens now lay out at most ``SHOWN_CHARS`` of each and say
how much is left out; exports and ``--json`` keep everything.
"""

from __future__ import annotations

from cctui.store import open_store
from cctui.tui.clip import SHOWN_CHARS

SMALL = (80, 24)
TITLE, DESCRIPTION, BODY = "T" * 2_000_000, "D" * 5_000_000, '{"text": "' + "B" * 1_000_000 + '"}'


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def test_huge_fields_are_cut_with_a_note(make_app, seeded_dir, tui):
    from cctui.tui.screens.detail import DetailScreen
    from cctui.tui.screens.log_detail import LogDetailScreen

    store = open_store(seeded_dir)
    [huge] = store.feedback_add([store.schema.feedback({
        "type": "Bug Report", "title": TITLE, "description": DESCRIPTION, "status": "New",
        "severity": "Critical", "created": "2026-11-30T09:00:00Z"})], origin="test")
    store.log_append([{
        "id": "att-1", "delivery_id": "dlv-1", "macro": "hook", "record_id": huge["id"],
        "trigger": "bulk", "attempt": 1, "method": "POST", "url": "http://127.0.0.1:9/x",
        "status_code": 200, "ok": True, "error": None, "duration_ms": 3,
        "started_at": "2026-11-28T11:00:00Z", "response_body": "ok", "request_headers": [],
        "request_body": BODY, "run_id": "run-1"}])
    store.close()

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        app.open_record(huge["id"])
        await tui.wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                           and "more characters" in _text(app.screen, "#detail-description"), "the detail")
        detail = app.screen
        description = _text(detail, "#detail-description")
        assert len(description) < SHOWN_CHARS + 200 and f"{5_000_000 - SHOWN_CHARS:,} more characters" in description
        assert len(_text(detail, "#detail-title")) < SHOWN_CHARS + 200
        await pilot.press("escape")
        await tui.wait_for(pilot, lambda: not isinstance(app.screen, DetailScreen), "leaving the detail")

        await pilot.press("4")
        await tui.wait_for(pilot, lambda: app.screen.query("#logs-table")
                           and app.screen.query_one("#logs-table").entries, "the log")
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, LogDetailScreen), "the attempt")
        body = _text(app.screen, "#log-detail-body")
        assert len(body) < 2 * SHOWN_CHARS + 2_000 and "more characters" in body


async def test_a_huge_title_is_not_measured_whole_on_each_repaint(make_app, seeded_dir, tui, monkeypatch):
    """Fitting a 2,000,000-character CJK title to its column measured all of it on every
    repaint of its row (0.8 s a frame, on the event loop); cells now look at a bounded
    prefix."""
    import cctui.tui.widgets.record_table as record_table

    store = open_store(seeded_dir)
    [huge] = store.feedback_add([store.schema.feedback({
        "type": "Bug Report", "title": "設" * 2_000_000, "status": "New", "severity": "Critical",
        "created": "2026-12-30T09:00:00Z"})], origin="test")
    store.close()
    measured: list[int] = []
    real = record_table.set_cell_size

    def measuring(text: str, total: int) -> str:
        measured.append(len(text))
        return real(text, total)

    monkeypatch.setattr(record_table, "set_cell_size", measuring)
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await tui.loaded(pilot)
        table = tui.table(app)
        assert table.rows[0]["id"] == huge["id"]  # the newest: on screen, first row
        measured.clear()
        await pilot.press("down")
        await pilot.press("up")
        await pilot.pause()
        assert measured and max(measured) <= 2_000, max(measured)
        assert "設設設" in "".join(segment.text for segment in table.render_line(1))
