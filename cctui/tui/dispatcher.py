"""The TUI's side of the delivery engine.

The app owns one ``Dispatcher`` (``app.dispatcher``). It starts engine runs as tasks on the
app's own event loop, so a run keeps going whichever screen is showing (each run renders
its bodies on a thread of its own: ``Engine(render_off_loop=True)``); it folds every
engine event into a :class:`~cctui.tui.run_progress.RunProgress` (plain counters, cheap
per event) and, at most ten times a second, tells subscribed widgets that something
changed. Screens never see individual events: a 10k-record run must not cost 10k repaints.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.timer import Timer

from cctui.tui.run_progress import RunProgress

if TYPE_CHECKING:
    from cctui.delivery.engine import Engine, SendResult
    from cctui.delivery.events import RunSummary
    from cctui.delivery.runs import Waiting
    from cctui.tui.app import CctuiApp

#: How often (seconds) subscribers hear about changes at most.
REFRESH_EVERY = 0.1


class Dispatcher:
    """Starts, tracks, cancels and retries delivery runs for the TUI.

    Widgets call :meth:`subscribe` and receive :class:`Dispatcher.RunsUpdated` (throttled
    to ``REFRESH_EVERY``) whenever progress changed.
    """

    class RunsUpdated(Message):
        """Progress changed for one or more runs; read ``app.dispatcher.runs``."""

    def __init__(self, app: CctuiApp, *, engine: Engine | None = None) -> None:
        self.app = app
        self._engine = engine
        self.session_runs: list[RunProgress] = []
        self._tasks: dict[int, asyncio.Task] = {}
        self._subscribers: list[Any] = []
        self._dirty = False
        self._timer: Timer | None = None
        self._stored: list[RunProgress] = []
        self._stored_pending = False
        self._stored_reading = False

    # -- the engine ---------------------------------------------------------------
    @property
    def engine(self) -> Any:
        """The delivery engine, created on first use (sending is the engine's job)."""
        if self._engine is None:
            from cctui.delivery import Engine

            # Runs share the app's loop; bodies render on a thread of each run's own, so a
            # body that takes its whole render budget (1 s) does not freeze the keys.
            self._engine = Engine(self.app.store, config=self.app.config, render_off_loop=True)
        return self._engine

    # -- subscriptions ------------------------------------------------------------
    def subscribe(self, widget: Any) -> None:
        """``widget`` receives ``RunsUpdated`` messages until it unsubscribes."""
        if widget not in self._subscribers:
            self._subscribers.append(widget)

    def unsubscribe(self, widget: Any) -> None:
        if widget in self._subscribers:
            self._subscribers.remove(widget)

    def _mark_dirty(self) -> None:
        self._dirty = True
        if self._timer is None:
            self._timer = self.app.set_interval(REFRESH_EVERY, self._flush, name="dispatcher-refresh")

    def _flush(self) -> None:
        if not self._dirty:
            if not any(run.running for run in self.session_runs) and self._timer is not None:
                self._timer.stop()
                self._timer = None
            return
        self._dirty = False
        for widget in list(self._subscribers):
            if widget.is_attached:
                widget.post_message(self.RunsUpdated())
            else:
                self._subscribers.remove(widget)

    # -- runs ---------------------------------------------------------------------
    @property
    def sending(self) -> list[RunProgress]:
        """This session's runs that are still going (what quitting would interrupt)."""
        return [run for run in self.session_runs if run.running]

    @property
    def runs(self) -> list[RunProgress]:
        """This session's runs (newest first), then persisted runs not seen here (as last
        read by :meth:`refresh_stored`: no store read on the event loop)."""
        mine = list(reversed(self.session_runs))
        seen = {run.run_id for run in mine if run.run_id}
        return mine + [run for run in self._stored if run.run_id not in seen]

    def refresh_stored(self) -> None:
        """Read the persisted runs again, in a worker (the app calls it when the store
        changed); subscribers hear ``RunsUpdated`` when they are in."""
        if self._stored_reading:
            self._stored_pending = True  # one more read when this one is done
            return
        self._stored_reading = True
        self.app.run_worker(self._read_stored(), group="stored-runs", exit_on_error=False)

    async def _read_stored(self) -> None:
        def read() -> tuple[list[RunProgress], dict[str, dict], dict[str, Waiting]]:
            from cctui.delivery.runs import waiting_by_run

            raw, pending = self.app.store.runs_and_retries()
            waiting = waiting_by_run(pending)
            runs = [RunProgress.from_stored(run, waiting=waiting) for run in raw]
            runs.sort(key=lambda run: run.started_at, reverse=True)
            return runs, {run["id"]: run for run in raw}, waiting

        try:
            self._stored, by_id, waiting = await asyncio.to_thread(read)
        except Exception as exc:  # a broken runs file must not hide this session's runs
            self.app.log.warning(f"runs_all failed: {exc}")
        else:
            # This session's finished runs too: a retry they left may have ended since.
            for progress in self.session_runs:
                if id(progress) not in self._tasks:
                    progress.settle(by_id, waiting)
        finally:
            self._stored_reading = False
        self._mark_dirty()
        if self._stored_pending:
            self._stored_pending = False
            self.refresh_stored()

    def track(self, progress: RunProgress) -> RunProgress:
        """Show ``progress`` in the panel (also used to feed scripted events)."""
        if not progress.started_at:
            from cctui.core.clock import iso

            progress.started_at = iso()  # the macro list's "last run" reads it
        self.session_runs.append(progress)
        self._mark_dirty()
        return progress

    def listener_for(self, progress: RunProgress) -> Callable[[Any], None]:
        """An engine listener that folds events into ``progress`` on the app's thread."""
        main = threading.main_thread()

        def listen(event: Any) -> None:
            if threading.current_thread() is main:
                progress.apply(event)
                self._mark_dirty()
            else:  # an engine running in a worker thread
                self.app.call_from_thread(listen_here, event)

        def listen_here(event: Any) -> None:
            progress.apply(event)
            self._mark_dirty()

        return listen

    def start(self, macro_name: str, record_ids: Iterable[str], *, trigger: str = "bulk",
              concurrency: int | None = None) -> RunProgress:
        """Start a run on the app's loop and return its live progress."""
        ids = list(record_ids)
        progress = self.track(RunProgress(macro=macro_name, total=len(ids), trigger=trigger))

        async def go() -> Any:
            return await self.engine.run(
                macro_name, ids, trigger=trigger, concurrency=concurrency,
                listener=self.listener_for(progress),
            )

        self._launch(progress, go)
        return progress

    def runner(self) -> Callable[[str, list[str], str], None]:
        """An automation runner (``cctui.automation``) that starts runs here.

        Triggers call it from whatever thread wrote the change (the store's writer
        thread, a worker) and schedules from a worker; each call hops onto the app's
        loop, so triggered and scheduled runs show in the dispatch panel like bulk ones.
        """
        loop = asyncio.get_running_loop()
        main = threading.current_thread()
        # Textual finds its app through context variables; a callback scheduled from a
        # store thread would run without them, so it runs in a copy of the app's.
        context = contextvars.copy_context()

        def run(macro_name: str, record_ids: list[str], trigger: str) -> None:
            ids = list(record_ids)
            if threading.current_thread() is main:
                loop.call_soon(self._start_automated, macro_name, ids, trigger, context=context.copy())
            else:
                loop.call_soon_threadsafe(self._start_automated, macro_name, ids, trigger,
                                          context=context.copy())

        return run

    def _start_automated(self, macro_name: str, ids: list[str], trigger: str) -> None:
        self.start(macro_name, ids, trigger=trigger)
        self.app.notify(f"{trigger} run of {macro_name} on {len(ids):,} record{'s' if len(ids) != 1 else ''}"
                        " started (screen 3).", timeout=3)

    def retry(self, *, macro: str | None = None, record_id: str | None = None) -> RunProgress:
        """Send again what last failed (the engine never re-sends a delivered record)."""
        label = macro or "(all macros)"
        progress = self.track(RunProgress(macro=label, total=0, trigger="retry", multi_run=True))

        async def go() -> Any:
            return await self.engine.retry(macro=macro, record_id=record_id,
                                           listener=self.listener_for(progress))

        self._launch(progress, go)
        return progress

    def send_scheduled(self, claimed: list[dict]) -> RunProgress:
        """Send scheduled retries claimed for this process (``cctui.delivery.scheduled``)."""
        from cctui.delivery import scheduled

        macros = sorted({entry["macro"] for entry in claimed})
        label = macros[0] if len(macros) == 1 else "(all macros)"
        progress = self.track(RunProgress(macro=label, total=len(claimed), trigger="retry", multi_run=True))

        async def go() -> Any:
            return await scheduled.send(self.engine, claimed, listener=self.listener_for(progress))

        self._launch(progress, go)
        self.app.notify(f"Sending {len(claimed):,} scheduled retr{'y' if len(claimed) == 1 else 'ies'} "
                        "(screen 3).", timeout=3)
        return progress

    def retry_records(self, failed: dict[str, list[str]]) -> list[RunProgress]:
        """Retry failed records grouped by macro: ``{macro: [record ids]}``."""
        return [self.start(name, ids, trigger="retry") for name, ids in failed.items() if ids]

    def _launch(self, progress: RunProgress, make: Callable[[], Any]) -> None:
        async def runner() -> None:
            try:
                summary = await make()
            except asyncio.CancelledError:
                progress.finish("cancelled")
                raise
            except Exception as exc:  # user errors (unknown macro, bad template) and bugs alike
                message = str(exc) or type(exc).__name__
                progress.finish("error", message)
                self.app.notify(message, title=f"Run of {progress.macro} failed", severity="error")
            else:
                self._apply_summary(progress, summary)
                progress.finish("cancelled" if progress.state == "cancelled" else "done")
            finally:
                self._tasks.pop(id(progress), None)
                self._mark_dirty()

        self._tasks[id(progress)] = asyncio.get_running_loop().create_task(runner())

    @staticmethod
    def _apply_summary(progress: RunProgress, summary: RunSummary) -> None:
        """Trust the engine's final numbers over the event tally (events may be partial)."""
        if summary.run_id:
            progress.run_id = summary.run_id
        progress.delivered, progress.failed, progress.skipped = summary.delivered, summary.failed, summary.skipped
        progress.scheduled = summary.retrying
        progress._note_retry(summary.next_retry)
        if summary.total >= progress.total:
            progress.total = summary.total
        elif progress.total == 0:
            progress.total = progress.done
        progress.close()

    async def shutdown(self) -> None:
        """The app is quitting: stop this session's runs so they stay resumable (requests
        on the wire finish and are logged; `cctui retry` sends the rest, none twice)."""
        if self._engine is not None:
            await self._engine.shutdown()

    def cancel(self, progress: RunProgress) -> bool:
        """Stop a running run of this session; records not yet sent stay queued for retry."""
        if not progress.running:
            return False
        if progress.run_id is not None:
            try:
                self.engine.cancel(progress.run_id)
            except Exception as exc:
                self.app.log.warning(f"engine.cancel failed: {exc}")
        task = self._tasks.get(id(progress))
        progress.finish("cancelled")
        if task is not None and progress.run_id is None:
            task.cancel()  # the engine never told us its id: stop the task itself
        self._mark_dirty()
        return True

    async def test_send(self, macro_dict: dict, record: dict | None) -> SendResult:
        """Send the macro's request for ``record`` once (``Engine.send_once``: nothing is
        logged, a test send is not a delivery): status, duration, masked body and error,
        and the explanation."""
        return await self.engine.send_once(macro_dict, record)

    # -- macros -------------------------------------------------------------------
    def toggle_pause(self, macro_name: str) -> None:
        """Pause a running macro or resume a paused one (a paused macro is skipped by
        triggers and schedules); says which in a toast. The read and the write run in a
        worker: a write waits for its fsync."""

        async def toggle() -> None:
            def write() -> bool | None:
                macro = self.app.store.macro_get(macro_name)
                if macro is None:
                    return None
                paused = not macro.get("paused", False)
                self.app.store.macro_update(macro_name, {"paused": paused})
                return paused

            paused = await asyncio.to_thread(write)
            if paused is None:
                self.app.notify(f"Macro {macro_name} no longer exists.", severity="warning")
            else:
                self.app.notify(f"{macro_name} {'paused' if paused else 'resumed'}.")
            self._mark_dirty()

        self.app.run_worker(toggle(), group="macro-pause")
