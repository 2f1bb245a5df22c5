"""Key-to-screen latency on the feedback screen while a 10,000-record run is sending.

Headless Pilot: a loopback receiver (the delivery area's, in its own thread), the real
app, a run of N records started through the dispatcher; meanwhile down/up keys are pressed
on the feedback table and the time from ``pilot.press`` to the table's cursor having moved
(and the screen refreshed) is measured. The baseline is the same measurement with no run.

    .venv/bin/python benchmarks/tui_dispatch.py [--records 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def measure(app, pilot, presses: int) -> list[float]:
    table = app.screen.table
    samples = []
    for n in range(presses):
        key = "down" if n % 2 == 0 else "up"
        before = table.cursor_row
        started = time.perf_counter()
        await pilot.press(key)  # returns once the key has been processed
        while table.cursor_row == before:
            await asyncio.sleep(0)
        samples.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)  # a fast typist, not a flood
    return samples


async def main(records: int, presses: int) -> None:
    from cctui.config import Config
    from cctui.core.seed import seed_store
    from cctui.delivery import serve_in_background
    from cctui.store import open_store
    from cctui.tui.app import CctuiApp

    url, stop = serve_in_background("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "data")
        seed_store(store, records, seed=1, base_url=url)
        store.macro_put({"name": "bench", "target": "feedback", "method": "POST",
                         "url": f"{url}/bench", "format": "json",
                         "body": '{"text": "((id)): ((title))"}', "concurrency": 16})
        ids = [r["id"] for r in store.feedback_all()]
        app = CctuiApp(store, Config(Path(tmp) / "config.toml"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            await app.workers.wait_for_complete()
            idle = await measure(app, pilot, presses)
            run = app.dispatcher.start("bench", ids, trigger="bulk")
            while run.sent < 200 and run.running:
                await pilot.pause(0.05)
            busy = await measure(app, pilot, presses)
            sent_during = run.sent
            while run.running:
                await pilot.pause(0.2)
        store.close()
    stop()
    for label, samples in (("idle", idle), (f"during a {records:,}-record run", busy)):
        print(f"{label:>32}: p50 {statistics.median(samples):6.1f} ms  p95 {percentile(samples, 95):6.1f} ms"
              f"  max {max(samples):6.1f} ms  ({len(samples)} keys)")
    print(f"{'p95 ratio busy/idle':>32}: {percentile(busy, 95) / max(percentile(idle, 95), 1e-6):.2f}x")
    print(f"{'run':>32}: {run.delivered:,} delivered, {run.failed:,} failed in {run.elapsed():.1f} s"
          f" ({run.rate():.0f} req/s); {sent_during:,} sent while keys were measured")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--presses", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.presses))
