"""How the workflow screens look: fixed data, fixed clock, fixed size, scripted progress."""

from __future__ import annotations

from collections import Counter

import pytest

from cctui.config import Config
from cctui.core.seed import seed_store
from cctui.macros.samples import sample_macro_dicts
from cctui.store import open_store

SIZE = (110, 34)
NOW = "2026-11-28T12:00:00Z"


class FakeClock:
    """Seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def snap_app(tmp_path, monkeypatch):
    monkeypatch.setenv("CCTUI_NOW", NOW)
    monkeypatch.setenv("SLACK_TOKEN", "xoxb-snapshot-secret")
    store = open_store(tmp_path / "data")
    seed_store(store, 60, seed=3, macros=sample_macro_dicts("http://127.0.0.1:9"))
    store.macro_put({
        "name": "slack-bugs", "target": "feedback", "method": "POST",
        "url": "https://hooks.slack.com/services/T000/B000/XXXX",
        "headers": "Content-Type: application/json\nAuthorization: Bearer ${SLACK_TOKEN}",
        "format": "json", "body": '{"text": "New bug ((id)): ((title))", "votes": ((votes))}',
    })
    from cctui.tui.app import CctuiApp

    app = CctuiApp(store, Config(tmp_path / "config.toml"), theme="textual-dark",
                   data_dir="~/demo-data")  # a fixed label: tmp paths change per run
    yield app, store
    store.close()


def test_macro_form_with_preview_and_error(snap_app, snap_compare, tui):
    app, store = snap_app

    async def run_before(pilot) -> None:
        from cctui.tui.screens.macro_form import MacroFormScreen

        macro = dict(store.macro_get("slack-bugs"))
        macro["body"] = '{\n  "text": "New bug ((id)): ((title))",\n  "who": ((no_such_field))\n}'
        await pilot.press("2")
        app.push_screen(MacroFormScreen(macro, record_id="BUG-0001"))
        await tui.wait_for(pilot, lambda: isinstance(app.screen, MacroFormScreen) and "no_such_field"
                           in str(app.screen.query_one("#preview-problems").render()),
                           "the preview's error (rendered in a thread)")
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_bulk_confirmation(snap_app, snap_compare):
    app, store = snap_app

    async def run_before(pilot) -> None:
        from cctui.tui.screens.bulk import confirm_and_start

        ids = [r["id"] for r in store.feedback_all() if r["type"] == "Bug Report"][:12]
        # Over the macro list (ours), not the feedback table, whose look is another area's.
        await pilot.press("2")
        await pilot.pause()
        confirm_and_start(app, "slack-bugs", ids)
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def scripted_run(clock: FakeClock):
    """A run 40 s into 10,000 records: events fed by hand, no network, no real time."""
    from cctui.delivery import events as ev
    from cctui.tui.dispatcher import RunProgress

    run = RunProgress(macro="slack-bugs", total=0, clock=clock)
    run.apply(ev.RunStarted("run-20261128-120000-ab12", "slack-bugs", "bulk", 10_000))
    for n in range(2_400):
        record = f"BUG-{n + 1:04d}"
        run.apply(ev.AttemptStarted(run.run_id, record, f"d{n}", 1, "https://hooks.slack.com/…"))
        code = 404 if n % 400 == 7 else (429 if n % 150 == 3 else 200)
        run.apply(ev.AttemptFinished(run.run_id, record, f"d{n}", 1, code, 40, code == 200,
                                     None, {404: "404 Not Found: no_service", 429: "429 Too Many Requests"}.get(code, "")))
        if code == 429:
            run.apply(ev.RetryScheduled(run.run_id, record, f"d{n}", 2, 1.0))
        else:
            run.apply(ev.RecordDone(run.run_id, record, f"d{n}", "delivered" if code == 200 else "failed", code, 1))
    clock.now += 40.0
    finished = RunProgress(macro="jira-escalate", total=3, trigger="manual", clock=clock,
                           run_id="run-20261128-113000-cd34", state="done", delivered=2, failed=1,
                           sent=3, codes=Counter({201: 2, 401: 1}))
    finished.elapsed_fixed = 1.2
    return [run, finished]


def test_dispatch_panel_mid_run(snap_app, snap_compare):
    app, _ = snap_app

    async def run_before(pilot) -> None:
        from cctui.tui.screens.dispatch import DispatchScreen

        app.push_screen(DispatchScreen(runs=scripted_run(FakeClock())))
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def log_entries() -> list[dict]:
    from cctui.delivery.explain import explain

    base = {"macro": "slack-bugs", "trigger": "bulk", "method": "POST",
            "url": "https://hooks.slack.com/services/T000/B000/XXXX", "run_id": "run-1",
            "request_headers": {"Content-Type": "application/json", "Authorization": "Bearer ••••"},
            "request_body": '{"text": "New bug BUG-0002: Crash on save", "votes": 3}'}
    ok = {**base, "id": "a1", "delivery_id": "d1", "record_id": "BUG-0001", "attempt": 1,
          "status_code": 200, "ok": True, "error": None, "duration_ms": 41,
          "started_at": "2026-11-28T11:59:58Z", "response_headers": {"content-type": "text/plain"},
          "response_body": "ok", "explanation": explain(200).to_dict()}
    failed = {**base, "id": "a2", "delivery_id": "d2", "record_id": "BUG-0002", "attempt": 2,
              "status_code": 404, "ok": False, "error": None, "duration_ms": 87,
              "started_at": "2026-11-28T11:59:59Z",
              "response_headers": {"content-type": "application/json"},
              "response_body": '{"ok": false, "error": "no_service"}',
              "explanation": explain(404, '{"ok": false, "error": "no_service"}').to_dict()}
    return [failed, ok]


def test_log_inspector_failed_detail(snap_app, snap_compare):
    app, _ = snap_app

    async def run_before(pilot) -> None:
        from cctui.tui.screens.logs import LogsScreen

        app.push_screen(LogsScreen(entries=log_entries()))
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_log_inspector_list(snap_app, snap_compare):
    app, _ = snap_app

    async def run_before(pilot) -> None:
        from cctui.tui.screens.logs import LogsScreen

        app.push_screen(LogsScreen(entries=log_entries()))
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)
