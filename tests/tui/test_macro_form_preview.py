"""The form's preview still shows the request when a ${VAR} is not set, and says so."""

from __future__ import annotations


async def test_preview_with_an_unset_variable_shows_the_request_and_a_warning(app_factory, monkeypatch, tui):
    monkeypatch.delenv("SLACK_HOOK_PATH", raising=False)  # the slack preset's URL uses it
    make, store = app_factory
    app = make()
    async with app.run_test(size=(160, 50)) as pilot:
        form = await tui.open_new_macro_form(pilot)
        tui.set_input(form, "#f-name", "slack-new")
        bug = next(r for r in store.feedback_all() if r["type"] == "Bug Report")
        tui.set_input(form, "#preview-record", bug["id"])
        await tui.wait_for(pilot, lambda: bug["id"] in str(form.query_one("#preview-request").render()),
                           "the previewed request")
        shown = str(form.query_one("#preview-request").render())
        assert "${SLACK_HOOK_PATH}" in shown and '"text"' in shown
        warnings = str(form.query_one("#preview-warnings").render())
        assert "${SLACK_HOOK_PATH} is not set" in warnings
        assert str(form.query_one("#preview-problems").render()).strip() == ""
