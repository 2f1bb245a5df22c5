"""How fast the feedback table is at 100,000 records, against a bare Textual app.

    .venv/bin/python benchmarks/tui.py [--count 100000] [--data-dir DIR] [--runs 5] [--cold 5]

Headless (``App.run_test``), all in one process, bare app and cctui alternating round by
round, so the ratios compare like with like. Every time ends at a *frame*: the benchmark
wraps ``App._display`` (what hands a composed frame to the terminal; headless it is
composed but not written), turns each frame into the escape sequences a terminal would
receive, and stamps it. A clock stops at the first frame that shows the awaited state.

* first paint: from creating the app (store already open, as ``cctui`` does before the
  app starts) to the first frame with record ids on it, versus a bare ``App`` showing one
  ``Static``, to its first frame; and the same plus opening the 100k-record store;
* filter: from the Enter key reaching the app (posted the way a terminal driver posts it)
  to the first frame whose table shows the new rows and ``N of 100,000``. Also the same
  through Pilot (``pilot.press`` + waiting for idle), which adds Pilot's own waits;
* typing: ``crash`` typed into the filter one key every 0.2 s, each key to the frame
  showing that prefix's rows (the first key searches all 100k, the next ones narrow the
  previous result; keys typed faster than 0.15 s apart wait for the burst to pause);
* scroll: one ``pagedown`` to the repainted table.

Cold start (``--cold N``, N rounds alternating): what a person sees after typing the command.
Each round launches a fresh process on a real pseudo-terminal (120x40): ``python -m cctui
--data-dir DIR`` on the 100k-record store, and ``python -c`` running a bare Textual app
with one ``Static`` (the same ``textual`` imports); the clock starts in this process just
before the launch and stops when the terminal has been sent a record id (a bare app: its
text). Interpreter start, imports, opening the store, layout and the first frame all count.

Prints a table of medians and ratios. Targets: first paint <= 2.5x bare (cold), filter <=
100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import gc
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cctui.config import Config  # noqa: E402
from cctui.core.seed import seed_store  # noqa: E402
from cctui.macros.samples import sample_macro_dicts  # noqa: E402
from cctui.store import open_store  # noqa: E402
from cctui.tui.app import CctuiApp  # noqa: E402

SIZE = (120, 40)
QUERIES = ("status:new", "severity:high,critical -category:ui", "crash", "votes:>5 type:bug")


class FrameSpy:
    """Stamps every frame the app displays; :meth:`wait` returns the stamp of the first
    frame after which ``predicate(output)`` holds, ``output`` being the text the terminal
    is sent for that frame (state and frame come from the same loop turn, so the frame
    shows that state)."""

    def __init__(self, app: App, predicate: Callable[[str], bool] | None = None) -> None:
        self.app = app
        self._original = app._display
        app._display = self._display  # type: ignore[method-assign]
        self._predicate = predicate
        self._hit: float | None = None
        self._event = asyncio.Event()
        self.frames = 0

    def _display(self, screen, renderable) -> None:
        self._original(screen, renderable)
        # The frame is out now: turning it into text below is the benchmark's own cost.
        stamp = time.perf_counter()
        if renderable is None:
            return
        output = ""
        if isinstance(renderable, CompositorUpdate):
            output = renderable.render_segments(self.app.console)  # what a terminal is sent
        self.frames += 1
        if self._predicate is not None and self._hit is None and self._predicate(output):
            self._hit = stamp
            self._event.set()

    def expect(self, predicate: Callable[[str], bool]) -> None:
        """Wait for ``predicate`` from now on (call before causing the change)."""
        self._predicate, self._hit = predicate, None
        self._event.clear()

    async def wait(self, limit: float = 60.0) -> float:
        await asyncio.wait_for(self._event.wait(), limit)
        assert self._hit is not None
        return self._hit


def send_key(app: App, key: str, char: str | None = None) -> float:
    """Post a key the way a terminal driver does (from outside the loop); returns when."""
    event = events.Key(key, char)
    event.set_sender(app)
    began = time.perf_counter()
    app._driver.send_message(event)  # type: ignore[union-attr]
    return began


class BareApp(App):
    def compose(self) -> ComposeResult:
        yield Static("BUG-0001 hello")


async def bare_run() -> tuple[float, float]:
    """First frame of a bare app, and what one Pilot keystroke + wait costs there."""
    gc.collect()
    start = time.perf_counter()
    app = BareApp()
    spy = FrameSpy(app, lambda output: "BUG-0001" in output)
    async with app.run_test(size=SIZE) as pilot:
        paint = await spy.wait() - start
        await pilot.pause()
        began = time.perf_counter()
        await pilot.press("j")
        return paint, time.perf_counter() - began


async def cctui_run(data_dir: Path, config: Config) -> dict[str, float | list[float]]:
    gc.collect()
    began_open = time.perf_counter()
    store = open_store(data_dir)
    start = time.perf_counter()
    app = CctuiApp(store, config, data_dir=data_dir)

    def table():
        return app.screen.query_one("#records")

    def ids_on_screen(output: str) -> bool:
        screen = app.screen
        if not screen.query("#records"):
            return False
        rows = table().rows
        return bool(rows) and rows[0]["id"] in output

    spy = FrameSpy(app, ids_on_screen)
    result: dict[str, float | list[float]] = {"open": start - began_open}
    async with app.run_test(size=SIZE) as pilot:
        result["first_paint"] = await spy.wait() - start
        # Let the rest of the load (full sort, counts, text index) finish before filtering.
        await _settled(app, pilot)
        screen = app.screen
        bar = screen.query_one("#filter-bar")
        filter_input = screen.query_one("#filter-input")

        def shows(query: str) -> Callable[[str], bool]:
            return lambda _output: (getattr(screen, "view_settled", True) and screen.query_text == query
                            and bar.shown == len(table().rows))

        async def apply(query: str, *, pilot_press: bool) -> float:
            await pilot.press("slash")
            with filter_input.prevent(Input.Changed):  # as if typed long ago: Enter runs it
                filter_input.value = query
            await _settled(app, pilot)
            spy.expect(shows(query))
            if pilot_press:
                began = time.perf_counter()
                await pilot.press("enter")
                await spy.wait()
                await pilot.pause()
                return time.perf_counter() - began
            began = send_key(app, "enter")
            return await spy.wait() - began

        filters, piloted = [], []
        for query in QUERIES:
            filters.append(await apply(query, pilot_press=False))
            await apply("", pilot_press=False)
            piloted.append(await apply(query, pilot_press=True))
            await apply("", pilot_press=False)
        result["filters"], result["piloted"] = filters, piloted

        # Typing: each key of "crash" to the frame showing that prefix's rows.
        await pilot.press("slash")
        await _settled(app, pilot)
        typed = []
        for n, char in enumerate("crash", 1):
            spy.expect(shows("crash"[:n]))
            began = send_key(app, char, char)
            typed.append(await spy.wait() - began)
            await asyncio.sleep(0.2)  # ~50 words a minute; a faster burst waits for its pause
        result["typing"] = typed
        await pilot.press("escape")
        await apply("", pilot_press=False)

        await pilot.press("home")
        scrolls = []
        for _ in range(5):
            await _settled(app, pilot)
            before = table().cursor_row
            spy.expect(lambda _output, before=before: table().cursor_row != before)
            began = send_key(app, "pagedown")
            scrolls.append(await spy.wait() - began)
        result["scroll"] = statistics.median(scrolls)
    store.close()
    return result


BARE_SCRIPT = """
from textual.app import App
from textual.widgets import Static

