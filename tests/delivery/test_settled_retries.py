"""A run that left a delivery *retrying* learns how it ended: when a later run (run-due,
retry, the TUI) delivers that scheduled retry, it fails for good, or it is dropped, the
run's stored counts (``cctui.delivery.runs.standing``) move it from retrying to
delivered, failed or skipped, in the same commit that forgets the scheduled retry.
Real CLI, real loopback receiver, real store; CCTUI_NOW for time."""

from __future__ import annotations

import pytest

from cctui.delivery.runs import standing, waiting_by_run

from .conftest import add_items, json_lines, put_macro

NOW = "2026-12-01T10:00:00Z"
LATER = "2026-12-01T12:00:00Z"  # past the 3600 s cap on a server's Retry-After
MUCH_LATER = "2026-12-01T14:00:00Z"
WAIT = "retry_after=999999"  # the server asks for longer than any run waits: scheduled


@pytest.fixture
def run_at(cctui, monkeypatch):
    def invoke(moment: str, *args: str):
        monkeypatch.setenv("CCTUI_NOW", moment)
        return cctui(*args)

    return invoke


def counts(store, run_id: str, *, live: bool = True) -> tuple:
    now = standing(store.run_get(run_id), waiting_by_run(store.retries_all()) if live else None)
    return now["delivered"], now["failed"], now["skipped"], now["retrying"], now["next_retry"]


def only_run(store, trigger: str = "manual") -> str:
    [run] = [r["id"] for r in store.runs_all() if r["trigger"] == trigger]
    return run


def test_a_scheduled_retry_delivered_by_run_due_counts_as_delivered_in_the_run_that_scheduled_it(
        store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + f"/flaky/1?{WAIT}")
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    first = only_run(store)
    assert counts(store, first) == (0, 0, 0, 1, "2026-12-01T11:00:00Z")
    assert store.run_get(first)["summary"]["retrying"] == 1

    due = run_at(LATER, "run-due")
    assert due.code == 0 and "1 delivered" in due.out, due.out + due.err
    assert store.retries_all() == [] and receiver.state.count == 2
    assert counts(store, first) == (1, 0, 0, 0, None)
    assert counts(store, first, live=False) == (1, 0, 0, 0, None)  # from the stored tally alone
    assert store.run_get(first)["summary"]["retrying"] == 1  # the run's own record stays as it closed
    assert counts(store, only_run(store, "retry")) == (1, 0, 0, 0, None)
    # The log says the same: the delivery is delivered, nothing is retrying.
    assert json_lines(run_at(LATER, "logs", "--status", "retrying", "--json").out) == []
    assert len(json_lines(run_at(LATER, "logs", "--status", "delivered", "--json").out)) == 1
    # Also within the first run's own attempts (screen 4's run:ID filter): its delivery
    # is judged by its newest attempt, which the retry run made.
    assert list(store.log_iter(run_id=first, status="retrying")) == []
    [attempt] = store.log_iter(run_id=first, status="delivered")
    assert (attempt["run_id"], attempt["status_code"]) == (first, 503)
    assert list(store.log_iter(trigger="manual", status="retrying")) == []
    assert store.log_delivery_states({attempt["delivery_id"], "msg_unknown"}) == {
        attempt["delivery_id"]: "delivered"}


def test_every_run_that_left_the_delivery_retrying_settles_when_a_third_run_delivers_it(
        store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + f"/flaky/2?{WAIT}")
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    first = only_run(store)
    assert run_at(LATER, "run-due").code == 0  # 503 again: scheduled again, an hour on
    second = only_run(store, "retry")
    [entry] = store.retries_all()
    assert entry["runs"] == [first, second]
    # Both still retrying; the first run's next retry is the new one.
    assert counts(store, first) == (0, 0, 0, 1, "2026-12-01T13:00:00Z")
    assert counts(store, second) == (0, 0, 0, 1, "2026-12-01T13:00:00Z")

    assert run_at(MUCH_LATER, "run-due").code == 0
    assert receiver.state.count == 3 and store.retries_all() == []
    assert counts(store, first) == (1, 0, 0, 0, None)
    assert counts(store, second) == (1, 0, 0, 0, None)


