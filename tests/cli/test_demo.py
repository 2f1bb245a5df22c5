"""``cctui demo`` (issue 11, defect 13): --data-dir as its help says, one receiver port per
demo dir, no write to the user's config, and no temp dir left behind."""

from __future__ import annotations

import os
import pty
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from cctui.store import open_store


@pytest.fixture
def no_tui(monkeypatch):
    """``cctui demo`` up to the point where the TUI would start; what it was given."""
    import cctui.cli.tui as tui

    seen: list[dict] = []

    def fake_open_tui(ctx, **kwargs):
        store = ctx.store
        seen.append({"data_dir": Path(ctx.data_dir), "kwargs": kwargs,
                     "urls": {m["name"]: m["url"] for m in store.macros_all()},
                     "count": store.feedback_count()})

    monkeypatch.setattr(tui, "open_tui", fake_open_tui)
    return seen


def test_demo_data_dir_option_is_used_and_keeps_its_receiver_port(run, tmp_path, no_tui, monkeypatch):
    monkeypatch.setenv("CCTUI_CONFIG", str(tmp_path / "cfg" / "config.toml"))
    demo_dir = tmp_path / "my-demo"
    assert run("demo", "--data-dir", str(demo_dir), "--count", "20").code == 0
    first = no_tui[-1]
    assert first["data_dir"] == demo_dir and first["count"] == 20
    assert first["kwargs"] == {"remember_theme": False}
    # A macro made in the first session (pointing at that session's receiver) ...
    store = open_store(demo_dir)
    store.macro_put({**store.macro_get("slack-bugs"), "name": "mine"})
    store.close()
    assert run("demo", "--data-dir", str(demo_dir), "--count", "20").code == 0
    second = no_tui[-1]
    assert second["count"] == 20  # reused, not seeded again
    assert second["urls"] == {**first["urls"], "mine": first["urls"]["slack-bugs"]}  # same port
    # ... and the global option, before the subcommand, means the same.
    assert run("--data-dir", str(demo_dir), "demo").code == 0
    assert no_tui[-1]["data_dir"] == demo_dir and no_tui[-1]["urls"] == second["urls"]


def _demo_on_a_pty(tmp: Path) -> tuple[int, int, bytearray]:
    """The demo on a pseudo-terminal: (pid, master fd, what it has drawn so far)."""
    screen = bytearray()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the demo, its temp dir under ``tmp``
        os.environ.update(TERM="xterm-256color", TMPDIR=str(tmp), CCTUI_CONFIG=str(tmp / "config.toml"))
        os.execv(sys.executable, [sys.executable, "-m", "cctui", "demo", "--count", "30"])

    def drain() -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    return pid, fd, screen


def _wait(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_demo_temp_dir_is_removed_when_the_terminal_goes(tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # One left by a demo that was killed with SIGKILL (its pid is gone): removed at start.
    stale = tmp / "cctui-demo-stale"
    stale.mkdir()
    (stale / "demo.pid").write_text("999999999")
    pid, fd, screen = _demo_on_a_pty(tmp)
    try:
        _wait(lambda: b"of 30" in screen, "the demo's table on screen")  # the app is up
        assert not stale.exists()
        [demo_dir] = [p for p in tmp.glob("cctui-demo-*")]
        os.kill(pid, sig)
        _wait(lambda: os.waitpid(pid, os.WNOHANG)[0] != 0, "the demo to exit", timeout=30)
        pid = 0
        assert not demo_dir.exists()
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
