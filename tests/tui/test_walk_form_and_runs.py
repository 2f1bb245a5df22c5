"""Issue 11's defects in the macro form, the bulk confirmation and the dispatch panel."""

from __future__ import annotations

import os

SMALL = (80, 24)
ENGINE_HEADERS = ("webhook-id", "webhook-timestamp", "User-Agent")


# -- 6: the macro form at 80x24 -----------------------------------------------------------------
async def test_test_send_answer_is_brought_into_view_at_80x24(app_factory, make_hook_receiver, tui):
    base, seen = await make_hook_receiver()
    make, store = app_factory
    app = make()
    async with app.run_test(size=SMALL) as pilot:
        form = await tui.open_new_macro_form(pilot)
        tui.set_input(form, "#f-url", f"{base}/hooks/ok")
        await tui.wait_for(pilot, lambda: "/hooks/ok" in str(form.query_one("#preview-request").render()))
        await pilot.press("ctrl+o")
        answer = form.query_one("#preview-answer")
        await tui.wait_for(pilot, lambda: "Test send: 200" in str(answer.render()), "the answer")
        await tui.wait_for(pilot, lambda: answer.region.height > 0, "the answer on screen")
        assert answer.region.y < 24 and answer.region.x < 80
        assert answer.focusable  # tab reaches it, too
    assert len(seen) == 1


async def test_tab_in_the_body_moves_on_and_fields_have_labels(app_factory, tui):
    make, _ = app_factory
    app = make()
    async with app.run_test(size=SMALL) as pilot:
        form = await tui.open_new_macro_form(pilot)
        labels = " ".join(str(label.render()) for label in form.query("Label"))
        assert "Name" in labels and "target" in labels and "Method" in labels
        body = form.query_one("#f-body")
        before = body.text
        body.focus()
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert body.text == before  # no spaces typed
        assert app.focused is not body and app.focused.id == "f-once_per_record"


async def test_form_preview_and_bulk_confirm_show_the_engine_headers_like_the_cli(app_factory, tui):
    from cctui.tui.screens.bulk import confirm_and_start
    from cctui.tui.screens.confirm import ConfirmScreen

    make, store = app_factory
    store.macro_put({"name": "hook", "target": "feedback", "method": "POST", "url": "http://127.0.0.1:9/x",
                     "format": "json", "body": '{"id": "((id))"}'})
    app = make()
    async with app.run_test(size=(160, 50)) as pilot:
        form = await tui.open_new_macro_form(pilot)
        preview = form.query_one("#preview-request")
        await tui.wait_for(pilot, lambda: "request for" in str(preview.render()), "the preview")
        shown = str(preview.render())
        for header in ENGINE_HEADERS:
            assert f"{header}: " in shown, header
        await pilot.press("escape")
        await pilot.pause()
        ids = [r["id"] for r in store.feedback_all()][:3]
        confirm_and_start(app, "hook", ids)
        await tui.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        sample = str(app.screen.query_one("#confirm-sample").render())
        for header in ENGINE_HEADERS:
            assert f"{header}: " in sample, header


# -- 5: the failure panel keeps the vendor's explanation ---------------------------------------------
async def test_failure_panel_shows_the_engine_explanation(app_factory, make_hook_receiver, tui):
    from cctui.tui.widgets.dispatch_run_card import render_run

    base, _ = await make_hook_receiver()
    make, store = app_factory
    store.macro_put({"name": "gone", "target": "feedback", "method": "POST", "url": f"{base}/hooks/gone",
                     "format": "json", "body": '{"id": "((id))"}'})
    app = make()
    async with app.run_test(size=SMALL) as pilot:
        run = app.dispatcher.start("gone", [store.feedback_all()[0]["id"]])
        await tui.wait_for(pilot, lambda: not run.running and run.failures, "the failed run")
        note = run.failures[0]
        # What the engine made of Slack's "no_service" body, not only "404 Not Found".
        assert "hook disabled or removed" in note.explanation
        assert "hook disabled or removed" in render_run(run, 200).plain


