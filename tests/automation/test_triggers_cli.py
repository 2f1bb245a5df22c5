"""Triggers end to end: the real CLI, a real store, the real engine, a loopback receiver."""

from __future__ import annotations

import json

from cctui.macros import Macro
from cctui.store import open_store


def put_macro(data_dir, **fields):
    store = open_store(data_dir)
    try:
        macro = {"method": "POST", "format": "json", "body": '{"id": "((id))", "title": "((title))"}',
                 **fields}
        store.macro_put(Macro.from_dict(macro).to_dict())
    finally:
        store.close()


def read(data_dir):
    store = open_store(data_dir)
    try:
        return store.feedback_all(), store.runs_all(), list(store.log_iter())
    finally:
        store.close()


def ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_submit_fires_once_for_a_matching_record_and_not_for_others(cli, data_dir, receiver):
    put_macro(data_dir, name="critical-bugs", url=f"{receiver.url}/critical",
              trigger={"on": ["submit"], "filter": "severity:critical"})
    ok(cli("feedback", "add", "--type", "bug", "--title", "Crash on save", "--field", "severity=critical"))
    ok(cli("feedback", "add", "--type", "bug", "--title", "Typo", "--field", "severity=low"))
    assert receiver.hits == [{"path": "/critical", "body": {"id": "BUG-0001", "title": "Crash on save"}}]
    _, runs, log = read(data_dir)
    assert [(r["macro"], r["trigger"], r["record_ids"]) for r in runs] == [("critical-bugs", "submit", ["BUG-0001"])]
    assert [(e["trigger"], e["record_id"], e["status_code"]) for e in log] == [("submit", "BUG-0001", 200)]


def test_modify_into_the_filter_fires_once(cli, data_dir, receiver):
    put_macro(data_dir, name="on-critical", url=f"{receiver.url}/hook",
              trigger={"on": ["modify"], "filter": "severity:critical"})
    ok(cli("feedback", "add", "--type", "bug", "--title", "Slow list"))
    ok(cli("feedback", "set", "BUG-0001", "status=triaged"))  # modified, still outside
    assert receiver.hits == []
    ok(cli("feedback", "set", "BUG-0001", "severity=critical"))
    assert receiver.paths() == ["/hook"]
    _, runs, log = read(data_dir)
    assert [r["trigger"] for r in runs] == ["modify"] and log[0]["trigger"] == "modify"


def test_on_success_updates_do_not_loop(cli, data_dir, receiver):
    # escalate's on_success makes the record match notify's filter; notify's own update
    # makes it match escalate's again: each must run exactly once.
    put_macro(data_dir, name="escalate", url=f"{receiver.url}/escalate",
              trigger={"on": ["submit", "modify"], "filter": "severity:critical,high"},
              on_success={"status": "Escalated"}, return_values={"jira_key": "key"})
    put_macro(data_dir, name="notify", url=f"{receiver.url}/notify",
              trigger={"on": ["modify"], "filter": "status:escalated"},
              on_success={"category": "notified", "severity": "High"})
    ok(cli("feedback", "add", "--type", "bug", "--title", "Data loss", "--field", "severity=critical"))
    assert sorted(receiver.paths()) == ["/escalate", "/notify"]
    [record], runs, _ = read(data_dir)
    assert (record["status"], record["category"], record["jira_key"], record["severity"]) == (
        "Escalated", "notified", "CC-1", "High")
    assert sorted((r["macro"], r["trigger"]) for r in runs) == [("escalate", "submit"), ("notify", "modify")]


def test_a_1000_row_import_fires_one_run(cli, data_dir, receiver, tmp_path):
    put_macro(data_dir, name="import-critical", url=f"{receiver.url}/bulk",
              trigger={"on": ["submit"], "filter": "severity:critical"}, concurrency=16)
    path = tmp_path / "feedback.jsonl"
    rows = [{"type": "bug", "title": f"Report {n}", "severity": "critical" if n % 10 == 0 else "low"}
            for n in range(1000)]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    ok(cli("import", str(path)))
    records, runs, _ = read(data_dir)
    assert len(records) == 1000
    assert len(runs) == 1 and runs[0]["trigger"] == "submit" and len(runs[0]["record_ids"]) == 100
    assert len(receiver.hits) == 100


def test_paused_macros_do_not_fire_and_failed_triggered_runs_exit_1(cli, data_dir, receiver):
    put_macro(data_dir, name="paused-one", url=f"{receiver.url}/paused", paused=True,
              trigger={"on": ["submit"]})
    put_macro(data_dir, name="flaky", url=f"{receiver.url}/flaky", trigger={"on": ["submit"]})
    receiver.status = 400  # not retried: fails at once
    result = cli("feedback", "add", "--type", "idea", "--title", "Offline mode")
    assert result.exit_code == 1
    assert receiver.paths() == ["/flaky"]
    records, _, log = read(data_dir)
    assert len(records) == 1  # the item itself was saved
    assert [(e["macro"], e["trigger"], e["status_code"]) for e in log] == [("flaky", "submit", 400)]
