"""Writes what a run produced (log entries, record changes, run updates) through the
store, off the event loop and in batches, and says when each piece is on disk.

The TUI runs the engine on its own asyncio loop, so a store write (a file append plus
fsync) must never run there. One writer thread per run drains a queue: one
``log_append`` and one ``feedback_update_each`` per flush, never one file write per
attempt. Two promises bound what a crash (``kill -9``, power loss) can cost:

* *by time*: anything queued is written and fsynced at most ``interval`` (0.1 s) after
  it was queued, however fast attempts keep coming, so ``cctui retry`` re-sends at most
  the requests in flight plus those of the last ``interval`` (by count as well: a flush
  never holds more than ``batch`` items);
* *acknowledged means durable*: :meth:`Recorder.after_durable` runs a callback on the
  loop only once everything queued before it is fsynced. The engine reports a record's
  outcome (``send --json`` prints ``delivered``) through it.

A write that fails (a full disk) stops acknowledging for good: nothing queued after it
is reported durable, and ``on_error`` tells the engine, which stops sending at once.
The thread also calls ``heartbeat`` every ``heartbeat_every`` seconds (see
``recovery.run_is_live``).
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cctui.delivery.scheduled import forget

if TYPE_CHECKING:
    from cctui.store import Store

_STOP = object()


class Recorder:
    """Queue attempts and record changes from the loop; a thread writes them."""

    def __init__(self, store: Store, *, macro: str, target: str = "feedback",
                 interval: float = 0.1, batch: int = 500,
                 heartbeat: Callable[[], Any] | None = None, heartbeat_every: float = 2.0,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.store = store
        self.macro = macro
        self.target = target
        self.interval = interval
        self.batch = batch
        self.heartbeat = heartbeat
        self.heartbeat_every = heartbeat_every
        self.on_error = on_error
        self.error: BaseException | None = None
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a plain thread: no loop to report back to
            self._loop = None
        self._beat_at = time.monotonic()
        self._buffer: list[dict] = []
        self._buffer_since = 0.0
        self._seq = 0  # items queued so far (loop side)
        self._durable = 0  # items fsynced so far (set by the thread, read on the loop)
        self._waiting: deque[tuple[int, Callable[[], Any]]] = deque()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"cctui-recorder-{macro}", daemon=True)
        self._thread.start()

    # -- called from the event loop (cheap, never blocks) -------------------------------
    def attempt(self, entry: dict) -> None:
        """Queue one log entry (one attempt). Entries are handed to the thread in lists,
        a quarter ``interval`` at most after the first: one cross-thread wake-up per
        list, not per attempt (that measurably slowed the loop)."""
        self._seq += 1
        self._buffer.append(entry)
        if len(self._buffer) >= self.batch:
            self.hand_over()
        elif len(self._buffer) == 1:
            self._buffer_since = time.monotonic()
            if self._loop is not None:
                self._loop.call_later(self.interval / 4, self.hand_over)
            else:
                self.hand_over()

    def hand_over(self) -> None:
        """Pass the buffered log entries to the writer thread."""
        if self._buffer:
            entries, self._buffer = self._buffer, []
            self._queue.put(("logs", entries, self._buffer_since, self._seq))

    def change(self, record_id: str, fields: dict) -> None:
        """Queue fields to set on a record after a delivery (return values, on_success)."""
        self.hand_over()  # keep the log ahead of the changes it explains
        self._seq += 1
        self._queue.put(("change", (record_id, fields), time.monotonic(), self._seq))

    def retry(self, delivery_id: str, entry: dict | None, ended: str | None = None) -> None:
        """Queue a scheduled retry to store (``entry``) or to forget (None) because its
        delivery ``ended`` (``delivered``, ``failed``, ``skipped``: the runs that counted
        it as retrying are told, see ``scheduled.forget``), after the log entries queued
        so far (so the log explains it first)."""
        self.hand_over()
        self._seq += 1
        self._queue.put(("retry", (delivery_id, entry if entry is not None else ended or "failed"),
                         time.monotonic(), self._seq))

    def call(self, fn: Callable[[], Any]) -> None:
        """Queue any other store call (e.g. a run update), kept in order with the rest."""
        self.hand_over()
        self._seq += 1
        self._queue.put(("call", fn, time.monotonic(), self._seq))

    def after_durable(self, fn: Callable[[], Any]) -> None:
        """Call ``fn`` on the loop once everything queued so far is on disk (at once if
        it already is); never, if a write fails first."""
        if self.error is not None:
            return  # nothing more is acknowledged; do not keep what never will be
        if self._seq <= self._durable and not self._waiting:
            fn()
        else:
            self._waiting.append((self._seq, fn))

    def release(self) -> None:
        """Run the callbacks whose writes are durable (on the loop; the thread schedules
        it after each flush, the engine calls it once more after :meth:`close`)."""
        durable = self._durable
        while self._waiting and self._waiting[0][0] <= durable:
            self._waiting.popleft()[1]()

    def close(self, last: Callable[[], Any] | None = None) -> None:
        """Flush everything and stop the thread (blocking: call via ``asyncio.to_thread``
        after :meth:`hand_over` on the loop). ``last``: a final store call (the run's
        close), made in the last flush, after everything else and with no heartbeat
        after it: an idle heartbeat between a separate :meth:`call` and the stop would
        stamp the closed run as alive again."""
        self.hand_over()
        if last is not None:
            self._seq += 1
        self._queue.put((_STOP, last, time.monotonic(), self._seq))
        self._thread.join()

    # -- the writer thread --------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                kind, item, since, seq = self._queue.get(timeout=self._until_beat())
            except queue.Empty:
                self._flush([], {}, [], {}, 0)  # nothing to write but the heartbeat
                continue
            except Exception:  # pragma: no cover - interpreter shutdown
                return
            logs: list[dict] = []
            changes: dict[str, dict] = {}
            calls: list[Callable[[], Any]] = []
            retries: dict[str, dict | str] = {}  # delivery id -> entry to store, or how it ended
            pending = 0
            # The oldest item waits at most ``interval`` from when it was queued (not from
            # when this thread saw it): that is the window a crash can lose.
            deadline = since + self.interval
            while True:
                last = seq
                if kind is _STOP:
                    stopping = True
                    if item is not None:
                        calls.append(item)
                elif kind == "logs":
                    logs.extend(item)
                    pending += len(item)
                elif kind == "change":
                    record_id, fields = item
                    changes.setdefault(record_id, {}).update(fields)
                    pending += 1
                elif kind == "retry":
                    delivery_id, kept = item
                    retries[delivery_id] = kept
                    pending += 1
                else:
                    calls.append(item)
                if stopping or pending >= self.batch or calls:
                    break
                try:
                    kind, item, since, seq = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            self._flush(logs, changes, calls, retries, last, beat=not stopping)

    def _until_beat(self) -> float | None:
        """Seconds the idle thread may wait before the next heartbeat is due."""
        if self.heartbeat is None:
            return None
        return max(0.0, self._beat_at + self.heartbeat_every - time.monotonic())

    def _flush(self, logs: list[dict], changes: dict[str, dict], calls: list,
               retries: dict[str, dict | str], last: int, beat: bool = True) -> None:
        try:
            if logs:
                self.store.log_append(logs)
            if changes:
                self._apply(changes)
            if retries:
                with self.store.batch():  # one journal line for the flush's retries
                    self.store.retry_put([kept for kept in retries.values() if isinstance(kept, dict)])
                    forget(self.store, {key: kept for key, kept in retries.items() if isinstance(kept, str)})
            # The beat comes before the calls: the last flush's call closes the run, and a
            # beat written after it would stamp a finished run as still alive.
            if beat and self.heartbeat is not None and self._until_beat() == 0.0:
                self._beat_at = time.monotonic()
                self.heartbeat()
            for fn in calls:
                fn()
        except BaseException as exc:  # keep the first error; the engine reports it
            if self.error is None:
                self.error = exc
                self._tell(self._failed)
            return
        if self.error is None and last > self._durable:
            self._durable = last
            self._tell(self.release)

    def _tell(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the loop (or here, without one)."""
        if self._loop is None:
            fn()
            return
        try:
            self._loop.call_soon_threadsafe(fn)
        except RuntimeError:  # the loop is closed: the engine's close() releases the rest
            pass

    def _failed(self) -> None:
        if self.on_error is not None and self.error is not None:
            self.on_error(self.error)

    def _apply(self, changes: dict[str, dict]) -> None:
        if self.target == "users":
            # users_update takes one set of fields for many ids: group equal changes.
            groups: dict[str, list[str]] = defaultdict(list)
            for record_id, fields in changes.items():
                groups[json.dumps(fields, sort_keys=True, default=str)].append(record_id)
            for ids in groups.values():
                self.store.users_update(ids, changes[ids[0]])
        else:
            self.store.feedback_update_each(changes, origin="delivery", by_macro=self.macro)