# -- 3 and 4: screen 3 with earlier runs ------------------------------------------------------------
def _stored_run(store, run_id: str, **fields) -> None:
    store.run_create({"id": run_id, "macro": "hook", "trigger": "bulk", "record_ids": ["BUG-0001"] * 2000,
                      "started": "2026-11-28T11:00:00Z", "dry_run": False, **fields})


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_earlier_runs_show_stored_counts_and_live_or_interrupted(app_factory, tui):
    from cctui.tui.widgets.dispatch_run_card import DispatchRunCard

    make, store = app_factory
    store.macro_put({"name": "hook", "target": "feedback", "method": "POST", "url": "http://127.0.0.1:9/x",
                     "format": "json", "body": "{}"})
    summary = {"run_id": None, "macro": "hook", "trigger": "bulk", "total": 2000, "sent": 2000,
               "delivered": 2000, "failed": 0, "skipped": 0, "not_sent": 0, "attempts": 2000}
    _stored_run(store, "run-done", status="done", finished="2026-11-28T11:02:00Z", summary=summary)
    now = os.environ["CCTUI_NOW"]  # the fixed clock: a heartbeat "now" is fresh
    _stored_run(store, "run-live", status="running", pid=os.getpid(), heartbeat_at=now,
                started="2026-11-28T11:58:00Z")
    _stored_run(store, "run-dead", status="running", pid=_dead_pid(), heartbeat_at="2026-11-28T10:00:00Z",
                started="2026-11-28T10:00:00Z")
    app = make()
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.press("3")
        await tui.wait_for(pilot, lambda: len(app.screen.query(DispatchRunCard)) == 3, "three cards")
        cards = {card.run.run_id: card for card in app.screen.query(DispatchRunCard)}
        done = cards["run-done"].render().plain
        assert "2,000/2,000 100%" in done and "delivered 2,000" in done
        live = cards["run-live"].render().plain
        assert "live" in live and "another process" in live and "interrupted" not in live
        dead = cards["run-dead"].render().plain
        assert "interrupted" in dead and "retry" in dead

        # Updates keep the same card widgets and the focus where the user put it.
        await pilot.press("down")
        focused = app.focused
        assert isinstance(focused, DispatchRunCard)
        before = list(app.screen.query(DispatchRunCard))
        for _ in range(5):
            app.dispatcher._mark_dirty()
            await pilot.pause(0.15)
        assert list(app.screen.query(DispatchRunCard)) == before
        assert app.focused is focused


async def test_retry_of_a_cancelled_run_keeps_the_cards_on_screen(app_factory, make_hook_receiver, tui):
    from cctui.tui.widgets.dispatch_run_card import DispatchRunCard

    base, _ = await make_hook_receiver()
    make, store = app_factory
    store.macro_put({"name": "hook", "target": "feedback", "method": "POST", "url": f"{base}/hooks/ok",
                     "format": "json", "body": "{}"})
    ids = [r["id"] for r in store.feedback_all()][:40]
    store.run_create({"id": "run-cut", "macro": "hook", "trigger": "bulk", "record_ids": ids,
                      "started": "2026-11-28T11:00:00Z", "dry_run": False, "status": "cancelled",
                      "incomplete": True, "finished": "2026-11-28T11:00:05Z",
                      "summary": {"total": 40, "sent": 0, "delivered": 0, "failed": 0, "skipped": 0,
                                  "not_sent": 40, "cancelled": True}})
    app = make()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("3")
        await tui.wait_for(pilot, lambda: len(app.screen.query(DispatchRunCard)) == 1, "the cancelled run")
        old_card = app.screen.query_one(DispatchRunCard)
        await pilot.press("r")
        retry = app.dispatcher.session_runs[-1]
        # Every frame from now on shows cards: the earlier one stays on screen (the same
        # widget, never remounted), the retry's is added above it.
        polls = 0
        while retry.running or polls < 5:
            await pilot.pause(0.05)
            polls += 1
            cards = list(app.screen.query(DispatchRunCard))
            assert old_card in cards and old_card.is_mounted
            assert old_card.region.height > 0
        await tui.wait_for(pilot, lambda: any("delivered 40" in c.render().plain
                                              for c in app.screen.query(DispatchRunCard)), "the retry done")


# -- 2: ctrl+q during a run asks -----------------------------------------------------------------
async def test_ctrl_q_during_a_run_asks_first(app_factory, tui):
    from cctui.tui.run_progress import RunProgress
    from cctui.tui.screens.confirm import ConfirmScreen

    make, _ = app_factory
    app = make()
    exits = []
    app.exit = lambda *args, **kwargs: exits.append(args)  # see the decision, keep the app
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("ctrl+q")
        assert len(exits) == 1  # nothing sending: quit at once
        app.dispatcher.track(RunProgress(macro="hook", total=2000))  # a run still sending
        await pilot.press("ctrl+q")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "a run is sending: quit and finish it later with `cctui retry`?" in \
            str(app.screen.query_one("#confirm-question").render()).lower()
        assert len(exits) == 1
        await pilot.press("n")
        await tui.wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "staying")
        assert len(exits) == 1
        await pilot.press("ctrl+q")
        await tui.wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await tui.wait_for(pilot, lambda: len(exits) == 2, "quitting")


def test_records_a_cancel_left_unsent_are_not_counted_as_failed():
    """Found walking the tour: cancelling a 300-record run showed "failed 288"."""
    from cctui.delivery import events as ev
    from cctui.tui.run_progress import RunProgress
    from cctui.tui.widgets.dispatch_run_card import render_run

    run = RunProgress(macro="hook", total=3)
    run.apply(ev.RunStarted("run-1", "hook", "bulk", 3))
    run.apply(ev.RecordDone("run-1", "BUG-0001", "d1", ev.DELIVERED, 200, 1))
    for record_id in ("BUG-0002", "BUG-0003"):
        run.apply(ev.RecordDone("run-1", record_id, record_id, ev.NOT_SENT))
    assert (run.delivered, run.failed, run.not_sent) == (1, 0, 2)
    shown = render_run(run, 78).plain
    assert "failed 0" in shown and "not sent 2" in shown
