"""Typing a hostile body into the macro form never freezes the TUI; the preview says why."""

from __future__ import annotations

from textual.worker import WorkerState

from cctui.macros import budget

SLOW_BODY = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"


async def test_typing_an_expensive_body_keeps_the_screen_answering(app_factory, tui, monkeypatch):
    # A longer budget than the default, so the render is surely still running when we
    # check that keys are answered meanwhile (the check is about order, not speed).
    monkeypatch.setattr(budget, "MAX_SECONDS", 4.0)
    make, _ = app_factory
    app = make()
    async with app.run_test(size=(160, 50)) as pilot:
        form = await tui.open_new_macro_form(pilot)
        body = form.query_one("#f-body")
        body.load_text(SLOW_BODY[:-1])
        body.focus()
        body.move_cursor(body.document.end)
        await tui.type_text(pilot, SLOW_BODY[-1])  # typed: the debounced preview starts

        def rendering() -> bool:
            return any(w.group == "macro-preview" and w.state == WorkerState.RUNNING for w in app.workers)

        await tui.wait_for(pilot, rendering, "the preview render to start")
        await tui.type_text(pilot, " ok")  # keys are handled while the render runs
        assert body.text.endswith(" ok")
        assert rendering(), "the render should still be running: the keys were answered meanwhile"
        problems = form.query_one("#preview-problems")
        await tui.wait_for(pilot, lambda: "template too expensive" in str(problems.render()),
                           "the preview's error", timeout=30)
        assert "did not finish rendering within 4 s" in str(problems.render())
