"""The whole TUI workflow against a real loopback receiver: form, bulk run, panel, log."""

from __future__ import annotations

import pytest

TOKEN = "xoxb-very-secret-token"


@pytest.fixture
async def receiver(make_hook_receiver):
    """/hooks/ok wants the bearer token, /hooks/gone answers 404 "no_service"."""
    return await make_hook_receiver(token=TOKEN)


@pytest.fixture(autouse=True)
def _slack_token(monkeypatch):
    monkeypatch.setenv("SLACK_TOKEN", TOKEN)


async def test_whole_loop(app_factory, receiver, tui):
    from cctui.tui.screens.log_detail import LogDetailScreen
    from cctui.tui.screens.logs import LogsScreen
    from cctui.tui.screens.macro_form import MacroFormScreen
    from cctui.tui.widgets.log_table import LogTable

    base, seen = receiver
    make, store = app_factory
    app = make()
    async with app.run_test(size=(160, 50)) as pilot:
        # -- 1. a macro from the slack preset, made in the form --------------------------
        form = await tui.open_new_macro_form(pilot)  # slack is the first preset
        tui.set_input(form, "#f-name", "slack-bugs")
        tui.set_input(form, "#f-url", f"{base}/hooks/ok")
        await pilot.press("ctrl+n")
        await pilot.pause()
        await tui.type_text(pilot, "Authorization")
        await pilot.press("tab")
        await tui.type_text(pilot, "Bearer ${SLACK_TOKEN}")
        bug = next(r for r in store.feedback_all() if r["type"] == "Bug Report")
        tui.set_input(form, "#preview-record", bug["id"])
        await tui.wait_for(pilot, lambda: bug["id"] in str(form.query_one("#preview-request").render())
                           and "Authorization" in str(form.query_one("#preview-request").render()),
                           "the preview (debounced, rendered in a thread)")
        shown = str(form.query_one("#preview-request").render())
        assert f"{base}/hooks/ok" in shown and bug["id"] in shown
        assert "Authorization" in shown and TOKEN not in shown
        await pilot.press("ctrl+s")
        await tui.wait_for(pilot, lambda: store.macro_get("slack-bugs") is not None, "the saved macro")
        assert "${SLACK_TOKEN}" in store.macro_get("slack-bugs")["headers"]
        await pilot.press("escape")
        await tui.wait_for(pilot, lambda: not isinstance(app.screen, MacroFormScreen), "leaving the form")
        store.macro_put({"name": "slack-gone", "target": "feedback", "method": "POST",
                         "url": f"{base}/hooks/gone", "format": "json", "body": '{"text": "((title))"}'})

        # -- 2. mark 50 filtered records and trigger ------------------------------------
        await pilot.press("1")
        await pilot.press("slash")
        await tui.type_text(pilot, "type:bug")
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: tui.table(app).rows
                           and all(r["type"] == "Bug Report" for r in tui.table(app).rows), "the bug filter")
        for _ in range(50):
            await pilot.press("space")
        await pilot.press("m")
        await pilot.pause()
        await tui.type_text(pilot, "slack-bugs")
        await pilot.press("enter")
        await pilot.pause()
        confirm = str(app.screen.query_one("#confirm-question").render())
        assert "50" in confirm and "127.0.0.1" in confirm
        assert TOKEN not in str(app.screen.query_one("#confirm-sample").render())
        await pilot.press("y")

        # -- 3. the panel reaches 50 delivered ---------------------------------------------
        await tui.wait_for(pilot, lambda: app.current_mode == "dispatch", "the dispatch panel")
        run = app.dispatcher.session_runs[-1]
        await tui.wait_for(pilot, lambda: not run.running, "the run to finish")
        assert (run.delivered, run.failed, run.total) == (50, 0, 50)
        await tui.wait_for(pilot, lambda: "delivered 50" in str(app.screen.query_one("DispatchRunCard").render()),
                           "the card's final counts")
        assert sum(1 for hit in seen if hit["path"] == "/hooks/ok") == 50

        # -- 4. a second macro fails with 404 and the log explains it ------------------------
        await pilot.press("1")
        await pilot.press("escape")  # clear the marks: m then runs on the current record
        await pilot.press("m")
        await pilot.pause()
        await tui.type_text(pilot, "gone")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await tui.wait_for(pilot, lambda: not app.dispatcher.session_runs[-1].running, "the 404 run")
        assert app.dispatcher.session_runs[-1].failed == 1
        await pilot.press("4")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        table = logs.query_one(LogTable)
        await tui.wait_for(pilot, lambda: len(table.entries) == 51, "51 attempts in the log")
        failed = table.current
        assert failed["status_code"] == 404 and failed["macro"] == "slack-gone"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LogDetailScreen)
        detail = str(app.screen.query_one("#log-detail-body").render())
        assert "404" in detail and "What to do" in detail

        # -- 5. retry it from the detail ----------------------------------------------------
        await pilot.press("r")
        await tui.wait_for(pilot, lambda: app.dispatcher.session_runs[-1].trigger == "retry"
                       and not app.dispatcher.session_runs[-1].running, "the retry run")
        gone_hits = [hit for hit in seen if hit["path"] == "/hooks/gone"]
        assert len(gone_hits) == 2
        await pilot.press("escape")
        await pilot.pause()

        # -- 6. copy as curl, token masked ------------------------------------------------
        await pilot.press("slash")
        await tui.type_text(pilot, "macro:slack-bugs")
        await pilot.press("enter")
        await tui.wait_for(pilot, lambda: len(table.entries) == 50, "the slack-bugs attempts")
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard.startswith("curl -X POST")
        assert "Authorization" in app.clipboard and TOKEN not in app.clipboard
        assert TOKEN not in str(logs.query_one("#logs-curl").render())