class BareApp(App):
    def compose(self):
        yield Static("BUG-0001 hello")

BareApp().run()
"""
#: A record id as the table draws it (the header and footer hold none).
#: (No \\b: a style code before it ends in a letter, ``\x1b[...mBUG-0001``.)
RECORD_ID = re.compile(rb"[A-Z]{2,}-\d{4,}")


def cold_start(argv: list[str], env: dict[str, str], limit: float = 30.0) -> float:
    """Seconds from launching ``argv`` on a fresh pty until it has written a record id."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                               start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        while True:
            left = began + limit - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{argv[:3]} showed no record id in {limit:.0f} s: {seen[-300:]!r}")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # the child closed the terminal
                raise RuntimeError(f"{argv[:3]} exited: {seen[-500:]!r}") from None
            seen = seen[-64:] + chunk  # an id split across two reads still matches
            if RECORD_ID.search(seen):
                return time.perf_counter() - began
    finally:
        # SIGTERM makes cctui quit politely (a run would be left resumable): it finishes
        # the frames it was writing and restores the terminal, which can come after a
        # quiet spell (a loader thread finishing). Read until it has exited, or it blocks
        # on a full pty and never does.
        process.terminate()
        deadline = time.perf_counter() + 10
        try:
            while process.poll() is None and time.perf_counter() < deadline:
                if select.select([master], [], [], 0.05)[0]:
                    os.read(master, 1 << 16)
        except OSError:
            pass
        if process.poll() is None:
            process.kill()
        process.wait(10)
        os.close(master)


