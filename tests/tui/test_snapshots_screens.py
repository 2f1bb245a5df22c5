"""How every screen looks at 80x24 and at 160x50: fixed data (seeded), fixed clock
(``CCTUI_NOW``), a fixed data-dir label, scripted run progress; nothing from the network.

One test per screen and size; each waits for its screen's workers, not for time.
"""

from __future__ import annotations

from collections import Counter

import pytest

from cctui.config import Config
from cctui.core.seed import seed_store
from cctui.macros.samples import sample_macro_dicts
from cctui.store import open_store

NOW = "2026-11-28T12:00:00Z"
SIZES = {"80x24": (80, 24), "160x50": (160, 50)}


class FakeClock:
    """Seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def log_entries() -> list[dict]:
    """Two attempts of slack-bugs, oldest first: one delivered, one 404 explained."""
    from cctui.delivery.explain import explain

    base = {"macro": "slack-bugs", "trigger": "bulk", "method": "POST",
            "url": "https://hooks.slack.com/services/••••", "run_id": "run-20261128-113000-cd34",
            "request_headers": {"Content-Type": "application/json", "Authorization": "Bearer ••••"},
            "request_body": '{"text": "New bug BUG-0002: Crash on save", "votes": 3}'}
    ok = {**base, "id": "att-00000001", "delivery_id": "d1", "record_id": "BUG-0001", "attempt": 1,
          "status_code": 200, "ok": True, "error": None, "duration_ms": 41,
          "started_at": "2026-11-28T11:59:58Z", "response_headers": {"content-type": "text/plain"},
          "response_body": "ok", "explanation": explain(200).to_dict()}
    failed = {**base, "id": "att-00000002", "delivery_id": "d2", "record_id": "BUG-0002", "attempt": 2,
              "status_code": 404, "ok": False, "error": None, "duration_ms": 87,
              "started_at": "2026-11-28T11:59:59Z", "response_headers": {"content-type": "application/json"},
              "response_body": '{"ok": false, "error": "no_service"}',
              "explanation": explain(404, '{"ok": false, "error": "no_service"}').to_dict()}
    return [ok, failed]


def scripted_run(clock: FakeClock):
    """A run 40 s into 10,000 records, and a finished one: events fed by hand."""
    from cctui.delivery import events as ev
    from cctui.tui.run_progress import RunProgress

    run = RunProgress(macro="slack-bugs", total=0, clock=clock)
    run.apply(ev.RunStarted("run-20261128-120000-ab12", "slack-bugs", "bulk", 10_000))
    for n in range(2_400):
        record = f"BUG-{n + 1:04d}"
        run.apply(ev.AttemptStarted(run.run_id, record, f"d{n}", 1, "https://hooks.slack.com/…"))
        code = 404 if n % 400 == 7 else (429 if n % 150 == 3 else 200)
        run.apply(ev.AttemptFinished(run.run_id, record, f"d{n}", 1, code, 40, code == 200, None,
                                     {404: "404 Not Found: no_service", 429: "429 Too Many Requests"}.get(code, "")))
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


@pytest.fixture
def snap_app(tmp_path, monkeypatch):
    """The real app over 60 seeded items, the sample macros, slack-bugs, two logged
    attempts and two finished runs stored as the engine stores them."""
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
    store.log_append(log_entries())
    for run_id, macro, status, started, counts in (
            ("run-20261128-113000-cd34", "slack-bugs", "done", "2026-11-28T11:30:00Z",
             {"delivered": 1, "failed": 1}),
            ("run-20261128-100000-ef56", "jira-escalate", "cancelled", "2026-11-28T10:00:00Z",
             {"delivered": 3, "not_sent": 2})):
        summary = {"run_id": run_id, "macro": macro, "trigger": "bulk", "total": 5, "sent": 5, "failed": 0,
                   "skipped": 0, "not_sent": 0, "attempts": 5, "cancelled": status == "cancelled", **counts}
        store.run_create({"id": run_id, "macro": macro, "trigger": "bulk", "status": status,
                          "record_ids": [f"BUG-{n:04d}" for n in range(1, 6)], "started": started,
                          "started_at": started, "finished": started, "summary": summary})
    from cctui.tui.app import CctuiApp

    app = CctuiApp(store, Config(tmp_path / "config.toml"), theme="textual-dark",
                   data_dir="~/demo-data")  # a fixed label: tmp paths change per run
    yield app, store
    store.close()


async def _settled(pilot, tui) -> None:
    """Every worker done (loads, renders, the look at the store), then one more frame."""
    await tui.wait_for(pilot, lambda: not any(w.is_running for w in pilot.app.workers), "idle workers")
    await pilot.pause()


async def _feedback(pilot, tui) -> None:
    await tui.loaded(pilot)
    await tui.wait_for(pilot, lambda: pilot.app.screen.view_settled, "the full view")
    await tui.wait_for(pilot, lambda: len(pilot.app.dispatcher.runs) == 2, "the stored runs")


async def _detail(pilot, tui) -> None:
    await _feedback(pilot, tui)
    pilot.app.open_record("BUG-0001")
    await tui.wait_for(pilot, lambda: getattr(pilot.app.screen, "record", None) is not None, "the record")


async def _macros(pilot, tui) -> None:
    await _feedback(pilot, tui)
    await pilot.press("2")

    def listed() -> bool:
        tables = pilot.app.screen.query("#macros-table")
        return bool(tables) and "slack-bugs" in [k.value for k in tables.first().rows] \
            and "11-28 11:30" in str(tables.first().get_row("slack-bugs"))

    await tui.wait_for(pilot, listed, "the macro list with its last runs")


async def _macro_form(pilot, tui) -> None:
    from cctui.tui.screens.macro_form import MacroFormScreen

    await _macros(pilot, tui)
    macro = dict(pilot.app.screen.macros["slack-bugs"])
    macro["body"] = '{\n  "text": "New bug ((id)): ((title))",\n  "who": ((no_such_field))\n}'
    pilot.app.push_screen(MacroFormScreen(macro, record_id="BUG-0001"))
    await tui.wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroFormScreen) and "no_such_field"
                       in str(pilot.app.screen.query_one("#preview-problems").render()), "the preview's error")


async def _dispatch_idle(pilot, tui) -> None:
    await _feedback(pilot, tui)
    await pilot.press("3")
    await tui.wait_for(pilot, lambda: len(pilot.app.screen.query("DispatchRunCard")) == 2, "the stored runs")


async def _dispatch_mid_run(pilot, tui) -> None:
    from cctui.tui.screens.dispatch import DispatchScreen

    await _feedback(pilot, tui)
    pilot.app.push_screen(DispatchScreen(runs=scripted_run(FakeClock())))
    await tui.wait_for(pilot, lambda: len(pilot.app.screen.query("DispatchRunCard")) == 2, "the run cards")


async def _logs(pilot, tui) -> None:
    await _feedback(pilot, tui)
    await pilot.press("4")
    await tui.wait_for(pilot, lambda: pilot.app.screen.query("#logs-table")
                       and len(pilot.app.screen.query_one("#logs-table").entries) == 2, "the attempts")


async def _log_detail(pilot, tui) -> None:
    from cctui.tui.screens.log_detail import LogDetailScreen

    await _logs(pilot, tui)
    await pilot.press("enter")  # the newest: the 404
    await tui.wait_for(pilot, lambda: isinstance(pilot.app.screen, LogDetailScreen), "the attempt's detail")


async def _help(pilot, tui) -> None:
    from cctui.tui.screens.help import HelpScreen

    await _feedback(pilot, tui)
    await pilot.press("question_mark")
    await tui.wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")


async def _bulk_picker(pilot, tui) -> None:
    from cctui.tui.screens.macro_picker import MacroPicker

    await _feedback(pilot, tui)
    await pilot.press("space", "space", "space", "m")
    await tui.wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroPicker), "the macro picker")


async def _bulk_confirm(pilot, tui) -> None:
    from cctui.tui.screens.confirm import ConfirmScreen

    await _bulk_picker(pilot, tui)
    await tui.type_text(pilot, "slack-bugs")
    await pilot.press("enter")
    await tui.wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the confirmation")


SCREENS = {
    "feedback": _feedback, "detail": _detail, "macros": _macros, "macro-form": _macro_form,
    "dispatch-idle": _dispatch_idle, "dispatch-mid-run": _dispatch_mid_run, "logs": _logs,
    "log-detail": _log_detail, "help": _help, "bulk-picker": _bulk_picker, "bulk-confirm": _bulk_confirm,
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_app, snap_compare, tui, screen, size):
    app, _ = snap_app

    async def run_before(pilot) -> None:
        await SCREENS[screen](pilot, tui)
        await _settled(pilot, tui)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZES[size])
