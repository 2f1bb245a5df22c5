"""How fast the feedback table is at 100,000 records, against a bare Textual app.

    .venv/bin/python benchmarks/tui.py [--count 100000] [--data-dir DIR] [--runs 3]

Headless (Pilot, ``App.run_test``), all in one process so the ratios compare like with
like. Measures:

* first paint: from creating the app (store already open, as ``cctui`` does before the
  app starts) to the first frame that shows record ids, versus a bare ``App`` showing one
  ``Static`` the same way; and the same plus opening the 100k-record store (target 1 s);
* filter: from the Enter key in the filter box to the table showing the new rows and
  ``N of 100,000`` (typing without Enter adds the 150 ms debounce on top);
* scroll: one ``pagedown`` to the repainted table.

Prints a table of medians and ratios. Targets: first paint <= 2.5x bare, filter <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Static

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cctui.config import Config  # noqa: E402
from cctui.core.seed import seed_store  # noqa: E402
from cctui.store import open_store  # noqa: E402
from cctui.tui.app import CctuiApp  # noqa: E402

SIZE = (120, 40)
QUERIES = ("status:new", "severity:high,critical -category:ui", "crash", "votes:>5 type:bug")


class BareApp(App):
    def compose(self) -> ComposeResult:
        yield Static("BUG-0001 hello")


async def _until(predicate, limit: float = 60.0) -> None:
    end = time.perf_counter() + limit
    while not predicate():
        if time.perf_counter() > end:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.002)


async def bare_first_paint() -> tuple[float, float]:
    """First paint of a bare app, and what one Pilot keystroke + repaint costs there."""
    start = time.perf_counter()
    app = BareApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        paint = time.perf_counter() - start
        began = time.perf_counter()
        await pilot.press("j")
        await pilot.pause()
        return paint, time.perf_counter() - began


async def cctui_run(data_dir: Path, config: Config) -> dict[str, float | list[float]]:
    began_open = time.perf_counter()
    store = open_store(data_dir)
    start = time.perf_counter()
    app = CctuiApp(store, config, data_dir=data_dir)
    result: dict[str, float | list[float]] = {"open": start - began_open}
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.screen.query("#records") and app.screen.query_one("#records").rows)
        await pilot.pause()  # the frame with the rows
        result["first_paint"] = time.perf_counter() - start
        table = app.screen.query_one("#records")
        status = app.screen.query_one("#table-status")
        assert table.rows[0]["id"] in table.render_line(1).text

        filters = []
        for query in QUERIES:
            await pilot.press("slash")
            app.screen.query_one("#filter-input").value = query  # Enter cancels the debounce
            generation = app.screen._generation
            began = time.perf_counter()
            await pilot.press("enter")
            await _until(lambda: app.screen._generation > generation and " of " in str(status.render())
                         and app.screen.query_one("#filter-bar").shown == len(table.rows))
            await _until(lambda: not app.screen.workers or all(w.is_finished for w in app.screen.workers if w.group == "view"))
            await pilot.pause()
            filters.append(time.perf_counter() - began)
        result["filters"] = filters

        app.screen.query_one("#filter-input").value = ""
        await pilot.press("slash", "enter")
        await pilot.pause(0.3)
        scrolls = []
        for _ in range(5):
            began = time.perf_counter()
            await pilot.press("pagedown")
            await pilot.pause()
            scrolls.append(time.perf_counter() - began)
        result["scroll"] = statistics.median(scrolls)
    store.close()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    temp = None
    data_dir = args.data_dir
    if data_dir is None:
        temp = tempfile.TemporaryDirectory(prefix="cctui-bench-")
        data_dir = Path(temp.name)
    store = open_store(data_dir)
    if store.feedback_count() < args.count:
        began = time.perf_counter()
        seed_store(store, args.count - store.feedback_count(), seed=7)
        print(f"seeded {args.count:,} records in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    count = store.feedback_count()
    store.close()
    config = Config(Path(tempfile.gettempdir()) / "cctui-bench-config.toml")

    bare, keys, paint, opens, filters, scroll = [], [], [], [], [], []
    for _ in range(args.runs):
        bare_paint, bare_key = await bare_first_paint()
        bare.append(bare_paint)
        keys.append(bare_key)
        run = await cctui_run(data_dir, config)
        paint.append(run["first_paint"])
        opens.append(run["open"] + run["first_paint"])
        filters.extend(run["filters"])
        scroll.append(run["scroll"])

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:,.0f} ms"

    b, p = statistics.median(bare), statistics.median(paint)
    f_med, f_max = statistics.median(filters), max(filters)
    print(f"\ncctui TUI benchmark: {count:,} feedback records, {SIZE[0]}x{SIZE[1]}, {args.runs} runs (medians)\n")
    print(f"| {'what':<44} | {'time':>9} | {'vs target':>14} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 16}|")
    print(f"| {'bare Textual app, first paint':<44} | {ms(b):>9} | {'baseline':>14} |")
    print(f"| {'cctui table with rows, first paint (app)':<44} | {ms(p):>9} | {f'{p / b:.2f}x (<=2.5x)':>14} |")
    o = statistics.median(opens)
    print(f"| {'ids on screen incl. opening the store':<44} | {ms(o):>9} | {f'{o:.2f}x of 1 s':>14} |")
    print(f"| {'filter: Enter -> table updated (median)':<44} | {ms(f_med):>9} | {f'{f_med * 10:.2f}x of 100ms':>14} |")
    print(f"| {'filter: Enter -> table updated (worst)':<44} | {ms(f_max):>9} | {f'{f_max * 10:.2f}x of 100ms':>14} |")
    k = statistics.median(keys)
    print(f"| {'bare app: one Pilot keystroke + repaint':<44} | {ms(k):>9} | {'harness cost':>14} |")
    print(f"| {'filter minus the harness keystroke (median)':<44} | {ms(f_med - k):>9} | {f'{(f_med - k) * 10:.2f}x of 100ms':>14} |")
    print(f"| {'page down -> repainted':<44} | {ms(statistics.median(scroll)):>9} | {'':>14} |")
    if temp is not None:
        temp.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
