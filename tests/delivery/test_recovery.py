"""What `retry` plans from runs and the log alone (no HTTP)."""

from __future__ import annotations

from cctui.delivery import delivery_id_for
from cctui.delivery.recovery import plan_retry

from .conftest import add_items, put_macro


def entry(run_id, record_id, attempt, ok, macro="hook", at="2026-11-28T10:00:00Z"):
    return {"run_id": run_id, "macro": macro, "record_id": record_id, "attempt": attempt, "ok": ok,
            "status_code": 200 if ok else 503, "delivery_id": delivery_id_for(run_id, record_id),
            "started_at": at, "trigger": "manual", "method": "POST", "url": "http://x/"}


def test_crashed_run_resumes_only_records_not_delivered_in_it(store):
    ids = add_items(store, 4)
    put_macro(store)
    run_id = store.run_create({"macro": "hook", "trigger": "bulk", "record_ids": ids, "status": "running",
                               "pid": 999_999_999, "started": "2026-11-28T09:59:00Z"})
    store.log_append([entry(run_id, ids[0], 1, True), entry(run_id, ids[1], 1, False)])
    [plan] = plan_retry(store)
    assert plan.run_id == run_id and plan.record_ids == ids[1:]
    assert plan.deliveries[ids[1]] == (delivery_id_for(run_id, ids[1]), 1)
    assert plan.deliveries[ids[2]] == (delivery_id_for(run_id, ids[2]), 0)


def test_finished_runs_plan_only_their_failures(store):
    ids = add_items(store, 3)
    put_macro(store)
    run_id = store.run_create({"macro": "hook", "trigger": "manual", "record_ids": ids, "status": "done",
                               "pid": 1, "started": "2026-11-28T09:59:00Z"})
    store.log_append([entry(run_id, ids[0], 1, True), entry(run_id, ids[1], 1, False),
                      entry(run_id, ids[1], 2, False), entry(run_id, ids[2], 1, False),
                      entry("run-later", ids[2], 1, True, at="2026-11-28T11:00:00Z")])
    [plan] = plan_retry(store)
    assert plan.run_id is None and plan.record_ids == [ids[1]]  # ids[2] was delivered later
    assert plan.deliveries[ids[1]][1] == 2
    assert plan_retry(store, macro="other") == []
    assert plan_retry(store, record_id=ids[0]) == []


def test_a_run_of_a_live_process_is_left_alone(store):
    import os

    ids = add_items(store, 2)
    put_macro(store)
    store.run_create({"macro": "hook", "trigger": "bulk", "record_ids": ids, "status": "running",
                      "pid": os.getppid(), "started": "2026-11-28T09:59:00Z"})
    assert plan_retry(store) == []
