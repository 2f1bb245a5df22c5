"""Group commit: store writes queued from any thread, applied on one background thread.

The TUI must never block its event loop on fsync, so it calls ``store.submit(...)``: the
call is queued and a :class:`concurrent.futures.Future` returned at once. The writer
thread takes everything queued so far, runs it inside one ``store.batch()`` (one lock
acquisition, one journal append, one fsync) and only then resolves the futures: a future
that has a result is an acknowledged, durable write. Bursts of edits therefore cost one
fsync per burst instead of one per edit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cctui.store.store import Store

_STOP = object()
#: At most this many queued calls share one commit, so one huge burst cannot starve readers.
MAX_GROUP = 1000


class GroupWriter:
    """The background thread behind :meth:`Store.submit`."""

    def __init__(self, store: Store):
        self._store = store
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="cctui-store-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        self._queue.put((future, fn, args, kwargs))
        return future

    def close(self) -> None:
        """Finish everything queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                group.append(item)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[tuple[Future, Callable[..., Any], tuple, dict]]) -> None:
        outcomes: list[tuple[Future, bool, Any]] = []
        try:
            with self._store.batch():
                for future, fn, args, kwargs in group:
                    if not future.set_running_or_notify_cancel():
                        continue
                    try:
                        outcomes.append((future, True, fn(*args, **kwargs)))
                    except Exception as exc:  # the store validates before it mutates
                        outcomes.append((future, False, exc))
        except BaseException as exc:  # the commit itself failed: nothing in it is durable
            for future, _ok, _value in outcomes:
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
