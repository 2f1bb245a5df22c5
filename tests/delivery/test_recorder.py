"""The recorder's promises, on a real store: an attempt is on disk at most ``interval``
after it was queued (by time, even while attempts keep streaming in), and
``after_durable`` callbacks run only once what came before them is on disk."""

from __future__ import annotations

import asyncio
import time

from cctui.delivery.recorder import Recorder

from .conftest import Lateness

INTERVAL = 0.4
#: The write's own Python overhead around the measured lateness (below).
EPSILON = 0.02


def entry(n: int) -> dict:
    return {"macro": "hook", "record_id": f"BUG-{n:04d}", "attempt": 1, "ok": True, "status_code": 200}


def test_every_attempt_is_written_within_the_interval_while_attempts_keep_coming(store):
    queued: dict[str, float] = {}
    waits: list[float] = []  # from queued to the start of its write
    writes: list[float] = [0.0]  # how long each write (append + fsync) took
    real_append = store.log_append

    def spy(entries):  # pass-through: when the write of each entry began, after how long
        began = time.monotonic()
        waits.extend(began - queued[e["record_id"]] for e in entries)
        real_append(entries)
        writes.append(time.monotonic() - began)

    store.log_append = spy

    async def stream() -> None:
        recorder = Recorder(store, macro="hook", interval=INTERVAL)
        for n in range(150):  # a steady 200 attempts/s for 0.75 s, never a pause
            e = entry(n)
            queued[e["record_id"]] = time.monotonic()
            recorder.attempt(e)
            await asyncio.sleep(0.005)
        recorder.hand_over()
        await asyncio.to_thread(recorder.close)

    with Lateness() as late:
        asyncio.run(stream())
    assert len(waits) == 150 and store.log_count() == 150
    # Without the time bound a stream would wait for 500 entries; with a bound counted
    # from when the thread first saw an entry (not when it was queued) it waited 1.5x.
    # The thread may wake as late as any thread of this process did meanwhile, and an
    # entry queued during a write waits for that write's fsync (slow on a busy disk).
    bound = INTERVAL + late.worst + max(writes) + EPSILON
    assert max(waits) <= bound, (f"an attempt waited {max(waits):.3f} s for its write to start "
                                 f"(interval {INTERVAL} s, threads woke up to {late.worst:.3f} s late, "
                                 f"the slowest write took {max(writes):.3f} s)")


def test_after_durable_runs_once_everything_before_it_is_on_disk(store):
    seen: list[tuple[int, int]] = []  # (callback number, entries on disk when it ran)

    async def go() -> None:
        recorder = Recorder(store, macro="hook", interval=0.05)
        for n in range(5):
            recorder.attempt(entry(n))
            recorder.after_durable(lambda n=n: seen.append((n, store.log_count())))
        assert seen == []  # nothing is on disk yet, so nothing is acknowledged
        recorder.hand_over()
        await asyncio.to_thread(recorder.close)
        recorder.release()

    asyncio.run(go())
    assert [n for n, _ in seen] == [0, 1, 2, 3, 4]  # in order
    assert all(on_disk >= n + 1 for n, on_disk in seen)


def test_after_a_failed_write_nothing_more_is_acknowledged(store, wait):
    from cctui.errors import StoreWriteError

    seen: list[int] = []
    errors: list[BaseException] = []
    real_append = store.log_append
    calls = {"n": 0}

    def full_once(entries):
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoreWriteError("cannot write logs/seg-000001.jsonl: the disk is full.")
        real_append(entries)

    store.log_append = full_once

    async def go() -> None:
        recorder = Recorder(store, macro="hook", interval=0.02, on_error=errors.append)
        recorder.attempt(entry(1))
        recorder.after_durable(lambda: seen.append(1))
        recorder.hand_over()
        await wait.until(lambda: errors, "the recorder to report the failed write")
        recorder.attempt(entry(2))  # this one is written: the disk had room again
        recorder.after_durable(lambda: seen.append(2))
        recorder.hand_over()
        await asyncio.to_thread(recorder.close)
        recorder.release()
        assert isinstance(recorder.error, StoreWriteError)

    asyncio.run(go())
    assert len(errors) == 1  # the engine hears once, and stops sending
    assert seen == []  # entry 1 was lost: neither it nor anything after it is acknowledged
