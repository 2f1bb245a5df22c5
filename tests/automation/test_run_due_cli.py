"""`cctui run-due` end to end: CCTUI_NOW, once per period, after a gap, --json, exit codes."""

from __future__ import annotations

import json

from cctui.macros import Macro
from cctui.store import open_store


def setup(data_dir, receiver, **schedule):
    store = open_store(data_dir)
    try:
        store.macro_put(Macro.from_dict({
            "name": "weekly-digest", "method": "POST", "url": f"{receiver.url}/digest",
            "body": '{"id": "((id))"}', "schedule": {"every": "weekly", "filter": "status:new", **schedule},
        }).to_dict())
    finally:
        store.close()


def test_run_due_twice_in_one_period_sends_once_and_after_a_gap_once(cli, data_dir, receiver):
    setup(data_dir, receiver)
    assert cli("feedback", "add", "--type", "bug", "--title", "One").exit_code == 0
    assert cli("feedback", "add", "--type", "bug", "--title", "Two", "--field", "status=closed").exit_code == 0

    first = cli("run-due", env={"CCTUI_NOW": "2026-11-24T09:00:00Z"})
    assert first.exit_code == 0, first.output
    assert "weekly-digest: period 2026-11-23T00:00:00Z, 1 records" in first.output
    assert receiver.paths() == ["/digest"]

    again = cli("run-due", env={"CCTUI_NOW": "2026-11-29T23:59:00Z"})  # same week
    assert again.exit_code == 0 and "nothing due" in again.output
    assert len(receiver.hits) == 1

    # five weeks later: one run, not five
    gap = cli("run-due", "--json", env={"CCTUI_NOW": "2027-01-01T12:00:00Z"})
    assert gap.exit_code == 0
    assert [json.loads(line) for line in gap.output.splitlines()] == [{"macro": "weekly-digest", "period": "2026-12-28T00:00:00Z",
                                      "count": 1, "sent": 1, "delivered": 1, "failed": 0, "skipped": 0}]
    assert len(receiver.hits) == 2
    store = open_store(data_dir)
    assert [e["trigger"] for e in store.log_iter()] == ["schedule", "schedule"]
    store.close()


def test_run_due_exits_1_when_a_scheduled_delivery_fails(cli, data_dir, receiver):
    setup(data_dir, receiver)
    cli("feedback", "add", "--type", "bug", "--title", "One")
    receiver.status = 404
    result = cli("run-due", env={"CCTUI_NOW": "2026-11-24T09:00:00Z"})
    assert result.exit_code == 1
    assert "1 failed" in result.output
    # the period is recorded anyway: `cctui retry` resends, run-due does not
    assert cli("run-due", env={"CCTUI_NOW": "2026-11-24T09:01:00Z"}).exit_code == 0
    assert len(receiver.hits) == 1


def test_run_due_before_start_runs_nothing(cli, data_dir, receiver):
    setup(data_dir, receiver, start="2026-12-01")
    cli("feedback", "add", "--type", "bug", "--title", "One")
    result = cli("run-due", env={"CCTUI_NOW": "2026-11-24T09:00:00Z"})
    assert result.exit_code == 0 and "nothing due" in result.output
    assert receiver.hits == []
