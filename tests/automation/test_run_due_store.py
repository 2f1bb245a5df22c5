"""run_due against a real store: once per period, no backlog, start/end, concurrent claims."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from cctui.automation.schedules import STATE_PREFIX, claim_period, run_due
from cctui.core.records import Schema
from cctui.store import open_store


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Recorder:
    """A runner that remembers what it was asked to run."""

    def __init__(self):
        self.calls = []

    def __call__(self, name, ids, trigger):
        self.calls.append((name, list(ids), trigger))


@pytest.fixture
def store(data_dir):
    store = open_store(data_dir)
    schema = Schema()
    store.feedback_add([
        schema.feedback({"type": "bug", "title": "new one"}),
        schema.feedback({"type": "bug", "title": "triaged", "status": "Triaged"}),
        schema.feedback({"type": "idea", "title": "new idea"}),
    ])
    store.macro_put({"name": "daily-new", "target": "feedback",
                     "schedule": {"every": "daily", "filter": "status:new"}})
    store.macro_put({"name": "manual-only", "target": "feedback"})
    yield store
    store.close()


def test_twice_in_one_period_runs_once(store):
    runner = Recorder()
    first = run_due(store, runner, at("2026-11-28T09:00:30"))
    second = run_due(store, runner, at("2026-11-28T17:45:00"))
    assert [(d.macro, d.period, d.record_count) for d in first] == [("daily-new", at("2026-11-28T00:00"), 2)]
    assert second == []
    assert runner.calls == [("daily-new", ["BUG-0001", "IDEA-0001"], "schedule")]


def test_after_a_long_gap_it_runs_once_not_a_backlog(store):
    runner = Recorder()
    run_due(store, runner, at("2026-11-01T10:00"))
    later = run_due(store, runner, at("2026-11-28T10:00"))  # 26 missed days
    assert [d.period for d in later] == [at("2026-11-28T00:00")]
    assert len(runner.calls) == 2
    assert store.state_get(STATE_PREFIX + "daily-new")["period"] == "2026-11-28T00:00:00Z"


def test_start_end_and_pause_are_respected(store):
    store.macro_put({"name": "daily-new", "target": "feedback",
                     "schedule": {"every": "daily", "start": "2026-12-01", "end": "2026-12-02"}})
    runner = Recorder()
    assert run_due(store, runner, at("2026-11-30T12:00")) == []
    assert len(run_due(store, runner, at("2026-12-02T23:00"))) == 1
    assert run_due(store, runner, at("2026-12-03T00:00")) == []
    store.macro_put({"name": "daily-new", "paused": True, "schedule": {"every": "hourly"}})
    assert run_due(store, runner, at("2026-12-01T05:00")) == []


def test_no_matching_records_records_the_period_without_a_run(store):
    store.macro_put({"name": "daily-new", "schedule": {"every": "daily", "filter": "status:closed"}})
    runner = Recorder()
    assert [d.record_count for d in run_due(store, runner, at("2026-11-28T10:00"))] == [0]
    assert runner.calls == []
    assert run_due(store, runner, at("2026-11-28T11:00")) == []


def test_a_broken_schedule_warns_and_others_still_run(store):
    store.macro_put({"name": "broken", "schedule": {"every": "fortnightly"}})
    warnings = []
    started = run_due(store, Recorder(), at("2026-11-28T10:00"), warn=warnings.append)
    assert [d.macro for d in started] == ["daily-new"]
    assert "broken" in warnings[0] and "fortnightly" in warnings[0]


def test_concurrent_claims_of_one_period_let_exactly_one_win(data_dir, store):
    period = at("2026-11-28T00:00")
    stores = [store] + [open_store(data_dir) for _ in range(3)]  # as if four processes
    wins = []
    barrier = threading.Barrier(len(stores))

    def claim(s):
        barrier.wait()
        wins.append(claim_period(s, "daily-new", period, period))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, False, False, True]
