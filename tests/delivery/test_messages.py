"""Messages name the real macro and the real command to run next."""

from __future__ import annotations

from .conftest import add_items, put_macro


def test_paused_macro_error_names_macro_resume(cctui_proc, store, receiver):
    add_items(store, 1)
    put_macro(store, name="slack-bugs", url=receiver.url + "/hook")
    store.macro_update("slack-bugs", {"paused": True, "paused_reason": "410 Gone: channel archived"})
    result = cctui_proc("send", "slack-bugs", "--all")
    assert result.returncode == 2
    assert "`cctui macro resume slack-bugs`" in result.stderr and "adding it again" not in result.stderr
    assert cctui_proc("macro", "resume", "slack-bugs").returncode == 0
    assert cctui_proc("send", "slack-bugs", "--all").returncode == 0


def test_failed_triggered_run_names_the_macro_in_the_logs_hint(cctui_proc, store, receiver):
    put_macro(store, name="on-submit", url=receiver.url + "/status/400", trigger={"on": ["submit"]})
    result = cctui_proc("feedback", "add", "--type", "bug", "--title", "Crash on save")
    assert result.returncode == 1
    assert "see `cctui logs --macro on-submit`" in result.stderr and "NAME" not in result.stderr
