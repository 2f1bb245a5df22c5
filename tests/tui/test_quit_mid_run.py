"""Quitting the TUI (ctrl+q) or closing its terminal (SIGHUP) while a run is sending
leaves the run resumable, and ``cctui retry`` finishes it: every record arrives, none
twice (requests on the wire finish and are logged before the app exits).

The real ``python -m cctui`` on a pseudo-terminal; the run is a schedule that is due when
the app starts, against a slow loopback receiver.
"""

from __future__ import annotations

import os
import pty
import signal
import sys
import threading
import time
from collections import Counter

import pytest

from cctui.delivery.receiver import serve_in_background
from cctui.delivery.recovery import run_is_live
from cctui.macros.model import Macro
from cctui.store import open_store

RECORDS = 120
CONCURRENCY = 2


@pytest.fixture
def slow_receiver():
    url, stop = serve_in_background(delay=0.05)
    yield url, stop.receiver
    stop()


def _data(data_dir, url: str) -> None:
    store = open_store(data_dir)
    store.feedback_add([{"type": "Bug Report", "title": f"Crash {n}", "status": "New", "severity": "High",
                         "submitter": "ana@example.com"} for n in range(RECORDS)])
    store.macro_put(Macro.from_dict({
        "name": "hook", "url": url + "/hook", "body": '{"text": "((id))"}', "concurrency": CONCURRENCY,
        "schedule": {"every": "hourly", "filter": "status:new"},  # due as the app starts
    }).to_dict())
    store.close()


def _tui(data_dir) -> tuple[int, int, threading.Thread]:
    """``python -m cctui`` on a pty: (pid, master fd, the thread draining its screen)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the TUI
        os.environ["TERM"] = "xterm-256color"
        os.execv(sys.executable, [sys.executable, "-m", "cctui", "--data-dir", str(data_dir)])

    def drain() -> None:
        while True:
            try:
                if not os.read(fd, 65536):
                    return
            except OSError:  # the child exited, or we closed the terminal
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    return pid, fd, reader


def _wait_exit(pid: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the TUI did not exit")


def _start(data_dir, receiver) -> tuple[int, int, threading.Thread, float]:
    pid, fd, reader = _tui(data_dir)
    deadline = time.monotonic() + 60
    first = None
    while receiver.count < 20 and time.monotonic() < deadline:
        if first is None and receiver.count:
            first = time.monotonic()
        time.sleep(0.01)
    assert receiver.count >= 20, "the scheduled run did not start"
    return pid, fd, reader, first or time.monotonic()


def test_quit_mid_run_then_retry_finishes_it_with_no_duplicates(data_dir, slow_receiver, cctui_proc):
    url, receiver = slow_receiver
    _data(data_dir, url)
    pid, fd, reader, _ = _start(data_dir, receiver)
    os.write(fd, b"\x11")  # ctrl+q: "A run is sending: quit ...?"
    os.write(fd, b"y")  # yes, quit
    _wait_exit(pid)
    os.close(fd)
    reader.join(5)
    sent_before_quit = receiver.count
    assert sent_before_quit < RECORDS  # the run was cut short

    store = open_store(data_dir)
    [run] = store.runs_all()
    assert run["status"] == "cancelled" and run["incomplete"] is True, run
    assert not run_is_live(run)
    store.close()

    result = cctui_proc("retry", "--concurrency", "16")  # (it only finishes faster)
    assert result.returncode == 0, result.stderr
    assert f"delivered {RECORDS - sent_before_quit}" in result.stdout
    per_hook = Counter(receiver.by_webhook_id)
    assert len(per_hook) == RECORDS and set(per_hook.values()) == {1}  # all, each once
    assert "Nothing to retry" in cctui_proc("retry").stdout


def test_closing_the_terminal_mid_run_quits_like_ctrl_q(data_dir, slow_receiver, cctui_proc):
    url, receiver = slow_receiver
    _data(data_dir, url)
    pid, fd, reader, _ = _start(data_dir, receiver)
    os.close(fd)  # the terminal goes away ...
    os.kill(pid, signal.SIGHUP)  # ... and the session's processes hear SIGHUP
    _wait_exit(pid)
    reader.join(5)
    sent = receiver.count

    store = open_store(data_dir)
    [run] = store.runs_all()
    assert run["status"] == "cancelled" and run["incomplete"] is True, run  # not killed mid-request
    store.close()
    result = cctui_proc("retry", "--concurrency", "16")  # (it only finishes faster)
    assert result.returncode == 0, result.stderr
    assert f"delivered {RECORDS - sent}" in result.stdout
    per_hook = Counter(receiver.by_webhook_id)
    assert len(per_hook) == RECORDS and set(per_hook.values()) == {1}  # all, each once
