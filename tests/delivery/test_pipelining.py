"""A bulk run sends first and keeps its books after (cctui.delivery.afterwrites): a
delivery's log entry, counts and the next record's rendering wait until the wave's
requests are written. Nothing may be lost, doubled or reported before it is on disk."""

from __future__ import annotations

import asyncio

import pytest

from cctui.delivery import Engine
from cctui.delivery import events as ev
from cctui.delivery.afterwrites import AfterWrites

from .conftest import Collector, add_items, fast_config, put_macro

BROKEN = '{"x": ((10 // (votes - 7)))}'  # divides by zero for the record with 7 votes


def test_bookkeeping_runs_after_the_writes_started_in_the_same_turn():
    # aiohttp starts a request's writer task in the turn that asks for the request; the
    # bookkeeping queued before it in that turn must still run after it.
    order: list[str] = []

    async def scenario() -> None:
        later = AfterWrites()
        later.defer(lambda: order.append("books 1"))

        async def write(n: int) -> None:
            order.append(f"write {n}")

        first = asyncio.create_task(write(1))
        later.defer(lambda: order.append("books 2"))
        second = asyncio.create_task(write(2))
        await asyncio.gather(first, second)
        for _ in range(3):
            await asyncio.sleep(0)

    asyncio.run(scenario())
    assert order == ["write 1", "write 2", "books 1", "books 2"]


def test_flush_runs_what_is_queued_now_and_check_raises_an_error_once():
    done: list[int] = []

    def broken() -> None:
        raise RuntimeError("log entry could not be built")

    async def scenario() -> None:
        later = AfterWrites()
        later.defer(lambda: done.append(1))
        later.defer(broken)
        later.defer(lambda: done.append(3))  # an error does not drop the calls after it
        later.flush()
        assert done == [1, 3]
        with pytest.raises(RuntimeError, match="could not be built"):
            later.check()
        later.check()  # raised once

    asyncio.run(scenario())


def test_a_pipelined_run_logs_every_record_once_and_reports_only_what_is_on_disk(store, receiver):
    # Enough records for each worker to take many, so most are rendered ahead; one fails
    # to render, one was delivered before (once_per_record), and one does not exist.
    ids = add_items(store, 59)  # votes 0..58
    ids.insert(40, "BUG-9999")
    put_macro(store, url=receiver.url + "/hook", body=BROKEN, concurrency=3, once_per_record=True)
    engine = Engine(store, fast_config())
    first = asyncio.run(engine.run("hook", [ids[3]]))
    assert first.delivered == 1
    on_disk_at_report: list[bool] = []
    events = Collector()

    def listener(event) -> None:
        events(event)
        if isinstance(event, ev.RecordDone) and event.outcome == ev.DELIVERED:
            # "delivered" is reported only once its log entry is durable: readable now.
            on_disk_at_report.append(any(e["ok"] for e in store.log_iter(record_id=event.record_id)))

    summary = asyncio.run(engine.run("hook", ids, listener=listener))
    assert (summary.delivered, summary.failed, summary.skipped) == (57, 2, 1)
    assert summary.delivered + summary.failed + summary.skipped + summary.not_sent == 60
    done = events.of(ev.RecordDone)
    assert sorted(e.record_id for e in done) == sorted(ids)  # each record reported once
    assert on_disk_at_report == [True] * 57
    by_id = receiver.state.by_webhook_id
    assert receiver.state.count == 58 and len(by_id) == 58  # 57 + the earlier one, none twice
    entries = list(store.log_iter(run_id=summary.run_id))
    assert len(entries) == 58 and len({e["record_id"] for e in entries}) == 58  # sent, or failed to render
    failed = {e["record_id"]: e["error"] for e in entries if not e["ok"]}
    assert set(failed) == {ids[7]} and "division" in failed[ids[7]]
    missing = next(e for e in done if e.record_id == ids[40])
    assert missing.outcome == ev.FAILED and "not found" in missing.error


def test_a_cancelled_pipelined_run_sends_nothing_twice_on_retry(store, held_receiver):
    held = held_receiver(answer_first=10)
    ids = add_items(store, 40)
    put_macro(store, url=held.url + "/hook", concurrency=4)
    engine = Engine(store, fast_config())

    async def scenario() -> ev.RunSummary:
        run = asyncio.create_task(engine.run("hook", ids))
        while held.state.count < 14:  # 10 answered, 4 held on the wire
            await asyncio.sleep(0.01)
        engine.cancel()
        await asyncio.sleep(0)
        held.state.release()
        return await run

    summary = asyncio.run(scenario())
    assert summary.cancelled and summary.delivered == 14 and summary.not_sent == 26
    assert held.state.count == 14
    again = asyncio.run(engine.retry())
    assert again.delivered == 26
    assert held.state.count == 40 and max(held.state.by_webhook_id.values()) == 1