def cold_rounds(data_dir: Path, rounds: int) -> tuple[list[float], list[float]]:
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
           "CCTUI_CONFIG": str(Path(tempfile.gettempdir()) / "cctui-bench-config.toml")}
    env.pop("TEXTUAL", None)
    # Some shells (this workplace's among them) set PYTHONDONTWRITEBYTECODE, so cctui's own
    # modules would be compiled from source on every launch while Textual's load compiled:
    # an installed cctui has its .pyc files, so let the warm-up launch write them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    bare_argv = [sys.executable, "-c", BARE_SCRIPT]
    cctui_argv = [sys.executable, "-m", "cctui", "--data-dir", str(data_dir)]
    cold_start(bare_argv, env)  # warm the OS file cache: a person's second launch
    cold_start(cctui_argv, env)
    bare, app = [], []
    for _ in range(rounds):
        bare.append(cold_start(bare_argv, env))
        app.append(cold_start(cctui_argv, env))
    return bare, app


async def _settled(app: App, pilot) -> None:
    """Until the screen has no work in flight (loads, views, indexes)."""
    end = time.perf_counter() + 60
    while any(w.is_running for w in app.screen.workers) or not getattr(app.screen, "view_settled", True):
        if time.perf_counter() > end:
            raise TimeoutError("the screen never settled")
        await asyncio.sleep(0.005)
    await pilot.pause()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", type=int, default=5, help="cold-start rounds (0: none)")
    parser.add_argument("--dispatch", type=int, default=10_000, metavar="RECORDS",
                        help="then key latency during a run of this many records "
                             "(benchmarks/tui_dispatch.py; 0: skip)")
    args = parser.parse_args()

    temp = None
    data_dir = args.data_dir
    if data_dir is None:
        temp = tempfile.TemporaryDirectory(prefix="cctui-bench-")
        data_dir = Path(temp.name)
    store = open_store(data_dir)
    if store.feedback_count() < args.count:
        began = time.perf_counter()
        seed_store(store, args.count - store.feedback_count(), seed=7, macros=sample_macro_dicts())
        print(f"seeded {args.count:,} records in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    count = store.feedback_count()
    store.close()
    config = Config(Path(tempfile.gettempdir()) / "cctui-bench-config.toml")
    cold_bare, cold_app = cold_rounds(data_dir, args.cold) if args.cold else ([], [])

    # One untimed round of each: imports and first-use caches are not what we measure.
    await bare_run()
    await cctui_run(data_dir, config)

    bare, keys, paint, ratios, opens, filters, piloted, typing, scroll = [], [], [], [], [], [], [], [], []
    for _ in range(args.runs):
        bare_paint, bare_key = await bare_run()
        run = await cctui_run(data_dir, config)
        bare.append(bare_paint)
        keys.append(bare_key)
        paint.append(run["first_paint"])
        ratios.append(run["first_paint"] / bare_paint)
        opens.append(run["open"] + run["first_paint"])
        filters.extend(run["filters"])
        piloted.extend(run["piloted"])
        typing.append(run["typing"])
        scroll.append(run["scroll"])

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:,.0f} ms"

    b, p = statistics.median(bare), statistics.median(paint)
    r = statistics.median(ratios)
    f_med, f_max = statistics.median(filters), max(filters)
    pl_med, pl_max = statistics.median(piloted), max(piloted)
    k = statistics.median(keys)
    first_key = statistics.median(t[0] for t in typing)
    later_keys = [x for t in typing for x in t[1:]]
    o = statistics.median(opens)
    print(f"\ncctui TUI benchmark: {count:,} feedback records, {SIZE[0]}x{SIZE[1]}, {args.runs} runs (medians)\n")
    print(f"| {'what':<50} | {'time':>9} | {'vs target':>16} |")
    print(f"|{'-' * 52}|{'-' * 11}|{'-' * 18}|")
    print(f"| {'bare Textual app, first frame':<50} | {ms(b):>9} | {'baseline':>16} |")
    print(f"| {'cctui, first frame with record ids (store open)':<50} | {ms(p):>9} | {f'{r:.2f}x (<=2.5x)':>16} |")
    print(f"| {'ids on screen incl. opening the store':<50} | {ms(o):>9} | {f'{o:.2f}x of 1 s':>16} |")
    print(f"| {'filter: Enter -> frame with new rows (median)':<50} | {ms(f_med):>9} | {f'{f_med * 10:.2f}x of 100ms':>16} |")
    print(f"| {'filter: Enter -> frame with new rows (worst)':<50} | {ms(f_max):>9} | {f'{f_max * 10:.2f}x of 100ms':>16} |")
    print(f"| {'filter through Pilot press + idle (median)':<50} | {ms(pl_med):>9} | {'':>16} |")
    print(f"| {'filter through Pilot press + idle (worst)':<50} | {ms(pl_max):>9} | {'':>16} |")
    print(f"| {'bare app: one Pilot keystroke (harness cost)':<50} | {ms(k):>9} | {'':>16} |")
    print(f"| {'typing: first key -> frame (searches all)':<50} | {ms(first_key):>9} | {f'{first_key * 10:.2f}x of 100ms':>16} |")
    print(f"| {'typing: next keys -> frame (median / worst)':<50} | {ms(statistics.median(later_keys)):>4} / {ms(max(later_keys))} | {'':>16} |")
    print(f"| {'page down -> repainted frame':<50} | {ms(statistics.median(scroll)):>9} | {'':>16} |")
    if cold_app:
        cb, ca = statistics.median(cold_bare), statistics.median(cold_app)
        cold = f"{ca / cb:.2f}x (<=2.5x)"
        print(f"| {'cold: bare app, launch -> first frame on a pty':<50} | {ms(cb):>9} | {'baseline':>16} |")
        print(f"| {'cold: cctui, launch -> record ids on a pty':<50} | {ms(ca):>9} | {cold:>16} |")
    print(f"\nfirst-paint ratio per round: {', '.join(f'{x:.2f}x' for x in ratios)}")
    if cold_app:
        print(f"cold starts (ms), bare: {', '.join(f'{x * 1000:.0f}' for x in cold_bare)}; "
              f"cctui: {', '.join(f'{x * 1000:.0f}' for x in cold_app)}")
    print(f"filter times (ms): {', '.join(f'{x * 1000:.0f}' for x in filters)}")
    if temp is not None:
        temp.cleanup()
    if args.dispatch:
        from tui_dispatch import main as key_latency_during_a_run  # beside this file

        print()
        await key_latency_during_a_run(args.dispatch, 100)


if __name__ == "__main__":
    asyncio.run(main())
