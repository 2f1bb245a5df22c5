"""A full disk, for real: a small tmpfs holds the data directory, a ballast file takes
what is left, and the real CLI runs in a subprocess.

Promised: one sentence on stderr naming the file, exit 1, no temp file left behind, the
data already saved intact; a ``send`` that cannot write its log stops at once, and after
space is freed ``cctui retry`` finishes its run.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cctui.delivery.receiver import serve_in_background
from cctui.macros.model import Macro
from cctui.store import open_store

CONCURRENCY = 2
WINDOW = 0.15  # a log write waits at most ~100 ms, plus its write and fsync


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs (Linux, root): skipped, with the reason, where it cannot be mounted."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}); "
                    "tests/store/test_store_concurrency.py injects ENOSPC instead")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Take all the free space of ``disk`` but ``leave`` bytes with a ballast file."""
    ballast = disk / "ballast"
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with open(ballast, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return ballast


def cctui(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=timeout)


def temp_files(data_dir: Path) -> list[str]:
    return [p.name for p in data_dir.rglob("*") if ".tmp-" in p.name]


def items(count: int) -> list[dict]:
    return [{"type": "Bug Report", "title": f"Crash #{n} when saving a file named \"{n}.txt\"",
             "status": "New", "severity": "High", "submitter": "ana@example.com",
             "description": "Steps: open, type, save.\n" * 4} for n in range(count)]


def test_a_write_that_does_not_fit_leaves_no_temp_file_and_the_data_intact(small_disk):
    data_dir = small_disk / "data"
    store = open_store(data_dir)
    store.feedback_add(items(300))
    before = store.feedback_all()
    store.close()
    source = small_disk.parent / "more.json"  # the import file lives off the small disk
    source.write_text(json.dumps(items(3000)), encoding="utf-8")
    fill(small_disk, 64 * 1024)

    # 3,000 new items on 300: the import is written as a new snapshot (temp file + rename)
    result = cctui(data_dir, "import", str(source))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "records.json" in lines[0] and "the disk is full" in lines[0]
    assert temp_files(data_dir) == []
    again = open_store(data_dir)
    assert again.feedback_all() == before  # all or nothing: nothing of the import, nothing lost
    again.close()


def test_send_that_cannot_write_its_log_stops_at_once_and_retry_finishes_later(small_disk):
    url, stop = serve_in_background(delay=0.004)
    receiver = stop.receiver
    try:
        data_dir = small_disk / "data"
        store = open_store(data_dir)
        ids = [r["id"] for r in store.feedback_add(items(1500))]
        store.macro_put(Macro.from_dict({"name": "hook", "url": url + "/hook", "concurrency": CONCURRENCY,
                                         "body": '{"text": "((id)): ((title))", "more": "((description))"}'})
                        .to_dict())
        before = store.feedback_all()
        store.close()
        ballast = fill(small_disk, 300 * 1024)  # the run record fits, ~200 log entries do

        proc = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "send", "hook",
                                 "--all"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while receiver.count == 0 and proc.poll() is None:
            time.sleep(0.002)
        first = time.monotonic()  # sending started (the process took a moment to start)
        _, stderr = proc.communicate(timeout=120)
        took = time.monotonic() - first
        assert proc.returncode == 1, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in stderr, stderr
        assert "the disk is full" in lines[0] and "cctui retry" in lines[0]
        assert temp_files(data_dir) == []

        store = open_store(data_dir)
        logged = store.log_count()
        assert logged > 0
        sent = receiver.count
        assert sent < len(ids) / 2  # it stopped: it did not go on through the 1,500
        # What was sent and not logged: the flush that failed (~100 ms of sends) and the
        # requests in flight when it did; nothing after.
        rate = sent / took
        assert sent - logged <= CONCURRENCY + math.ceil(rate * WINDOW) + CONCURRENCY, (sent, logged, rate)
        assert store.feedback_all() == before  # the records are intact
        store.close()

        ballast.unlink()  # space again: retry finishes the run
        again = cctui(data_dir, "retry", "--concurrency", "16")
        assert again.returncode == 0, again.stderr
        per_hook = Counter(receiver.by_webhook_id)
        assert len(per_hook) == len(ids)  # every record arrived
        # resent: only what was sent but never logged
        assert sum(n - 1 for n in per_hook.values()) <= sent - logged
    finally:
        stop()
