"""`cctui export logs | head -3`: a reader that closes stdout early ends the command
quietly (exit 141, as `git log | head` does), never "the data directory: broken pipe"."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ENTRY = {"macro": "hook", "record_id": "BUG-0001", "trigger": "manual", "attempt": 1, "method": "POST",
         "url": "https://example.com/hook", "status_code": 200, "ok": True, "error": None,
         "duration_ms": 12, "started_at": "2026-11-28T11:00:00Z", "response_body": "ok " * 100}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A data directory with output far beyond a pipe's buffer for every command below."""
    from cctui.store import open_store

    data = tmp_path_factory.mktemp("pipe") / "data"
    data.mkdir(mode=0o700)
    done = subprocess.run([sys.executable, "-m", "cctui", "--data-dir", str(data), "seed", "--count", "1500"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    store = open_store(data)
    try:
        store.log_append([dict(ENTRY) for _ in range(1500)])
    finally:
        store.close()
    return data


@pytest.mark.parametrize("args", [
    ("export", "logs"), ("export", "feedback", "--format", "csv"), ("feedback", "list", "--json"),
    ("logs", "--json"), ("logs", "--limit", "1500"),
])
def test_a_reader_closing_the_pipe_early_ends_the_command_quietly(filled, args):
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(filled), *args],
                            stdout=write_end, stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:  # `head -3`: three lines, then the pipe closes
        for _ in range(3):
            assert reader.readline()
    _, err = proc.communicate(timeout=120)
    assert err == "", err  # no "the data directory: broken pipe", no "Exception ignored"
    assert proc.returncode == 141
