"""Writes what a run produced (log entries, record changes, run updates) through the
store, off the event loop and in batches.

The TUI runs the engine on its own asyncio loop, so a store write (a file append plus
fsync) must never run there. One writer thread per run drains a queue and flushes every
``interval`` seconds or every ``batch`` items, whichever comes first: one ``log_append``
and one ``feedback_update_each`` per flush, never one file write per attempt.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

_STOP = object()


class Recorder:
    """Queue attempts and record changes from the loop; a thread writes them."""

    def __init__(self, store, *, macro: str, target: str = "feedback",
                 interval: float = 0.1, batch: int = 500,
                 heartbeat: Callable[[], Any] | None = None, heartbeat_every: float = 2.0) -> None:
        self.store = store
        self.heartbeat = heartbeat
        self.heartbeat_every = heartbeat_every
        self._beat_at = time.monotonic()
        self.macro = macro
        self.target = target
        self.interval = interval
        self.batch = batch
        self.error: BaseException | None = None
        self._buffer: list[dict] = []
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"cctui-recorder-{macro}", daemon=True)
        self._thread.start()

    # -- called from the event loop (cheap, never blocks) -------------------------------
    def attempt(self, entry: dict) -> None:
        """Queue one log entry (one attempt). Entries are handed to the thread in lists:
        one cross-thread wake-up per batch, not per attempt (it measurably slowed the loop)."""
        self._buffer.append(entry)
        if len(self._buffer) >= self.batch:
            self.hand_over()
        elif len(self._buffer) == 1:
            try:
                asyncio.get_running_loop().call_later(self.interval / 2, self.hand_over)
            except RuntimeError:  # no loop (a plain thread): hand over right away
                self.hand_over()

    def hand_over(self) -> None:
        """Pass the buffered log entries to the writer thread."""
        if self._buffer:
            entries, self._buffer = self._buffer, []
            self._queue.put(("logs", entries))

    def change(self, record_id: str, fields: dict) -> None:
        """Queue fields to set on a record after a delivery (return values, on_success)."""
        self.hand_over()  # keep the log ahead of the changes it explains
        self._queue.put(("change", (record_id, fields)))

    def retry(self, delivery_id: str, entry: dict | None) -> None:
        """Queue a scheduled retry to store (``entry``) or to forget (None), after the log
        entries queued so far (so the log explains it first)."""
        self.hand_over()
        self._queue.put(("retry", (delivery_id, entry)))

    def call(self, fn: Callable[[], Any]) -> None:
        """Queue any other store call (e.g. a run update), kept in order with the rest."""
        self.hand_over()
        self._queue.put(("call", fn))

    def close(self) -> None:
        """Flush everything and stop the thread (blocking: call via ``asyncio.to_thread``
        after :meth:`hand_over` on the loop)."""
        self.hand_over()
        self._queue.put((_STOP, None))
        self._thread.join()

    # -- the writer thread --------------------------------------------------------------
    def _run(self) -> None:
        logs: list[dict] = []
        changes: dict[str, dict] = {}
        calls: list[Callable[[], Any]] = []
        retries: dict[str, dict | None] = {}
        stopping = False
        while not stopping:
            try:
                kind, item = self._queue.get(timeout=self._until_beat())
            except queue.Empty:
                self._flush(logs, changes, calls)  # nothing to write but the heartbeat
                continue
            except Exception:  # pragma: no cover - interpreter shutdown
                return
            pending = 0
            deadline = time.monotonic() + self.interval
            while True:
                if kind is _STOP:
                    stopping = True
                elif kind == "logs":
                    logs.extend(item)
                    pending += len(item) - 1
                elif kind == "change":
                    record_id, fields = item
                    changes.setdefault(record_id, {}).update(fields)
                elif kind == "retry":
                    delivery_id, entry = item
                    retries[delivery_id] = entry
                else:
                    calls.append(item)
                pending += 1
                if stopping or pending >= self.batch or calls:
                    break
                try:
                    # Flush at most ``interval`` after the first pending item, so a crash
                    # loses little even while attempts keep streaming in.
                    kind, item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            self._flush(logs, changes, calls, retries, beat=not stopping)
            logs, changes, calls, retries = [], {}, [], {}

    def _until_beat(self) -> float | None:
        """Seconds the idle thread may wait before the next heartbeat is due."""
        if self.heartbeat is None:
            return None
        return max(0.0, self._beat_at + self.heartbeat_every - time.monotonic())

    def _flush(self, logs: list[dict], changes: dict[str, dict], calls: list,
               retries: dict[str, dict | None] | None = None, beat: bool = True) -> None:
        try:
            if logs:
                self.store.log_append(logs)
            if changes:
                self._apply(changes)
            if retries:
                with self.store.batch():  # one journal line for the flush's retries
                    self.store.retry_put([entry for entry in retries.values() if entry is not None])
                    self.store.retry_remove([key for key, entry in retries.items() if entry is None])
            for fn in calls:
                fn()
            if beat and self.heartbeat is not None and self._until_beat() == 0.0:
                self._beat_at = time.monotonic()
                self.heartbeat()
        except BaseException as exc:  # keep the first error; the engine reports it
            if self.error is None:
                self.error = exc

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
