"""A record whose request fails to render is logged (no request sent) and ``retry``
renders it again with the macro as it is then: the log is the single source of truth."""

from __future__ import annotations

import json

from cctui.delivery.attempt import NOT_SENT_RENDER

from .conftest import add_items, json_lines, put_macro

BROKEN = '{"x": ((10 // (votes - 2)))}'  # divides by zero for the record with 2 votes


def test_render_failure_is_logged_and_retry_sends_it_after_the_macro_is_fixed(cli, store, receiver,
                                                                             fast_cli_config):
    ids = add_items(store, 4)  # votes 0..3
    put_macro(store, name="jk", url=receiver.url + "/hook", body=BROKEN)
    sent = cli("send", "jk", "--all")
    assert sent.exit_code == 1
    assert "delivered 3, failed 1" in sent.output
    assert receiver.state.count == 3

    failed = json_lines(cli("logs", "--status", "failed", "--json").output)
    assert [e["record_id"] for e in failed] == [ids[2]]
    entry = failed[0]
    assert entry["status_code"] == 0 and entry["ok"] is False and entry["not_sent"] is True
    assert "failed to render" in entry["error"] and "division" in entry["error"]
    assert entry["explanation"]["title"] == NOT_SENT_RENDER
    assert entry["url"] == receiver.url + "/hook" and entry["trigger"] == "bulk"
    assert NOT_SENT_RENDER in cli("logs").output

    # Still broken: retry says why, sends nothing and leaves the failure to retry later.
    still = cli("retry")
    assert still.exit_code == 1 and "failed to render" in still.output
    assert receiver.state.count == 3

    put_macro(store, name="jk", url=receiver.url + "/hook", body='{"x": ((votes))}')  # fixed
    fixed = cli("retry")
    assert fixed.exit_code == 0, fixed.output
    assert "delivered 1" in fixed.output
    assert receiver.state.count == 4
    assert json.loads(list(receiver.state.received)[-1].body) == {"x": 2}
    last = json_lines(cli("logs", "--item", ids[2], "--json").output)[0]
    assert last["ok"] and last["trigger"] == "retry" and last["delivery_id"] == entry["delivery_id"]
    assert "Nothing to retry" in cli("retry").output
