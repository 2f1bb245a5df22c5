"""The engine against real HTTP servers on 127.0.0.1, one behaviour per test."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter

import pytest

from cctui.delivery import Engine
from cctui.delivery import events as ev
from cctui.errors import InputError
from cctui.macros import signing

from .conftest import Collector, add_items, fast_config, put_macro


def run(store, name, ids, config=None, **kw):
    engine = Engine(store, config or fast_config())
    return asyncio.run(engine.run(name, ids, **kw))


def attempts(store, **filters):
    return list(store.log_iter(**filters))


def test_slack_rate_limit_delivers_each_record_once_with_few_429s(store, make_receiver):
    slack = make_receiver(slack_rate=40)  # one message per 25 ms, 429 + Retry-After beyond
    ids = add_items(store, 16)
    put_macro(store, url=slack.url + "/slack/hook", concurrency=4)
    started: dict[tuple[str, int], float] = {}  # (delivery id, attempt) -> when the engine sent it

    def listener(event) -> None:
        if isinstance(event, ev.AttemptStarted):
            started[(event.delivery_id, event.attempt)] = time.monotonic()

    summary = run(store, "hook", ids, listener=listener)
    assert summary.delivered == 16 and summary.failed == 0
    answered = Counter()
    for item in slack.state.received:
        answered[item.status] += 1
    per_id = Counter(i.headers["webhook-id"] for i in slack.state.received if i.status == 200)
    assert len(per_id) == 16 and set(per_id.values()) == {1}
    # The receiver judges the pace when its thread handles a request; on a loaded machine
    # requests the engine sent 25 ms or more apart can reach it closer, and bounce. Only
    # the 429s the engine earned (sent less than 25 ms after the last accepted one, by its
    # own clock) count against it. Without the learning bucket it earned 56-58 of them.
    earned, attempt_of, last_ok = 0, Counter(), None
    for item in slack.state.received:
        hook = item.headers["webhook-id"]
        attempt_of[hook] += 1
        sent_at = started[(hook, attempt_of[hook])]
        if item.status == 429 and (last_ok is None or sent_at - last_ok < 1 / 40):
            earned += 1
        elif item.status == 200:
            last_ok = sent_at
    assert earned <= 8, (earned, answered[429])  # the bucket learns the pace from the first 429s
    assert all(e["ok"] or e["status_code"] == 429 for e in attempts(store))


def test_404_is_one_attempt_with_slack_explanation(store, receiver):
    ids = add_items(store, 2)
    put_macro(store, url=receiver.url + "/slack/channel_not_found")
    summary = run(store, "hook", ids)
    assert (summary.delivered, summary.failed, summary.attempts) == (0, 2, 2)
    log = attempts(store)
    assert len(log) == 2 and {e["status_code"] for e in log} == {404}
    assert log[0]["explanation"]["title"] == "404 Not Found: channel not found"
    assert log[0]["response_body"] == "channel_not_found"


def test_410_pauses_the_macro_and_stops_the_run(store, receiver):
    ids = add_items(store, 5)
    put_macro(store, url=receiver.url + "/slack/archived", concurrency=1)
    summary = run(store, "hook", ids)
    assert summary.attempts == 1 and summary.not_sent == 4 and summary.failed == 1
    assert receiver.state.count == 1
    macro = store.macro_get("hook")
    assert macro["paused"] is True and "410" in macro["paused_reason"]
    entry = attempts(store)[0]
    assert entry["explanation"]["title"] == "410 Gone: channel archived, macro paused"
    with pytest.raises(InputError, match="paused"):
        run(store, "hook", ids)


def test_503_then_200_is_retried_and_delivered(store, receiver):
    ids = add_items(store, 1)
    put_macro(store, url=receiver.url + "/flaky/2")
    events = Collector()
    summary = run(store, "hook", ids, listener=events)
    assert summary.delivered == 1 and summary.attempts == 3
    log = sorted(attempts(store), key=lambda e: e["attempt"])
    assert [e["status_code"] for e in log] == [503, 503, 200]
    assert len({e["delivery_id"] for e in log}) == 1  # same webhook-id on every retry
    assert len(events.of(ev.RetryScheduled)) == 2
    assert len(set(receiver.state.by_webhook_id)) == 1


def test_302_is_a_failure_and_not_followed(store, receiver):
    ids = add_items(store, 1)
    put_macro(store, url=receiver.url + "/status/302")
    summary = run(store, "hook", ids)
    assert summary.failed == 1 and summary.attempts == 1
    assert [i.path for i in receiver.state.received] == ["/status/302"]
    entry = attempts(store)[0]
    assert entry["status_code"] == 302 and "URL moved" in entry["explanation"]["title"]
    assert "/moved" in entry["explanation"]["title"]


def test_server_that_never_answers_times_out_with_status_0(store, receiver):
    ids = add_items(store, 1)
    put_macro(store, url=receiver.url + "/never", timeout=0.2)
    summary = run(store, "hook", ids, config=fast_config(retry_schedule=[0.01]))
    assert summary.failed == 1 and summary.attempts == 2
    for entry in attempts(store):
        assert entry["status_code"] == 0 and entry["ok"] is False
        assert "timed out" in entry["error"]


def test_nothing_listening_is_refused(store, closed_port):
    ids = add_items(store, 1)
    put_macro(store, url=f"http://127.0.0.1:{closed_port}/hook")
    summary = run(store, "hook", ids, config=fast_config(retry_schedule=[0.01]))
    assert summary.failed == 1
    entry = attempts(store)[0]
    assert entry["status_code"] == 0 and "refused" in entry["error"]
    assert entry["explanation"]["title"] == "no response: connection refused"


def test_two_megabyte_response_is_truncated_in_the_log(store, receiver):
    ids = add_items(store, 1)
    put_macro(store, url=receiver.url + "/big/2000000")
    summary = run(store, "hook", ids)
    assert summary.delivered == 1
    entry = attempts(store)[0]
    assert len(entry["response_body"]) == 64 * 1024 and entry["response_truncated"] is True


def test_reset_mid_response_keeps_the_200_and_is_not_sent_again(store, receiver):
    # The receiver's /reset answers 200 and drops the connection mid-body: it answered.
    ids = add_items(store, 1)
    put_macro(store, url=receiver.url + "/reset")
    summary = run(store, "hook", ids, config=fast_config(retry_schedule=[0.01]))
    assert summary.delivered == 1 and summary.attempts == 1 and receiver.state.count == 1
    [entry] = attempts(store)
    assert entry["status_code"] == 200 and entry["ok"] and "mid-response" in entry["error"]


def test_signature_header_verifies(store, receiver, monkeypatch):
    key = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + key)
    ids = add_items(store, 2)
    put_macro(store, url=receiver.url + "/hook", signing_secret="${HOOK_SECRET}")
    assert run(store, "hook", ids).delivered == 2
    for item in receiver.state.received:
        assert item.headers["webhook-signature"].startswith("v1,")
        assert signing.verify("whsec_" + key, item.headers, item.body.encode())
        assert not signing.verify("whsec_" + base64.b64encode(b"x" * 32).decode(), item.headers, item.body)
    assert item.headers["User-Agent"].startswith("cctui/")


def test_return_values_and_on_success_update_the_record(store, receiver):
    ids = add_items(store, 3)
    put_macro(store, url=receiver.url + "/jira", return_values={"jira_key": "key", "jira_url": "self"},
              on_success={"status": "Escalated"})
    assert run(store, "hook", ids).delivered == 3
    keys = set()
    for record_id in ids:
        record = store.feedback_get(record_id)
        assert record["status"] == "Escalated" and record["jira_url"].endswith(record["jira_key"])
        keys.add(record["jira_key"])
    assert keys == {"CC-1", "CC-2", "CC-3"}


def test_once_per_record_skips_records_already_delivered(store, receiver):
    ids = add_items(store, 3)
    put_macro(store, url=receiver.url + "/hook", once_per_record=True)
    assert run(store, "hook", ids[:2]).delivered == 2
    summary = run(store, "hook", ids)
    assert (summary.delivered, summary.skipped) == (1, 2)
    assert receiver.state.count == 3


def test_circuit_breaker_ends_the_run_for_a_dead_host(store, closed_port):
    ids = add_items(store, 30)
    put_macro(store, url=f"http://127.0.0.1:{closed_port}/hook", concurrency=2)
    summary = run(store, "hook", ids, config=fast_config(retry_schedule=[0.01], breaker_threshold=4))
    assert summary.delivered == 0 and summary.not_sent >= 20
    assert summary.attempts <= 8
    run_doc = store.run_get(summary.run_id)
    assert run_doc["status"] == "done" and run_doc["incomplete"] is True
    assert "circuit breaker: 4 consecutive failures" in run_doc["reason"]


def test_run_is_persisted_before_the_first_request(store, receiver):
    ids = add_items(store, 1)
    put_macro(store, url=receiver.url + "/hook")
    seen = {}

    def listener(event):
        if isinstance(event, ev.AttemptStarted):
            seen["run"] = store.run_get(event.run_id)

    run(store, "hook", ids, listener=listener)
    assert seen["run"]["status"] == "running" and seen["run"]["record_ids"] == ids
    assert store.run_get(seen["run"]["id"])["status"] == "done"


def test_cancel_stops_new_attempts_and_marks_the_rest_not_sent(store, held_receiver, wait):
    slow = held_receiver(answer_first=2)  # then both workers' requests wait on the wire
    ids = add_items(store, 40)
    put_macro(store, url=slow.url + "/hook", concurrency=2)
    engine = Engine(store, fast_config())

    async def main():
        task = engine.start("hook", ids)
        await wait.until(lambda: slow.state.count >= 4 or task.done(), "two requests held mid-run")
        engine.cancel()  # mid-run: two answered, two on the wire, 36 never taken
        slow.state.release()
        return await task

    summary = asyncio.run(main())
    assert summary.cancelled and summary.delivered < 10 and summary.not_sent >= 30
    assert summary.failed == 0 and summary.sent + summary.not_sent == 40  # not sent is not failed
    assert store.run_get(summary.run_id)["status"] == "cancelled"
    assert store.run_get(summary.run_id)["incomplete"] is True
    assert slow.state.count == summary.sent


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
def test_other_httpx_transports_plug_into_the_same_seam(store, receiver, kind):
    import httpx

    from cctui.delivery.transport import make_transport

    ids = add_items(store, 3)
    put_macro(store, url=receiver.url + "/big/100000")
    engine = Engine(store, fast_config(), transport=make_transport() if kind == "aiohttp" else httpx.AsyncHTTPTransport())

    async def main():
        try:
            return await engine.run("hook", ids)
        finally:
            await engine.transport.aclose()

    assert asyncio.run(main()).delivered == 3
    entry = attempts(store)[0]
    assert len(entry["response_body"]) == 64 * 1024 and entry["response_truncated"] is True
    assert entry["request_headers"]["User-Agent"].startswith("cctui/")


def test_engine_shares_a_running_loop_with_other_work(store, make_receiver):
    """The TUI's case: the engine runs on the UI's loop; the loop keeps ticking."""
    slow = make_receiver(delay=0.05)
    ids = add_items(store, 12)
    put_macro(store, url=slow.url + "/hook", concurrency=4)
    engine = Engine(store, fast_config())
    ticks = []

    async def main():
        task = engine.start("hook", ids, trigger="bulk")
        while not task.done():
            ticks.append(1)
            await asyncio.sleep(0.01)
        return task.result()

    summary = asyncio.run(main())
    assert summary.delivered == 12 and len(ticks) >= 5
    assert {e["trigger"] for e in attempts(store)} == {"bulk"}


def test_a_return_value_that_is_an_object_is_kept_as_json_text(store, receiver, tmp_path):
    import json

    from cctui.core.exporter import export_feedback
    from cctui.core.importer import parse_file

    ids = add_items(store, 1)
    # /echo answers {"headers": {...}, "body": ..., "path": ...}: "headers" is an object
    put_macro(store, url=receiver.url + "/echo", return_values={"echoed": "headers", "path": "path"})
    assert run(store, "hook", ids).delivered == 1
    record = store.feedback_get(ids[0])
    assert record["path"] == "/echo"  # scalars as they are
    assert isinstance(record["echoed"], str)
    assert json.loads(record["echoed"])["webhook-id"]  # objects as compact JSON text
    out = tmp_path / "items.json"
    with open(out, "w", encoding="utf-8") as handle:
        export_feedback(store.feedback_all(), "json", handle)
    rows = parse_file(out, store.schema)  # and the export reads back in
    assert any(row.get("echoed") == record["echoed"] for row in rows)


@pytest.mark.parametrize(("status", "outcome"), [(200, "delivered"), (404, "failed")])
def test_an_answer_whose_body_is_cut_keeps_its_status_and_is_not_sent_again(store, status, outcome):
    # The status line came, then the connection dropped mid-body: the receiver answered,
    # so the status decides (a 2xx is delivered, never sent a second time), and the log
    # says what happened to the body.
    from .test_transport import RawServer

    ids = add_items(store, 1)

    def answer(head, body, i):
        return b"HTTP/1.1 %d X\r\nContent-Length: 100000\r\n\r\npartial" % status

    async def main():
        async with RawServer(answer, close=lambda i: True) as server:
            put_macro(store, url=server.url + "/hook")
            summary = await Engine(store, fast_config()).run("hook", ids)
            return summary, len(server.requests)

    summary, requests = asyncio.run(main())
    assert requests == 1
    assert (summary.delivered, summary.failed) == ((1, 0) if outcome == "delivered" else (0, 1))
    [entry] = attempts(store)
    assert entry["status_code"] == status and entry["ok"] is (status == 200)
    assert entry["error"].startswith(f"{status} came back, but its body could not be read: connection reset "
                                     "mid-response: received 7 of 100000 bytes")
