"""A cancelled run (Ctrl-C) counts its unsent records as not sent, not failed, and
``cctui retry`` finishes it: every record delivered once, with its run's webhook-id."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from cctui.delivery import Engine, delivery_id_for
from cctui.delivery import events as ev

from .conftest import add_items, fast_config, json_lines, put_macro


def start_send(data_dir, **pipes) -> subprocess.Popen:
    """``cctui send hook --all`` as a real process (signals reach it as from a terminal)."""
    return subprocess.Popen([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "send", "hook", "--all"],
                            text=True, env={**os.environ}, **pipes)


def hold_mid_run(held, proc, wait) -> None:
    """Wait until the run is mid-way: four records answered and both workers' requests
    held on the wire, so the run cannot end before the test signals it."""
    wait(lambda: held.state.count >= 6 or proc.poll() is not None, "two requests held on the wire")
    assert proc.poll() is None and held.state.count == 6


def test_ctrl_c_reports_not_sent_separately_and_retry_finishes_the_run(store, data_dir, held_receiver,
                                                                       cctui_proc, wait):
    slow = held_receiver(answer_first=4)
    ids = add_items(store, 40)
    put_macro(store, url=slow.url + "/hook", concurrency=2)
    proc = start_send(data_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    hold_mid_run(slow, proc, wait)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    slow.state.release()  # after the signal: the two on the wire are answered and logged
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    summary_line = out.strip().splitlines()[-1]
    sent = slow.state.count
    not_sent = len(ids) - sent
    assert sent >= 6 and 0 < not_sent < len(ids)
    assert f"sent {sent}, delivered {sent}, failed 0, skipped 0, not sent {not_sent}" in summary_line
    assert f"cancelled: {not_sent} not sent; `cctui retry` finishes the run" in err
    assert "Traceback" not in err and "logs --status failed" not in err

    assert cctui_proc("logs", "--status", "failed", "--json").stdout == ""  # nothing failed
    [run] = store.runs_all()
    assert run["status"] == "cancelled" and run["incomplete"] is True

    result = cctui_proc("retry")
    assert result.returncode == 0, result.stderr
    assert f"delivered {not_sent}" in result.stdout
    per_record = Counter(json.loads(i.body)["text"].split(":")[0] for i in slow.state.received)
    assert per_record == Counter({rid: 1 for rid in ids})  # everything, exactly once
    hooks = {json.loads(i.body)["text"].split(":")[0]: i.headers["webhook-id"] for i in slow.state.received}
    assert hooks == {rid: delivery_id_for(run["id"], rid) for rid in ids}  # same run, same ids
    assert store.run_get(run["id"])["status"] == "done"
    assert "Nothing to retry" in cctui_proc("retry").stdout


def test_retry_finishes_a_run_cancelled_before_anything_was_sent(cli, store, receiver, fast_cli_config):
    ids = add_items(store, 6)
    put_macro(store, url=receiver.url + "/hook", concurrency=2)
    engine = Engine(store, fast_config())

    def cancel_at_once(event):
        if isinstance(event, ev.RunStarted):
            engine.cancel()

    summary = asyncio.run(engine.run("hook", ids, listener=cancel_at_once))
    assert (summary.sent, summary.failed, summary.not_sent, summary.cancelled) == (0, 0, 6, True)
    assert not summary.ok and receiver.state.count == 0
    assert list(store.log_iter()) == []  # nothing was tried, so nothing is in the log

    result = cli("retry")
    assert result.exit_code == 0, result.output
    assert "sent 6, delivered 6, failed 0" in result.output
    assert sorted(json.loads(i.body)["text"].split(":")[0] for i in receiver.state.received) == ids
    assert {e["trigger"] for e in json_lines(cli("logs", "--json").output)} == {"retry"}
    assert "Nothing to retry" in cli("retry").output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_polite_kill_or_a_closed_terminal_cancels_like_ctrl_c(signum, store, data_dir, held_receiver,
                                                                cctui_proc, wait):
    slow = held_receiver(answer_first=4)
    ids = add_items(store, 40)
    put_macro(store, url=slow.url + "/hook", concurrency=2)
    proc = start_send(data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hold_mid_run(slow, proc, wait)
    proc.send_signal(signum)
    slow.state.release()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "cancelled" in err, err  # not killed mid-request
    [run] = store.runs_all()
    assert run["status"] == "cancelled" and run["incomplete"] is True

    assert cctui_proc("retry").returncode == 0
    per_hook = Counter(i.headers["webhook-id"] for i in slow.state.received)
    assert len(per_hook) == len(ids) and set(per_hook.values()) == {1}  # all, none twice


def test_engine_shutdown_leaves_every_request_it_sent_logged_and_the_run_resumable(store, held_receiver, wait):
    slow = held_receiver(answer_first=3)
    ids = add_items(store, 30)
    put_macro(store, url=slow.url + "/hook", concurrency=3)
    engine = Engine(store, fast_config())

    async def go():
        task = engine.start("hook", ids)
        await wait.until(lambda: slow.state.count >= 6 or task.done(), "three requests held on the wire")
        assert not task.done() and slow.state.count == 6
        stopping = asyncio.ensure_future(engine.shutdown())  # what the TUI awaits as it quits
        # Answered only once shutdown has cancelled the run (its first step, which the loop
        # runs before this callback): the three are on the wire while it waits for them.
        asyncio.get_running_loop().call_soon(slow.state.release)
        await stopping
        assert task.done()  # the run ended within the grace time
        return task.result()

    summary = asyncio.run(go())
    assert summary.cancelled and summary.not_sent > 0
    # Requests on the wire were answered and logged, none cut off: retry will not resend them.
    assert store.log_count() == slow.state.count == summary.sent
    [run] = store.runs_all()
    assert run["status"] == "cancelled" and run["incomplete"] is True
