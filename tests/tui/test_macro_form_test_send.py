"""`ctrl+o` in the macro form sends the previewed request once and shows the answer."""

from __future__ import annotations


async def test_test_send_shows_the_answer_inline_and_logs_nothing(app_factory, make_hook_receiver, tui):
    base, seen = await make_hook_receiver()
    make, store = app_factory
    app = make()
    logged_before = store.log_count()
    async with app.run_test(size=(160, 50)) as pilot:
        form = await tui.open_new_macro_form(pilot)
        tui.set_input(form, "#f-name", "try-it")
        tui.set_input(form, "#f-url", f"{base}/hooks/gone")
        bug = next(r for r in store.feedback_all() if r["type"] == "Bug Report")
        tui.set_input(form, "#preview-record", bug["id"])
        await tui.wait_for(pilot, lambda: "/hooks/gone" in str(form.query_one("#preview-request").render()),
                           "the preview of the new URL")
        await pilot.press("ctrl+o")
        answer = form.query_one("#preview-answer")
        await tui.wait_for(pilot, lambda: "Test send: 404" in str(answer.render()), "the answer")
        shown = str(answer.render())
        assert "Not Found" in shown and "no_service" in shown
    assert [hit["path"] for hit in seen] == ["/hooks/gone"]  # sent exactly once
    assert store.log_count() == logged_before  # a test send is not a delivery
    assert store.macro_get("try-it") is None  # and saves nothing
