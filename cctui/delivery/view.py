"""A read view of the store for one bulk run: O(1) record lookups on the event loop.

A bulk send reads the record, the submitter and the revision for each of thousands of
records, on the event loop it shares with the TUI. Store reads take the store's mutex and
check two files' ``stat``; rebuilding an index of 100k records on every store revision (the
run's own ``on_success``/``return_values`` writes bump it every flush) cost the loop
tens of milliseconds each time. So this view:

* builds its index once, off the loop (:meth:`load`, run via ``asyncio.to_thread``);
* keeps it current from the store's in-process :class:`~cctui.store.ChangeEvent`s,
  patching just the changed ids (on the writer thread that committed them). Events carry
  the store revision of their commit, so an older event arriving late never overwrites
  a newer record;
* rebuilds the whole index, again off the loop, only when the store says the data changed
  without events (``store.reloads``: another process committed, or a write was rolled
  back). A check for that runs on a worker thread at most every ``refresh`` seconds.

On the loop a lookup is a dict ``get``: no lock, no file check, nothing O(n).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cctui.core.records import Schema
    from cctui.store import Store
    from cctui.store.events import ChangeEvent

log = logging.getLogger(__name__)

KINDS = ("feedback", "users")


class _Index:
    """Records of one kind by id, as of ``revision`` plus the events applied since."""

    __slots__ = ("revision", "rows", "versions")

    def __init__(self, revision: int, records: list[dict]) -> None:
        self.revision = revision
        self.rows: dict[str, dict] = {row["id"]: row for row in records}
        self.versions: dict[str, int] = {}  # id -> revision of the event that set it

    def apply(self, revision: int, records: list[dict]) -> bool:
        """Take in an event's records; ``revision`` 0 (a store that does not stamp its
        events) means "newest", as events of one writer thread arrive in order."""
        if revision and revision <= self.revision:
            return False  # already in the snapshot this index was built from
        changed = False
        for record in records:
            record_id = record.get("id")
            if record_id is None or (revision and revision < self.versions.get(record_id, 0)):
                continue  # a newer event already set this record
            self.versions[record_id] = revision
            self.rows[record_id] = record
            changed = True
        return changed


class RunView:
    """Duck-types the parts of :class:`cctui.store.Store` that rendering reads."""

    def __init__(self, store: Store, target: str = "feedback", refresh: float = 0.25) -> None:
        self._store = store
        self._target = target
        self._refresh = refresh
        self._indexes: dict[str, _Index] = {}
        self._version = 0  # this view's revision: grows with every change it takes in
        self._lock = threading.Lock()  # writer threads and the rebuild; never the loop
        self._replay: list[Any] | None = None  # events that arrive while rebuilding
        self._reloads = self._store_reloads()
        self._checked = time.monotonic()
        self._checking = False
        subscribe = getattr(store, "subscribe", None)
        self._unsubscribe = subscribe(self._on_change) if subscribe is not None else None

    def __getattr__(self, name: str) -> Any:  # macro_get, config, ...: straight to the store
        return getattr(self._store, name)

    @property
    def schema(self) -> Schema:
        return self._store.schema

    def feedback_all(self) -> list[dict]:
        return self._store.feedback_all()

    def macros_all(self) -> list[dict]:
        return self._store.macros_all()

    # -- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Build the indexes (blocking: call via ``asyncio.to_thread`` before the run)."""
        self._rebuild()

    def close(self) -> None:
        """Stop listening to the store."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- what rendering reads (on the loop) -----------------------------------------------
    @property
    def revision(self) -> int:
        """Grows whenever a record this view serves changed (for caches keyed on it)."""
        self._maybe_check()
        return self._version

    def record(self, record_id: str) -> dict | None:
        """The run's target record (feedback item or user), as of the latest commit."""
        return self._rows(self._target).get(record_id)

    def feedback_get(self, record_id: str) -> dict | None:
        return self._rows("feedback").get(record_id)

    def user_get(self, user_id: str) -> dict | None:
        return self._rows("users").get(user_id)

    def users_all(self) -> list[dict]:
        return list(self._rows("users").values())

    def _rows(self, kind: str) -> dict[str, dict]:
        self._maybe_check()
        index = self._indexes.get(kind)
        if index is None:  # not loaded (used outside an engine run): build it here, once
            self._rebuild()
            index = self._indexes[kind]
        return index.rows

    # -- keeping up with the store ------------------------------------------------------
    def _on_change(self, event: ChangeEvent) -> None:
        """A store subscriber: runs on the thread that committed (never the loop)."""
        target = getattr(event, "target", "feedback")
        revision = getattr(event, "revision", 0)
        with self._lock:
            if self._replay is not None:
                self._replay.append(event)
            index = self._indexes.get(target)
            if index is not None and index.apply(revision, event.records):
                self._version += 1

    def _rebuild(self) -> None:
        """Read every record afresh (blocking) and swap the new indexes in."""
        with self._lock:
            self._replay = []
        try:
            reloads = self._store_reloads()
            built = {kind: _Index(*self._snapshot(kind)) for kind in KINDS}
        except BaseException:
            with self._lock:
                self._replay = None
            raise
        with self._lock:
            for event in self._replay or ():  # committed while we read: may be newer
                index = built.get(getattr(event, "target", "feedback"))
                if index is not None:
                    index.apply(getattr(event, "revision", 0), event.records)
            self._replay = None
            self._indexes = built
            self._reloads = reloads
            self._version += 1

    def _snapshot(self, kind: str) -> tuple[int, list[dict]]:
        snapshot = getattr(self._store, "snapshot", None)
        if snapshot is not None:
            return snapshot(kind)
        records = self._store.users_all() if kind == "users" else self._store.feedback_all()
        return getattr(self._store, "revision", 0), records

    def _store_reloads(self) -> int:
        """What moves when the data changed without events (a store without ``reloads``:
        its revision, so every change rebuilds, still off the loop)."""
        reloads = getattr(self._store, "reloads", None)
        return reloads if reloads is not None else getattr(self._store, "revision", 0)

    def _maybe_check(self) -> None:
        """At most every ``refresh`` s, look for other processes' changes off the loop."""
        if self._checking:
            return
        now = time.monotonic()
        if now - self._checked < self._refresh:
            return
        self._checked = now
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._check()  # a plain thread may block
            return
        self._checking = True
        loop.run_in_executor(None, self._check)

    def _check(self) -> None:
        """Blocking: let the store notice other processes' commits; rebuild if it did."""
        try:
            getattr(self._store, "revision", None)  # the store's read checks the files
            if self._store_reloads() != self._reloads:
                self._rebuild()
        except Exception:  # keep serving the index we have; the next check tries again
            log.exception("delivery: re-reading the records for a run failed")
        finally:
            self._checking = False
