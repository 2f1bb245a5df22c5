"""Key-to-screen latency on the feedback screen while a 10,000-record run is sending.

Headless: a loopback receiver (the delivery area's, in its own thread), the real app, a
run of N records started through the dispatcher; meanwhile down/up keys are posted to the
app the way a terminal driver posts them, and each sample is the time from posting the
key to the first frame (see ``FrameSpy`` in ``tui.py``) whose table shows the moved
cursor. Only keys answered while the run was still sending count as "during the run".
The baseline is the same measurement with no run.

Then the same keys during a run whose body takes its whole render budget (1 s) for one
record in ten (the TUI renders a run's bodies off its event loop).

Also printed: the same keys through ``pilot.press`` (which waits for the process to look
idle: up to 1 s twice per key while a run keeps the CPU busy, so its "stalls" are the
harness, not the app), and the event loop's longest stall (a 5 ms ticker's lateness).

    .venv/bin/python benchmarks/tui_dispatch.py [--records 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tui import FrameSpy, send_key

#: A body that takes its whole render budget (1 s, then refused) for the records whose
#: id ends in 0 (one in ten of the SLOW_RECORDS sent); the others render at once.
SLOW_BODY = ('{"text": "((id))", "x": "{% if id[-1] == \'0\' %}{% for i in range(100000) %}'
             '{% for j in range(100000) %}{% endfor %}{% endfor %}{% endif %}"}')
SLOW_RECORDS = 60


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def measure(app, spy: FrameSpy, presses: int, while_running=None, gap: float = 0.03) -> list[float]:
    """Key -> frame latencies (ms); stops early once ``while_running()`` turns False."""
    table = app.screen.table
    samples = []
    for n in range(presses):
        if while_running is not None and not while_running():
            break
        key = "down" if n % 2 == 0 else "up"
        before = table.cursor_row
        spy.expect(lambda _output, before=before: table.cursor_row != before)
        began = send_key(app, key)
        hit = await spy.wait()
        if while_running is None or while_running():
            samples.append((hit - began) * 1000)
        await asyncio.sleep(gap)  # a fast typist, not a flood
    return samples


async def measure_pilot(app, pilot, presses: int, while_running=None) -> list[float]:
    table = app.screen.table
    samples = []
    for n in range(presses):
        if while_running is not None and not while_running():
            break
        before = table.cursor_row
        started = time.perf_counter()
        await pilot.press("down" if n % 2 == 0 else "up")
        while table.cursor_row == before:
            await asyncio.sleep(0)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class LoopLag:
    """The longest lateness of a 5 ms ticker: how long the loop was ever unavailable."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, (time.perf_counter() - began - 0.005) * 1000)

    def stop(self) -> float:
        self._task.cancel()
        return self.worst


async def main(records: int, presses: int) -> None:
    from cctui.config import Config
    from cctui.core.seed import seed_store
    from cctui.delivery import serve_in_background
    from cctui.macros.samples import sample_macro_dicts
    from cctui.store import open_store
    from cctui.tui.app import CctuiApp

    url, stop = serve_in_background("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "data")
        seed_store(store, records, seed=1, macros=sample_macro_dicts(url))
        store.macro_put({"name": "bench", "target": "feedback", "method": "POST",
                         "url": f"{url}/bench", "format": "json",
                         "body": '{"text": "((id)): ((title))"}', "concurrency": 16})
        ids = [r["id"] for r in store.feedback_all()]
        app = CctuiApp(store, Config(Path(tmp) / "config.toml"))
        spy = FrameSpy(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            while not app.screen.view_settled:
                await pilot.pause(0.05)
            idle = await measure(app, spy, presses)
            runs = []

            async def one_run(measure_with):
                run = app.dispatcher.start("bench", ids, trigger="bulk")
                runs.append(run)
                while run.sent < 200 and run.running:
                    await asyncio.sleep(0.01)
                lag = LoopLag()
                samples = await measure_with(lambda: run.running)
                worst_lag = lag.stop()
                while run.running:
                    await pilot.pause(0.2)
                return samples, worst_lag

            busy, lag_busy = await one_run(lambda running: measure(app, spy, presses * 10, running))
            piloted, _ = await one_run(lambda running: measure_pilot(app, pilot, presses * 10, running))
            # Bodies that spend their whole render budget (1 s) on some records: each run
            # renders on a thread of its own, so keys must not wait for a render.
            store.macro_put({"name": "bench-slow", "target": "feedback", "method": "POST",
                             "url": f"{url}/bench", "format": "json", "body": SLOW_BODY,
                             "concurrency": 4})
            slow_ids = ids[:SLOW_RECORDS]
            slow_run = app.dispatcher.start("bench-slow", slow_ids, trigger="bulk")
            while slow_run.sent < 1 and slow_run.running:
                await asyncio.sleep(0.01)
            lag = LoopLag()
            slow = await measure(app, spy, presses * 10, lambda: slow_run.running)
            lag_slow = lag.stop()
            while slow_run.running:
                await pilot.pause(0.2)
        store.close()
    stop()
    for label, samples in (("idle", idle), (f"during a {records:,}-record run", busy),
                           ("same, through pilot.press", piloted),
                           ("during a run of 1 s renders", slow)):
        print(f"{label:>32}: p50 {statistics.median(samples):6.1f} ms  p95 {percentile(samples, 95):6.1f} ms"
              f"  max {max(samples):7.1f} ms  ({len(samples)} keys)")
    print(f"{'p95 ratio busy/idle':>32}: {percentile(busy, 95) / max(percentile(idle, 95), 1e-6):.2f}x")
    print(f"{'longest event-loop stall':>32}: {lag_busy:.1f} ms (during the measured run)")
    print(f"{'longest event-loop stall':>32}: {lag_slow:.1f} ms (during the 1 s renders)")
    print(f"{'run of 1 s renders':>32}: {slow_run.delivered:,} delivered, {slow_run.failed:,} failed "
          f"(the budget refused those bodies) in {slow_run.elapsed():.1f} s")
    run = runs[0]
    print(f"{'run':>32}: {run.delivered:,} delivered, {run.failed:,} failed in {run.elapsed():.1f} s"
          f" ({run.rate():.0f} req/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--presses", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.presses))
