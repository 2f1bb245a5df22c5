"""The runners the TUI and the listener use, on a real store, engine and receiver."""

from __future__ import annotations

from cctui.automation.triggers import ThreadRunner, attach
from cctui.delivery import Engine
from cctui.macros import Macro
from cctui.store import open_store


def test_thread_runner_runs_triggers_at_once_and_follows_chains(data_dir, receiver):
    store = open_store(data_dir)
    for name, trigger, on_success in (
        ("escalate", {"on": ["submit"], "filter": "severity:critical"}, {"status": "Escalated"}),
        ("notify", {"on": ["modify"], "filter": "status:escalated"}, None),
    ):
        store.macro_put(Macro.from_dict({
            "name": name, "method": "POST", "url": f"{receiver.url}/{name}", "body": '{"id": "((id))"}',
            "trigger": trigger, **({"on_success": on_success} if on_success else {}),
        }).to_dict())
    done = []
    runner = ThreadRunner(lambda: Engine(store), on_done=lambda *a: done.append(a))
    attach(store, runner)
    try:
        store.feedback_add([store.schema.feedback({"type": "bug", "title": "Boom", "severity": "Critical"})])
        runner.wait_idle(timeout=30)
        assert sorted(receiver.paths()) == ["/escalate", "/notify"]
        assert [(name, trigger, summary.delivered) for name, trigger, summary in done] == [
            ("escalate", "submit", 1), ("notify", "modify", 1)]
    finally:
        runner.close(timeout=30)
        store.close()
    assert store.feedback_get("BUG-0001")["status"] == "Escalated"
