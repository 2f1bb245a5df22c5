"""A scheduled retry that is dropped unsent (its record delivered by another run, its macro
removed, a newer delivery of the record retried instead) ends its delivery with a
`skipped` log entry, so `logs --status retrying` no longer lists it. Real CLI, real
loopback receiver, CCTUI_NOW for time."""

from __future__ import annotations

import pytest

from .conftest import add_items, json_lines, put_macro

NOW = "2026-12-01T10:00:00Z"
LATER = "2026-12-01T12:00:00Z"  # past the 3600 s cap on a server's Retry-After
UNAVAILABLE = "/status/503?retry_after=999999"
UNAVAILABLE_ONCE = "/flaky/1?status=503&retry_after=999999"


@pytest.fixture
def run_at(cctui, monkeypatch):
    """``run_at(NOW, "send", ...)``: the real entry point with the clock at NOW."""

    def invoke(moment: str, *args: str):
        monkeypatch.setenv("CCTUI_NOW", moment)
        return cctui(*args)

    return invoke


def logs(run_at, *args: str) -> list[dict]:
    out = run_at(LATER, "logs", "--json", *args)
    assert out.code == 0, out.err
    return json_lines(out.out)


def test_a_retry_dropped_because_another_run_delivered_the_record_is_skipped_not_retrying(
        store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + UNAVAILABLE)
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    [scheduled] = store.retries_all()
    assert [e["delivery_id"] for e in logs(run_at, "--status", "retrying")] == [scheduled["delivery_id"]]
    put_macro(store, url=receiver.url + "/hook")
    assert run_at("2026-12-01T10:05:00Z", "send", "hook", "--item", item).code == 0  # another run delivers it
    [delivered] = logs(run_at, "--status", "delivered")

    due = run_at(LATER, "run-due")
    assert due.code == 0 and "1 skipped" in due.out, due.out + due.err
    assert receiver.state.count == 2 and store.retries_all() == []
    assert logs(run_at, "--status", "retrying") == []
    [skipped] = logs(run_at, "--status", "skipped")
    assert skipped["delivery_id"] == scheduled["delivery_id"] and skipped["record_id"] == item
    assert skipped["error"] == f"retry dropped: {item} was delivered since by run {delivered['run_id']}"
    # Honest about being no request, in the contract's shape.
    assert (skipped["status_code"], skipped["ok"], skipped["not_sent"], skipped["skipped"]) == (0, False, True, True)
    assert (skipped["trigger"], skipped["attempt"], skipped["duration_ms"]) == ("retry", scheduled["attempt"], 0)
    assert skipped["started_at"] == LATER and skipped["explanation"]["meaning"] == skipped["error"]
    # Not a failure either: nothing for `retry` to resend, and the table says why.
    assert logs(run_at, "--status", "failed") == []
    assert "Nothing to retry" in run_at(LATER, "retry", "--now").out and receiver.state.count == 2
    table = run_at(LATER, "logs", "--item", item).out
    assert "retry dropped" in table or "scheduled retry dropped" in table


def test_removing_a_macro_drops_its_scheduled_retries_with_a_log_entry(store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + UNAVAILABLE)
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    [scheduled] = store.retries_all()

    removed = run_at(NOW, "macro", "remove", "hook")
    assert removed.code == 0 and "dropped its 1 scheduled retry" in removed.out, removed.out + removed.err
    assert store.retries_all() == []
    assert logs(run_at, "--status", "retrying") == []
    [skipped] = logs(run_at, "--status", "skipped")
    assert skipped["delivery_id"] == scheduled["delivery_id"]
    assert skipped["error"] == "retry dropped: macro 'hook' was removed"
    assert "nothing due" in run_at(LATER, "run-due").out and receiver.state.count == 1


def test_a_retry_of_a_macro_removed_behind_the_clis_back_is_dropped_by_run_due(store, receiver, run_at):
    # Removed without `macro remove` (another tool, an older cctui): run-due drops it.
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + UNAVAILABLE)
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    store.macro_remove("hook")
    assert len(logs(run_at, "--status", "retrying")) == 1
    assert run_at(LATER, "run-due").code == 0
    assert store.retries_all() == [] and logs(run_at, "--status", "retrying") == []
    [skipped] = logs(run_at, "--status", "skipped")
    assert skipped["error"] == "retry dropped: macro 'hook' was removed" and receiver.state.count == 1


def test_the_older_of_two_scheduled_retries_of_a_record_ends_skipped(store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + UNAVAILABLE_ONCE)
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    assert run_at("2026-12-01T10:01:00Z", "send", "hook", "--item", item).code == 0
    older, newer = sorted(store.retries_all(), key=lambda e: e["scheduled_at"])
    assert len(logs(run_at, "--status", "retrying")) == 2

    assert run_at(LATER, "run-due").code == 0
    assert logs(run_at, "--status", "retrying") == []
    assert [e["delivery_id"] for e in logs(run_at, "--status", "delivered")] == [newer["delivery_id"]]
    [skipped] = logs(run_at, "--status", "skipped")
    assert skipped["delivery_id"] == older["delivery_id"]
    assert skipped["error"] == (f"retry dropped: {item} is retried by its newer delivery "
                                f"{newer['delivery_id']} instead")
