"""Retries that outlive the command: a send waits at most `max_wait` for retries, persists
later ones as scheduled, and `run-due` / `retry` send them once, with the same webhook-id,
even with two processes racing. Real loopback servers, real processes, CCTUI_NOW for time."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from datetime import UTC, datetime, timedelta

import pytest

from cctui.delivery.events import RetryScheduled
from cctui.delivery.retries import Budget
from cctui.delivery.scheduled import claim

from .conftest import add_items, json_lines, put_macro

NOW = "2026-12-01T10:00:00Z"
LATER = "2026-12-01T12:00:00Z"  # past the 3600 s cap on a server's Retry-After
#: 429 with Retry-After: 999999 for the first attempt of each webhook-id, then 200.
LIMITED_ONCE = "/flaky/1?status=429&retry_after=999999"
#: The same with 503 (no host-wide pause: each record schedules its own retry).
UNAVAILABLE_ONCE = "/flaky/1?status=503&retry_after=999999"


def at(moment: str) -> dict:
    return {"CCTUI_NOW": moment}


@pytest.fixture
def run_at(cctui, monkeypatch):
    """``run_at(NOW, "send", ...)``: the real entry point with the clock at NOW (None: now)."""

    def invoke(moment: str | None, *args: str):
        if moment:
            monkeypatch.setenv("CCTUI_NOW", moment)
        else:
            monkeypatch.delenv("CCTUI_NOW", raising=False)
        return cctui(*args)

    return invoke


def stopped_with_sigterm(data_dir, moment: str, held, on_the_wire: int, *args: str) -> tuple[int, str, str]:
    """Run ``cctui ARGS`` in its own process at ``moment``, send it SIGTERM once ``held``
    has seen ``on_the_wire`` requests, then release the held answers; returns (exit code,
    stdout, stderr). The signal reaches the process (its handler writes the loop's
    wake-up pipe) before it can read the answers released after it."""
    env = {**os.environ, "CCTUI_NOW": moment}
    proc = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while held.state.count < on_the_wire and time.monotonic() < deadline:
            time.sleep(0.02)
        assert held.state.count == on_the_wire
        proc.send_signal(signal.SIGTERM)
        held.state.release()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


def webhook_ids(receiver) -> list[str]:
    return [item.headers["webhook-id"] for item in list(receiver.state.received)]


def test_send_with_a_huge_retry_after_ends_with_a_scheduled_retry(store, data_dir, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + "/status/429?retry_after=999999")
    result = run_at(NOW, "send", "hook", "--item", item, "--json")
    assert result.code == 0, result.err  # still retrying: not a failure
    record, summary = json_lines(result.out)
    assert record["outcome"] == "retrying" and record["retry_at"] == "2026-12-01T11:00:00Z"
    assert {k: summary[k] for k in ("sent", "delivered", "failed", "skipped", "retrying", "next_retry")} == {
        "sent": 1, "delivered": 0, "failed": 0, "skipped": 0, "retrying": 1, "next_retry": "2026-12-01T11:00:00Z"}
    assert receiver.state.count == 1

    [entry] = store.retries_all()
    assert entry["record_id"] == item and entry["macro"] == "hook" and entry["attempt"] == 2
    assert entry["due"] == "2026-12-01T11:00:00Z" and entry["delivery_id"] == webhook_ids(receiver)[0]

    plain = run_at(NOW, "send", "hook", "--item", item)
    assert plain.code == 0
    assert "retrying 1" in plain.out
    assert "1 retry scheduled, next at 2026-12-01T11:00:00Z; run 'cctui run-due' or 'cctui retry --now'" \
        in plain.err

    shown = run_at(None, "logs", "--status", "retrying")
    assert shown.out.count("retry scheduled at 2026-12-01T11:00:00Z") == 2  # two deliveries
    assert json_lines(run_at(None, "logs", "--status", "failed", "--json").out) == []


def test_a_host_pause_longer_than_max_wait_schedules_the_records_not_yet_sent(store, data_dir, receiver,
                                                                             run_at):
    ids = add_items(store, 3)
    put_macro(store, url=receiver.url + LIMITED_ONCE, concurrency=1)
    result = run_at(NOW, "send", "hook", "--all", "--json")
    assert result.code == 0, result.err
    assert json_lines(result.out)[-1]["retrying"] == 3
    assert receiver.state.count == 1  # the host asked to wait: the others were not sent
    retrying = json_lines(run_at(None, "logs", "--status", "retrying", "--json").out)
    assert sorted(e["record_id"] for e in retrying) == ids
    assert {e["retry_at"] for e in retrying} == {"2026-12-01T11:00:00Z"}
    assert sum(bool(e.get("not_sent")) for e in retrying) == 2

    put_macro(store, url=receiver.url + "/hook")  # the host takes requests again
    due = run_at(LATER, "run-due")
    assert due.code == 0 and "3 delivered" in due.out, due.out + due.err
    assert sorted(receiver.state.by_webhook_id.values()) == [1, 1, 2]  # only the first saw a 429
    assert len(json_lines(run_at(None, "logs", "--status", "delivered", "--json").out)) == 3


def test_run_due_sends_a_due_retry_once_with_the_same_webhook_id(store, data_dir, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + LIMITED_ONCE)
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    [first] = webhook_ids(receiver)

    early = run_at("2026-12-01T10:30:00Z", "run-due")
    assert early.code == 0 and "nothing due" in early.out
    assert receiver.state.count == 1

    due = run_at(LATER, "run-due")
    assert due.code == 0, due.err
    assert "scheduled retries: 1 due" in due.out and "1 delivered" in due.out
    assert webhook_ids(receiver) == [first, first]
    assert store.retries_all() == []
    again = run_at(LATER, "run-due")
    assert "nothing due" in again.out and receiver.state.count == 2

    attempts = json_lines(run_at(None, "logs", "--json").out)
    assert [(a["attempt"], a["status_code"], a["delivery_id"]) for a in attempts] == [
        (2, 200, first), (1, 429, first)]
    assert attempts[0]["trigger"] == "retry" and attempts[1]["retry_at"] == "2026-12-01T11:00:00Z"
    # A 429 that was later delivered is not a failure; the delivery is delivered.
    assert json_lines(run_at(None, "logs", "--status", "failed", "--json").out) == []
    assert [a["attempt"] for a in json_lines(run_at(None, "logs", "--status", "delivered", "--json").out)] == [2]
    assert json_lines(run_at(None, "logs", "--status", "retrying", "--json").out) == []
    assert "Nothing to retry" in run_at(LATER, "retry", "--now").out


def test_two_run_due_processes_racing_send_each_scheduled_retry_once(store, data_dir, make_receiver, run_at):
    slow = make_receiver(delay=0.05)  # the runs overlap
    ids = add_items(store, 6)
    put_macro(store, url=slow.url + UNAVAILABLE_ONCE, concurrency=2)
    assert run_at(NOW, "send", "hook", "--all").code == 0
    assert len(store.retries_all()) == 6 and slow.state.count == 6

    command = [sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "run-due"]
    procs = [subprocess.Popen(command, env={**os.environ, **at(LATER)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    # each webhook-id arrived twice in all: the first 503, then exactly one retry
    assert sorted(slow.state.by_webhook_id.values()) == [2] * len(ids)
    assert store.retries_all() == []
    delivered = [e["record_id"] for e in store.log_iter(status="ok")]
    assert sorted(delivered) == sorted(ids)


def test_scheduled_retries_survive_kill_9_and_retry_leaves_them_to_their_schedule(store, data_dir,
                                                                                 held_receiver, run_at, wait):
    slow = held_receiver(answer_first=2)  # two 503s answered, then the third request is held
    ids = add_items(store, 10)
    put_macro(store, url=slow.url + UNAVAILABLE_ONCE, concurrency=1)
    sender = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "send", "hook",
                               "--all"], env={**os.environ, **at(NOW)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    wait(lambda: len(store.retries_all()) >= 2 or sender.poll() is not None, "two retries scheduled")
    assert sender.poll() is None, sender.stderr.read()
    os.kill(sender.pid, signal.SIGKILL)  # mid-run: its third request still unanswered
    sender.wait()
    sender.stderr.close()
    slow.state.release()  # answer what retry and run-due send
    kept = {e["delivery_id"] for e in store.retries_all()}
    assert len(kept) == 2  # written as they were scheduled, not when the command ended

    # `retry` finishes the killed run but leaves the scheduled ones to their schedule ...
    assert run_at(NOW, "retry").code == 0
    assert kept <= {e["delivery_id"] for e in store.retries_all()}
    assert all(slow.state.by_webhook_id[d] == 1 for d in kept)
    # ... and run-due sends every retry when due: each record delivered once in the end.
    assert run_at(LATER, "run-due").code == 0
    assert store.retries_all() == []
    assert sorted(e["record_id"] for e in store.log_iter(status="ok")) == sorted(ids)
    assert set(slow.state.by_webhook_id.values()) == {2} and len(slow.state.by_webhook_id) == len(ids)


def test_a_scheduled_retry_of_a_record_delivered_since_is_dropped_not_sent(store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + "/status/503?retry_after=999999")
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    put_macro(store, url=receiver.url + "/hook")
    assert run_at("2026-12-01T10:05:00Z", "send", "hook", "--item", item).code == 0  # a new run delivers it
    due = run_at(LATER, "run-due")
    assert due.code == 0 and "0 sent" in due.out and "1 skipped" in due.out, due.out
    assert receiver.state.count == 2 and store.retries_all() == []


def test_retry_sends_due_ones_and_now_sends_all(store, data_dir, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + LIMITED_ONCE)
    run_at(NOW, "send", "hook", "--item", item)
    waiting = run_at(NOW, "retry")
    assert waiting.code == 0
    assert "Nothing due: 1 retry is scheduled, next at 2026-12-01T11:00:00Z" in waiting.out
    assert receiver.state.count == 1
    now = run_at(NOW, "retry", "--now")
    assert now.code == 0, now.err
    assert "delivered 1" in now.out
    assert len(set(webhook_ids(receiver))) == 1 and receiver.state.count == 2
    assert "Nothing to retry" in run_at(LATER, "retry", "--now").out


def test_unreachable_host_schedules_until_retries_run_out_then_fails(store, data_dir, closed_port,
                                                                      fast_cli_config, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=f"http://127.0.0.1:{closed_port}/hook")
    sent = run_at(NOW, "send", "hook", "--item", item, "--max-wait", "0", "--json")
    assert sent.code == 0, sent.err
    assert json_lines(sent.out)[-1]["retrying"] == 1
    # the fast config allows 3 retries: each `retry --now` makes one, the last fails for good
    for attempt in (2, 3, 4):
        [entry] = store.retries_all()
        assert (entry["attempt"], entry["used"]) == (attempt, attempt - 1)
        done = run_at(NOW, "retry", "--now", "--max-wait", "0")
        assert done.code == (1 if attempt == 4 else 0), done.out + done.err
    assert store.retries_all() == []
    failed = json_lines(run_at(None, "logs", "--status", "failed", "--json").out)
    assert [(e["attempt"], e["status_code"]) for e in failed] == [(4, 0)]
    assert len({e["delivery_id"] for e in json_lines(run_at(None, "logs", "--json").out)}) == 1
    assert "Nothing to retry" not in run_at(None, "retry", "--max-wait", "0").out  # failed: retry resends


def test_foreground_503_then_200_is_delivered_without_scheduling(store, data_dir, receiver, fast_cli_config,
                                                                 run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + "/flaky/1")  # 503 with Retry-After: 0, then 200
    result = run_at(None, "send", "hook", "--item", item, "--json")
    assert result.code == 0 and json_lines(result.out)[-1]["retrying"] == 0
    assert store.retries_all() == []
    assert json_lines(run_at(None, "logs", "--status", "failed", "--json").out) == []
    assert [e["status_code"] for e in json_lines(run_at(None, "logs", "--json").out)] == [200, 503]


def test_a_claim_held_by_a_dead_process_is_taken_over(store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    base = {"macro": "hook", "record_id": "BUG-0001", "attempt": 2, "due": NOW, "used": 1, "limited": 0}
    put_macro(store)
    store.retry_put([{**base, "delivery_id": "msg_dead", "claimed_by": dead.pid},
                     {**base, "delivery_id": "msg_live", "record_id": "BUG-0002", "claimed_by": os.getppid()}])
    taken = claim(store, everything=True)
    assert [e["delivery_id"] for e in taken] == ["msg_dead"]
    assert taken[0]["claimed_by"] == os.getpid()
    assert claim(store, everything=True) == []  # now held by this (live) process


def test_a_claim_from_another_machine_is_taken_over_only_when_stale(store, monkeypatch):
    monkeypatch.setenv("CCTUI_NOW", LATER)
    put_macro(store)
    base = {"macro": "hook", "attempt": 2, "due": NOW, "used": 1, "limited": 0, "claimed_by": os.getpid(),
            "claimed_on": "elsewhere/boot-1"}
    store.retry_put([{**base, "delivery_id": "msg_stale", "record_id": "BUG-0001", "claimed_at": NOW},
                     {**base, "delivery_id": "msg_fresh", "record_id": "BUG-0002",
                      "claimed_at": "2026-12-01T11:55:00Z"}])
    assert [e["delivery_id"] for e in claim(store)] == ["msg_stale"]


def test_ctrl_c_while_a_record_waits_for_its_retry_keeps_the_retry_scheduled(store, receiver):
    import asyncio

    from cctui.delivery import Engine

    from .conftest import fast_config

    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + "/status/503")  # Retry-After: 1, within max_wait
    engine = Engine(store, fast_config(retry_schedule=[30, 30], max_wait=60))

    def cancel_when_waiting(event) -> None:
        if isinstance(event, RetryScheduled):
            engine.cancel()  # what the first Ctrl-C does

    summary = asyncio.run(engine.run("hook", [item], listener=cancel_when_waiting))
    assert (summary.failed, summary.retrying, summary.cancelled) == (0, 1, True)
    [entry] = store.retries_all()
    assert (entry["record_id"], entry["attempt"], entry["claimed_by"]) == (item, 2, None)
    assert entry["due"] == summary.next_retry and receiver.state.count == 1


def test_a_bad_max_wait_in_the_config_is_one_sentence_and_exit_2(store, receiver, tmp_path, monkeypatch,
                                                                  run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + "/hook")
    config = tmp_path / "bad.toml"
    config.write_text('[delivery]\nmax_wait = "soon"\n', encoding="utf-8")
    monkeypatch.setenv("CCTUI_CONFIG", str(config))
    result = run_at(None, "send", "hook", "--item", item)
    assert result.code == 2 and "config [delivery] max_wait: expected seconds >= 0" in result.err
    assert "Traceback" not in result.err and receiver.state.count == 0


def test_budget_waits_within_max_wait_only():
    budget = Budget(60)
    assert budget.fits(30, waited=0) and budget.fits(30, waited=30)
    assert not budget.fits(31, waited=30) and not budget.fits(120, waited=0)
    assert not Budget(0).fits(0.05, waited=0)


def test_send_on_a_terminal_shows_what_it_waits_for(store, data_dir, receiver):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + "/flaky/1")  # 503 (Retry-After: 0), then 200
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "send", "hook",
                             "--item", item], stdout=subprocess.PIPE, stderr=slave,
                            env={**os.environ, "TERM": "xterm-256color"})
    os.close(slave)
    shown = b""
    while True:  # the terminal's side: read until the command closes it
        ready, _, _ = select.select([master], [], [], 60)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:  # EIO: the command exited and the terminal closed
            chunk = b""
        if not chunk:
            break
        shown += chunk
    os.close(master)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"delivered 1" in out
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))
    assert f"{item}: 503, retry 1 of 5 in " in text, text


def test_what_a_terminal_shows_while_a_run_waits():
    waiting = RetryScheduled("run-1", "BUG-0002", "msg_1", 3, 30.0, 503, retry=2, retries=5)
    assert waiting.describe() == "BUG-0002: 503, retry 2 of 5 in 30 s"
    later = RetryScheduled("run-1", "BUG-0002", "msg_1", 2, 3600.0, 429, 0, 5, "2026-12-01T11:00:00Z", True)
    assert later.describe() == "BUG-0002: 429, retry (server asked to wait) scheduled at 2026-12-01T11:00:00Z"


def _sender_waiting_for_its_retry(store, data_dir, tmp_path, url: str) -> subprocess.Popen:
    """A real `cctui send` whose one record failed and now waits (in the foreground,
    within max_wait) 30 s for its retry; returned once that wait is visible in the store."""
    config = tmp_path / "waits.toml"
    config.write_text("[delivery]\nretry_schedule = [30]\njitter = 0.0\nmax_wait = 60\n", encoding="utf-8")
    [item] = add_items(store, 1)
    put_macro(store, url=url)
    sender = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "send", "hook",
                               "--item", item], env={**os.environ, **at(NOW), "CCTUI_CONFIG": str(config)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not store.retries_all() and time.monotonic() < deadline and sender.poll() is None:
        time.sleep(0.02)
    assert sender.poll() is None  # still waiting for the retry
    return sender


def test_a_retry_waited_for_in_the_foreground_survives_kill_9_and_run_due_sends_it(store, data_dir, receiver,
                                                                                    tmp_path, run_at):
    sender = _sender_waiting_for_its_retry(store, data_dir, tmp_path, receiver.url + "/status/503")
    try:
        # The wait is in the store (claimed by the sender) as the log says: "retry scheduled at T".
        [entry] = store.retries_all()
        assert entry["claimed_by"] == sender.pid and entry["attempt"] == 2
    finally:
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait()
    [logged] = json_lines(run_at(None, "logs", "--status", "retrying", "--json").out)
    assert logged["retry_at"] == entry["due"]

    put_macro(store, url=receiver.url + "/hook")  # the host answers again
    due = run_at(LATER, "run-due")  # cron: the dead sender's claim is taken over
    assert due.code == 0 and "1 delivered" in due.out, due.out + due.err
    assert list(receiver.state.by_webhook_id.values()) == [2]  # once more, same webhook-id
    assert store.retries_all() == []
    assert "Nothing to retry" in run_at(LATER, "retry", "--now").out


def test_retry_in_another_process_leaves_a_record_whose_sender_waits_for_its_retry(store, data_dir, receiver,
                                                                                    tmp_path, run_at):
    sender = _sender_waiting_for_its_retry(store, data_dir, tmp_path, receiver.url + "/status/503")
    try:
        other = run_at(NOW, "retry", "--now")  # a second terminal, or cron
        assert other.code == 0, other.out + other.err
        assert receiver.state.count == 1  # the waiting sender's record was not sent twice
    finally:
        sender.send_signal(signal.SIGTERM)  # stopped while it waits: the retry stays scheduled
        sender.wait(timeout=30)
    [entry] = store.retries_all()
    assert (entry["attempt"], entry["claimed_by"]) == (2, None)


def test_a_retry_after_date_decades_away_is_capped_at_an_hour_like_seconds(store, receiver, run_at):
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + "/status/429?retry_after=Wed,%2021%20Oct%202099%2007:28:00%20GMT")
    before = datetime.now(UTC)
    result = run_at(None, "send", "hook", "--item", item, "--json")
    assert result.code == 0, result.err
    [entry] = store.retries_all()
    due = datetime.fromisoformat(entry["due"].replace("Z", "+00:00"))
    assert due <= datetime.now(UTC) + timedelta(seconds=3601) and due >= before + timedelta(seconds=3599)


def test_two_scheduled_retries_of_one_record_deliver_it_once(store, receiver, run_at):
    # Sent twice, failed twice: two deliveries of the record wait for their retry. Like
    # `retry` for failed deliveries, run-due sends the record once (the newest delivery).
    [item] = add_items(store, 1)
    put_macro(store, url=receiver.url + UNAVAILABLE_ONCE)
    assert run_at(NOW, "send", "hook", "--item", item).code == 0
    assert run_at("2026-12-01T10:01:00Z", "send", "hook", "--item", item).code == 0
    first, second = webhook_ids(receiver)
    assert len(store.retries_all()) == 2
    due = run_at(LATER, "run-due")
    assert due.code == 0 and "1 delivered" in due.out and "1 skipped" in due.out, due.out + due.err
    assert receiver.state.by_webhook_id == {first: 1, second: 2}
    assert store.retries_all() == []
    assert [e["delivery_id"] for e in store.log_iter(status="ok")] == [second]


def test_retry_now_says_when_another_process_is_sending_the_scheduled_retries(store, run_at):
    # Two `retry --now` started at once: the loser used to answer "Nothing due: 2 retries
    # are scheduled, next at <a time already past> (`cctui retry --now` sends them now)".
    put_macro(store)
    base = {"macro": "hook", "attempt": 2, "due": NOW, "used": 1, "limited": 0, "claimed_by": os.getppid()}
    store.retry_put([{**base, "delivery_id": "msg_a", "record_id": "BUG-0001"},
                     {**base, "delivery_id": "msg_b", "record_id": "BUG-0002"}])
    out = run_at(LATER, "retry", "--now").out
    assert out.strip() == "Nothing retried: 2 scheduled retries are being sent by another cctui process now."


def test_retry_now_names_the_paused_macro_a_scheduled_retry_waits_for(store, run_at):
    put_macro(store)
    store.macro_put({**store.macro_get("hook"), "paused": True, "paused_reason": "410 Gone"})
    store.retry_put([{"macro": "hook", "attempt": 2, "due": NOW, "used": 1, "limited": 0,
                      "delivery_id": "msg_a", "record_id": "BUG-0001"}])
    out = run_at(LATER, "retry", "--now").out
    assert out.strip() == ("Nothing retried: 1 scheduled retry waits for the paused macro hook "
                           "(`cctui macro resume hook`).")


def test_run_due_stopped_with_sigterm_finishes_what_is_on_the_wire_and_sends_nothing_twice(
        store, data_dir, held_receiver, run_at, cctui_proc):
    # systemd stopping a run-due job (SIGTERM) used to kill it like kill -9: the requests
    # on the wire went out again, same webhook-id, with the next run-due.
    held = held_receiver(answer_first=6 + 2)  # the 503s, then 2 of run-due's; the next ones wait
    ids = add_items(store, 6)
    put_macro(store, url=held.url + "/status/503", concurrency=2)
    assert run_at(NOW, "send", "hook", "--all", "--max-wait", "0").code == 0
    assert len(store.retries_all()) == 6
    put_macro(store, url=held.url + "/hook", concurrency=2, timeout=60)  # the host answers again
    # 2 answered, 2 on the wire. Without a handler, SIGTERM ended the process as it was
    # delivered, before the held answers could come; with one, they finish and are logged.
    _, out, err = stopped_with_sigterm(data_dir, LATER, held, 6 + 4, "run-due")
    again = run_at(LATER, "run-due")
    assert again.code == 0, again.out + again.err
    counts = held.state.by_webhook_id
    assert sorted(counts.values()) == [2] * 6, (counts, out, err)  # the 503, then once more each
    assert store.retries_all() == [] and ids


def test_retry_stopped_with_sigterm_starts_no_other_macros_run(store, data_dir, held_receiver, run_at):
    # `cctui retry` cancelled the run on the wire at Ctrl-C/SIGTERM, then went on with the
    # next macro's scheduled retries (a new, uncancelled run): stopping it kept sending.
    held = held_receiver(answer_first=4)  # the four 503s below; every later request waits
    [first, second] = add_items(store, 2)
    put_macro(store, name="aa", url=held.url + "/status/503")
    put_macro(store, name="bb", url=held.url + "/status/503")
    assert run_at(NOW, "send", "aa", "--all", "--max-wait", "0").code == 0
    assert run_at(NOW, "send", "bb", "--all", "--max-wait", "0").code == 0
    put_macro(store, name="aa", url=held.url + "/hook", timeout=60)
    put_macro(store, name="bb", url=held.url + "/hook", timeout=60)
    _, out, err = stopped_with_sigterm(data_dir, LATER, held, 4 + 2, "retry", "--now")  # one macro's two on the wire
    assert held.state.count == 4 + 2, (out, err)  # the other macro's run never started
    # Which macro's retries go first is not fixed (same due time): the one on the wire was
    # delivered, the other's are still scheduled, for later.
    left = [e["macro"] for e in store.retries_all()]
    assert len(left) == 2 and len(set(left)) == 1, left
    assert {e["macro"] for e in store.log_iter(status="ok")} == {"aa", "bb"} - set(left)
    assert all(e.get("claimed_by") is None for e in store.retries_all())
    assert first and second


def test_run_due_stopped_while_its_schedules_run_loses_no_period_and_sends_nothing_twice(
        store, data_dir, held_receiver, run_at):
    # The schedules part of run-due died on SIGTERM like kill -9: requests on the wire went
    # out again later, and a schedule queued behind the running one lost its period.
    held = held_receiver(answer_first=2)  # two answered, the next ones wait
    ids = add_items(store, 6)
    schedule = {"every": "hourly"}
    put_macro(store, name="aa", url=held.url + "/hook", concurrency=2, timeout=60, schedule=schedule)
    put_macro(store, name="bb", url=held.url + "/hook", concurrency=2, timeout=60, schedule=schedule)
    code, out, err = stopped_with_sigterm(data_dir, NOW, held, 4, "run-due")  # 2 answered, 2 on the wire
    assert code == 1, (out, err)
    assert held.state.count == 4, (out, err)  # nothing more was sent after the stop
    runs = {r["macro"]: r for r in store.runs_all()}
    assert set(runs) == {"aa", "bb"}  # the queued schedule was saved, not lost
    assert all(r["incomplete"] for r in runs.values())
    again = run_at(NOW, "run-due")  # the periods ran: run-due does not start them again
    assert "nothing due" in again.out and held.state.count == 4
    finished = run_at(NOW, "retry")
    assert finished.code == 0, finished.out + finished.err
    assert held.state.count == 12 and sorted(held.state.by_webhook_id.values()) == [1] * 12
    assert ids
