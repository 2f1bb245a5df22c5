"""Acceptance: real processes sharing one data directory, and real SIGKILLs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from cctui.core.records import Schema
from cctui.store import open_store

WORKER = str(Path(__file__).with_name("store_worker.py"))
EDITS = 120


def _env() -> dict:
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _wait_ready(procs: list[subprocess.Popen]) -> None:
    """Block until each worker printed "ready" (its first line), or fail with its stderr."""
    for proc in procs:
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read()


def test_two_processes_editing_at_once_lose_nothing(data_dir):
    schema = Schema()
    store = open_store(data_dir)
    store.feedback_add([schema.feedback({"type": "bug", "title": t}) for t in ("shared", "one", "two")])
    start = data_dir.parent / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "increment", str(data_dir), "BUG-0001", own, str(EDITS), str(start)],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for own in ("BUG-0002", "BUG-0003")
    ]
    _wait_ready(procs)  # both imported and opened the store: now the race starts
    start.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    # this process sees the others' commits on its next read
    assert store.feedback_get("BUG-0001")["votes"] == 2 * EDITS
    assert store.feedback_get("BUG-0002")["steps"] == f"step {EDITS}"
    assert store.feedback_get("BUG-0003")["steps"] == f"step {EDITS}"
    assert store.log_count() == 2 * EDITS
    ids = {e["id"] for e in store.log_iter()}
    assert len(ids) == 2 * EDITS  # log ids never collide between writers
    fresh = open_store(data_dir)  # and the files load from scratch
    assert fresh.feedback_get("BUG-0001")["votes"] == 2 * EDITS
    assert fresh.feedback_count() == 3


def test_two_processes_running_feedback_set_in_loops(data_dir):
    schema = Schema()
    open_store(data_dir).feedback_add([schema.feedback({"type": "bug", "title": "shared"})])
    start = data_dir.parent / "go-cli"
    count = 40
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "cli-set", str(data_dir), "BUG-0001", field, str(count), str(start)],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for field in ("count_a", "count_b")
    ]
    _wait_ready(procs)
    start.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    record = open_store(data_dir).feedback_get("BUG-0001")
    # both processes edited the same record; neither's last edit was overwritten
    assert (record["count_a"], record["count_b"]) == (count, count)


def test_sigkill_during_large_writes_keeps_committed_data(data_dir):
    batch = 2000
    rng = random.Random(7)
    acknowledged = 0
    for _round in range(4):
        proc = subprocess.Popen(
            [sys.executable, WORKER, "bulk", str(data_dir), str(batch)],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = proc.stdout.readline()  # at least one commit acknowledged in this round
        assert line.strip(), proc.stderr.read()
        acknowledged = int(line)
        time.sleep(rng.uniform(0.0, 0.25))  # then kill it somewhere inside a later write
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        for later in out.split():
            acknowledged = int(later)
        assert proc.returncode == -signal.SIGKILL
        store = open_store(data_dir)
        count = store.feedback_count()
        assert count >= acknowledged  # nothing acknowledged is lost
        assert count % batch == 0  # a batch is all there or not at all
        ids = [r["id"] for r in store.feedback_all()]
        assert len(set(ids)) == len(ids)
    store = open_store(data_dir)
    before = store.feedback_count()
    store.feedback_update([store.feedback_all()[-1]["id"]], {"votes": 99})  # still writable
    assert open_store(data_dir).feedback_count() == before