def test_a_scheduled_retry_that_fails_for_good_counts_as_failed(store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + f"/status/503?{WAIT}")
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    first = only_run(store)
    put_macro(store, url=receiver.url + "/status/404")  # the target went away meanwhile
    due = run_at(LATER, "run-due")
    assert due.code == 1 and "1 failed" in due.out, due.out + due.err
    assert counts(store, first) == (0, 1, 0, 0, None)


def test_a_dropped_scheduled_retry_counts_as_skipped(store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + f"/status/503?{WAIT}")
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    first = only_run(store)
    put_macro(store, url=receiver.url + "/hook")
    assert run_at("2026-12-01T10:05:00Z", "send", "hook", "--item", item).code == 0  # delivers the record
    assert run_at(LATER, "run-due").code == 0  # drops the retry: the record was delivered since
    assert store.retries_all() == []
    assert counts(store, first) == (0, 0, 1, 0, None)


def test_a_scheduled_retry_dropped_with_its_macro_counts_as_skipped(store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + f"/status/503?{WAIT}")
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    first = only_run(store)
    assert run_at(NOW, "macro", "remove", "hook").code == 0
    assert store.retries_all() == []
    assert counts(store, first) == (0, 0, 1, 0, None)


def test_a_run_with_retries_still_waiting_keeps_them_retrying(store, receiver, run_at):
    ids = add_items(store, 2)
    put_macro(store, url=receiver.url + f"/status/503?{WAIT}")
    assert run_at(NOW, "send", "hook", "--item", ids[0], "--item", ids[1]).code == 0
    first = only_run(store)
    assert counts(store, first) == (0, 0, 0, 2, "2026-12-01T11:00:00Z")
    put_macro(store, url=receiver.url + "/hook")
    assert run_at(LATER, "retry", "--item", ids[0]).code == 0  # only one of them
    assert counts(store, first) == (1, 0, 0, 1, "2026-12-01T11:00:00Z")
    assert counts(store, first, live=False) == (1, 0, 0, 1, "2026-12-01T11:00:00Z")


def test_waiting_by_run_counts_each_entry_for_every_run_that_left_it_retrying():
    from cctui.delivery.runs import Waiting

    pending = [
        {"delivery_id": "msg_a", "run_id": "run-b", "runs": ["run-a", "run-b"], "due": "2026-12-01T13:00:00Z"},
        {"delivery_id": "msg_b", "run_id": "run-a", "runs": ["run-a"], "due": "2026-12-01T11:00:00Z"},
        {"delivery_id": "msg_c", "run_id": "run-old", "due": "2026-12-01T12:00:00Z"},  # stored before `runs`
        {"delivery_id": "msg_d", "run_id": "run-c", "runs": [], "due": "2026-12-01T10:00:00Z"},  # held, counted by none
    ]
    assert waiting_by_run(pending) == {
        "run-a": Waiting(2, "2026-12-01T11:00:00Z"), "run-b": Waiting(1, "2026-12-01T13:00:00Z"),
        "run-old": Waiting(1, "2026-12-01T12:00:00Z")}
    run = {"id": "run-a", "summary": {"delivered": 3, "retrying": 3, "next_retry": "2026-12-01T10:30:00Z"},
           "settled": {"failed": 1}}
    assert standing(run, waiting_by_run(pending)) == {
        "delivered": 3, "failed": 1, "skipped": 0, "retrying": 2, "next_retry": "2026-12-01T11:00:00Z"}
    assert standing(run) == {"delivered": 3, "failed": 1, "skipped": 0, "retrying": 2,
                             "next_retry": "2026-12-01T10:30:00Z"}
