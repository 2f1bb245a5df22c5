"""A running engine stamps its run's ``heartbeat_at``; ``run_is_live`` reads it, and
``cctui retry`` never resumes a run another process is still sending."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest

from cctui.core.clock import iso, now, parse_iso
from cctui.delivery import Engine
from cctui.delivery.recovery import LIVE_WITHIN, machine_id, plan_retry, run_is_live
from cctui.store import open_store

from .conftest import add_items, fast_config, put_macro

DEAD_PID = 999_999_999  # above pid_max: no such process


def ago(seconds: float) -> str:
    return iso(now() - timedelta(seconds=seconds))


def a_run(**fields) -> dict:
    return {"id": "run-x", "status": "running", "pid": os.getpid(), "host": machine_id(),
            "heartbeat_at": ago(1), **fields}


@pytest.mark.parametrize("fields, live", [
    ({}, True),                                                    # this process, fresh beat
    ({"heartbeat_at": ago(LIVE_WITHIN + 5)}, False),               # the engine stopped beating
    ({"heartbeat_at": None}, False),                               # never beat (older cctui)
    ({"heartbeat_at": "not a time"}, False),
    ({"status": "done"}, False),
    ({"status": "cancelled"}, False),
    ({"pid": DEAD_PID}, False),                                    # killed here: no 15 s wait
    ({"pid": DEAD_PID, "host": "elsewhere/boot"}, True),           # another machine: beat only
    ({"pid": DEAD_PID, "host": "elsewhere/boot", "heartbeat_at": ago(60)}, False),
])
def test_run_is_live(fields, live):
    assert run_is_live(a_run(**fields)) is live


def test_run_is_live_takes_the_moment_to_judge_at():
    run = a_run(heartbeat_at="2026-11-28T12:00:00Z")
    assert run_is_live(run, now=parse_iso("2026-11-28T12:00:10Z"))
    assert not run_is_live(run, now=parse_iso("2026-11-28T12:00:20Z"))


def test_engine_beats_while_running_and_stops_when_done(store, make_receiver):
    slow = make_receiver(delay=0.05)
    ids = add_items(store, 12)
    put_macro(store, url=slow.url + "/hook", concurrency=1)
    beats: list[tuple[float, dict]] = []
    real_beat = store.run_beat

    def spy(run_id, at):  # pass-through: records what the engine writes, and when
        beats.append((time.monotonic(), store.run_get(run_id)))
        return real_beat(run_id, at)

    store.run_beat = spy
    started = time.monotonic()
    summary = asyncio.run(Engine(store, fast_config(), heartbeat_every=0.1).run("hook", ids))
    elapsed = time.monotonic() - started
    assert summary.delivered == len(ids)
    assert len(beats) >= 2  # a ~0.6 s run at one beat per 0.1 s
    # Cheap: one write per interval, never one per request.
    assert len(beats) <= elapsed / 0.1 + 1
    assert all(run["status"] == "running" for _at, run in beats)
    [run] = store.runs_all()
    assert run["status"] == "done" and run["host"] == machine_id()
    assert parse_iso(run["heartbeat_at"])  # ISO 8601 UTC
    assert not run_is_live(run)


def test_a_run_live_on_another_machine_is_not_resumed_even_if_its_pid_is_free_here(store):
    ids = add_items(store, 3)
    put_macro(store)
    base = {"macro": "hook", "trigger": "bulk", "record_ids": ids, "status": "running", "pid": DEAD_PID,
            "started": ago(30), "host": "other-box/1234"}
    live = store.run_create({**base, "heartbeat_at": ago(2)})
    assert plan_retry(store) == []  # its pid means nothing here; its heartbeat is fresh
    store.run_update(live, {"heartbeat_at": ago(LIVE_WITHIN + 1)})
    [plan] = plan_retry(store)  # the other machine stopped beating: finish it here
    assert plan.run_id == live and plan.record_ids == ids


def test_a_run_from_before_a_reboot_is_resumed_though_its_pid_is_taken_again(store):
    ids = add_items(store, 2)
    put_macro(store)
    run_id = store.run_create({"macro": "hook", "trigger": "bulk", "record_ids": ids, "status": "running",
                               "pid": os.getppid(), "started": ago(600), "heartbeat_at": ago(590),
                               "host": machine_id().split("/")[0] + "/an-older-boot"})
    [plan] = plan_retry(store)
    assert plan.run_id == run_id


def test_retry_in_a_second_process_leaves_a_live_run_alone(store, data_dir, held_receiver, cctui_proc):
    held = held_receiver()  # holds every request until released: the run stays open meanwhile
    ids = add_items(store, 200)
    put_macro(store, url=held.url + "/hook", concurrency=2, timeout=120)
    sender = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "send", "hook",
                               "--all"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while held.state.count < 2 and time.monotonic() < deadline and sender.poll() is None:
            time.sleep(0.01)
        assert held.state.count == 2, "the sender never had its two requests in flight"
        [run] = store.runs_all()
        assert run_is_live(run), run
        result = cctui_proc("retry")  # a second process, while the first one sends
        assert result.returncode == 0, result.stderr
        assert "Nothing to retry" in result.stdout
        assert sender.poll() is None  # the run was still going: the check meant something
        assert held.state.count == 2  # and the retry sent nothing of it
    finally:
        sender.send_signal(signal.SIGINT)  # Ctrl-C: in-flight requests finish, the rest stays for a retry
        held.state.release()
        _, err = sender.communicate(timeout=60)
    assert sender.returncode == 1, err  # cancelled
    per_record = Counter(item.headers["webhook-id"] for item in held.state.received)
    assert set(per_record.values()) == {1}  # nothing was sent twice
    assert len(per_record) < len(ids)
    assert not run_is_live(store.run_get(run["id"]))


def test_a_beat_is_a_few_bytes_even_for_a_run_of_100k_records(store, data_dir):
    ids = [f"BUG-{n:06d}" for n in range(100_000)]
    run_id = store.run_create({"macro": "hook", "record_ids": ids, "status": "running",
                               "heartbeat_at": "2026-11-28T12:00:00Z"})
    snapshot = (data_dir / "meta.json").stat().st_size
    journal = data_dir / "meta.journal"
    before = journal.stat().st_size if journal.exists() else 0
    store.run_beat(run_id, "2026-11-28T12:00:02Z")
    store.run_beat(run_id, "2026-11-28T12:00:04Z")
    assert journal.stat().st_size - before < 400  # two small journal lines ...
    assert (data_dir / "meta.json").stat().st_size == snapshot  # ... and no 1 MB rewrite
    again = open_store(data_dir)  # another process sees it
    assert again.run_get(run_id)["heartbeat_at"] == "2026-11-28T12:00:04Z"
    assert [r["heartbeat_at"] for r in again.runs_all()] == ["2026-11-28T12:00:04Z"]
    store.run_update(run_id, {"status": "done"})  # closing the run keeps its last beat
    assert open_store(data_dir).run_get(run_id)["heartbeat_at"] == "2026-11-28T12:00:04Z"


def test_the_flush_that_closes_a_run_beats_before_closing_it(store):
    # The run's last flush writes its "done" and may be due a beat too. A beat written
    # after the close would stamp a finished run as alive; none comes after it.
    # (heartbeat_every=0: a beat is due at every turn of the thread, so one would show.)
    from cctui.delivery.recorder import Recorder

    run_id = store.run_create({"macro": "hook", "record_ids": [], "status": "running"})
    seen: list[str] = []

    def beat() -> None:
        seen.append(store.run_get(run_id)["status"])
        store.run_beat(run_id, iso())

    async def go() -> None:
        recorder = Recorder(store, macro="hook", heartbeat=beat, heartbeat_every=0.0)
        await asyncio.sleep(0.05)  # the idle thread beats meanwhile (a beat is due at every turn)
        recorder.hand_over()
        await asyncio.to_thread(recorder.close, lambda: store.run_update(run_id, {"status": "done"}))

    asyncio.run(go())
    assert seen and set(seen) == {"running"}, seen
    assert store.run_get(run_id)["status"] == "done"
