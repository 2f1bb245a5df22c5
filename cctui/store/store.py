"""The repository: every read and write of the data directory goes through :class:`Store`.

Files in the data directory::

    records.json + records.journal   feedback and users (TinyDB, see journal.py)
    meta.json    + meta.journal      macros, runs, automation state
    logs/seg-NNNNNN.jsonl            the delivery log (see logs.py)
    .lock                            held by whichever process is writing

Every write is a transaction: take the lock, catch up with what other processes
committed, change the in-memory tables, append one journal line + fsync, release the
lock, then tell subscribers. Reads check two ``stat``s and catch up only when needed.
Reads take an in-process mutex that a writer holds only while it changes the tables in
memory: the append, the fsync and any compaction run outside it (see ``_writing``).
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from cctui.core.clock import iso
from cctui.core.records import RECORD_ID, USER_PREFIX, Schema, format_id, parse_id, shown_value
from cctui.errors import InputError, NotFound, StoreWriteError
from cctui.store.events import ChangeEvent, Subscriber
from cctui.store.files import loose_mode, make_private_dir, write_failure
from cctui.store.head import first_page as read_first_page
from cctui.store.head import write_head
from cctui.store.journal import JournaledStorage
from cctui.store.lock import DataDirLock
from cctui.store.logs import DeliveryLog
from cctui.store.meta import MetaTables
from cctui.store.tables import CctuiDB, RecordTable
from cctui.store.writer import GroupWriter

log = logging.getLogger(__name__)
_MISSING: Any = object()


class Store(MetaTables):
    """Feedback, users, macros, runs, state and the delivery log of one data directory."""

    def __init__(self, data_dir: Path, schema: Schema | None = None, *, lock_timeout: float | None = None):
        self.data_dir = Path(data_dir)
        existed = make_private_dir(self.data_dir)
        #: The data dir's mode when it already existed open to group or others (the CLI
        #: warns once per command); None when it is private or cctui created it.
        self.loose_mode = loose_mode(self.data_dir) if existed else None
        self.schema = schema or Schema()
        self._lock = DataDirLock(self.data_dir, lock_timeout)
        # no lock needed to read: JournaledStorage re-reads if a compaction races with it.
        # The records are read on first use (under the mutex, see _reading), so opening the
        # store is cheap and first_page() can answer before the snapshot is parsed.
        records_path = self.data_dir / "records.json"
        self._records_db = CctuiDB(
            records_path, self.data_dir / "records.journal", storage=JournaledStorage, lazy=True,
            on_snapshot=lambda seq, tables, sig: write_head(records_path, seq, tables, sig),
        )
        self._meta_db = CctuiDB(
            self.data_dir / "meta.json", self.data_dir / "meta.journal", storage=JournaledStorage
        )
        self._records = self._records_db.journaled
        self._meta = self._meta_db.journaled
        self._feedback: RecordTable = self._records_db.table("feedback")
        self._users: RecordTable = self._records_db.table("users")
        self._macros: RecordTable = self._meta_db.table("macros")
        self._runs: RecordTable = self._meta_db.table("runs")
        self._state: RecordTable = self._meta_db.table("state")
        self._retries: RecordTable = self._meta_db.table("retries")
        self._beats: RecordTable = self._meta_db.table("beats")  # run heartbeats, see run_beat
        self._settled: RecordTable = self._meta_db.table("settled")  # see run_settle
        self._log = DeliveryLog(self.data_dir / "logs")
        self._revision = 0
        self._reloads = 0  # cache changes that came with no ChangeEvent (see ``reloads``)
        self._edits = 0  # local changes not yet reflected in _revision (inside a batch)
        self._subscribers: list[Subscriber] = []
        self._pending_events: list[ChangeEvent] = []
        self._numbers: dict[str, int] = {}
        self._numbers_generation = -1
        self._all_cache: tuple[tuple[int, int], list[dict]] | None = None
        self._writer: GroupWriter | None = None
        self._writer_start = threading.Lock()
        self._transaction: int | None = None  # the thread inside a transaction's body

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the in-process mutex and catch up with other processes if they wrote.

        A writer of this process holds the mutex only while it changes the tables in
        memory, never during its fsync or compaction, so a read waits at most for that.
        """
        with self._lock.mutex:
            if not self._lock.held:  # while we hold the lock file nothing else can write
                self._refresh()  # two stats when nothing changed; never waits for the lock
            yield

    def _refresh(self) -> None:
        """Apply other processes' commits to the cache (under the lock, or read-only)."""
        changed = self._records.refresh()
        changed = self._meta.refresh() or changed
        if changed:
            self._reloaded()

    def _reloaded(self) -> None:
        """The cache changed without ChangeEvents (another process, a rolled-back write)."""
        self._revision += 1
        self._reloads += 1
        for table in (self._feedback, self._users, self._macros, self._runs, self._state, self._retries, self._beats,
                      self._settled):
            table.clear_cache()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A transaction: all changes inside commit together (one fsync) or not at all.

        Three phases, the lock file held throughout (so other processes wait) and this
        process's other writers waiting on ``_lock.writer``:

        1. under the in-memory mutex: catch up with other processes, run the body, prepare
           the commit (journal line serialised, or a shallow copy of the tables for a
           snapshot). Readers see the new state from the end of this phase on;
        2. without the mutex: append + fsync, or write and fsync the snapshot. Readers are
           not held up by it;
        3. only after that: submit() futures resolve and subscribers hear ChangeEvents.

        If phase 2 fails, the change is rolled back in memory too (the tables are reloaded
        from disk, which still holds the state before it) and the error raised: readers
        may have seen the change for that moment, nobody was told it is saved.
        """
        if self._transaction == threading.get_ident():
            yield  # nested in this thread's transaction: the outer one commits for us
            return
        events: list[ChangeEvent] = []
        with self._lock:
            plans: list[tuple[JournaledStorage, Any]] = []
            with self._lock.mutex:
                self._refresh()
                self._transaction = threading.get_ident()
                try:
                    yield
                    for storage in (self._records, self._meta):
                        plan = storage.prepare()
                        if plan is not None:
                            plans.append((storage, plan))
                except BaseException:
                    self._roll_back()
                    raise
                finally:
                    self._transaction = None
                if plans:
                    self._revision += 1
                    revision = self._revision
                    events = [replace(event, revision=revision) for event in self._pending_events]
                self._pending_events = []
            try:
                for storage, plan in plans:
                    storage.persist(plan)
            except BaseException as exc:
                with self._lock.mutex:
                    self._roll_back()
                if isinstance(exc, OSError):  # a full disk: nothing of this change was saved
                    raise StoreWriteError(write_failure(exc, self.data_dir)) from exc
                raise
        for event in events:
            self._emit(event)

    def _roll_back(self) -> None:
        """Forget a transaction's in-memory changes (call under the mutex)."""
        self._pending_events = []
        self._records.discard()
        self._meta.discard()
        self._reloaded()

    def batch(self) -> AbstractContextManager[None]:
        """``with store.batch():`` many calls, one lock hold, one journal write, one fsync.

        If an exception escapes the block nothing in it is written. Subscribers hear about
        the changes after the block commits.
        """
        return self._writing()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run a store call (``store.submit(store.feedback_update, ids, fields)``) on the
        background writer thread; the future resolves once the write is durable.
        Concurrent submissions are group-committed. Subscribers run on the writer thread.
        """
        with self._writer_start:
            if self._writer is None:
                self._writer = GroupWriter(self)
                atexit.register(self.close)
        return self._writer.submit(fn, *args, **kwargs)

    def flush(self) -> None:
        """Wait until everything submitted so far is durable."""
        if self._writer is not None:
            self.submit(lambda: None).result()

    def close(self) -> None:
        """Finish submitted writes and stop the writer thread (the store stays usable)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    # -- change notification -------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(ChangeEvent)`` after each commit of this process that adds or
        changes feedback or users. Returns a function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _emit(self, event: ChangeEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # the write is committed; one bad listener must not undo that
                log.exception("store subscriber %r failed", callback)

    @property
    def revision(self) -> int:
        """Grows whenever the data changes, here or in another process."""
        with self._reading():
            return self._revision

    @property
    def reloads(self) -> int:
        """Grows whenever the cached data changed *without* a ChangeEvent: another
        process's commits were read in, or a failed write was rolled back. A reader that
        keeps its own index up to date from ChangeEvents rebuilds it when this moves.
        A plain attribute read (no lock, no file check): it moves when some read or write
        of this process notices the change (``revision`` does that check)."""
        return self._reloads

    def snapshot(self, target: str = "feedback") -> tuple[int, list[dict]]:
        """``(revision, records)`` read together: every feedback item (or user) as of that
        revision. ChangeEvents with a higher ``revision`` are newer than the list."""
        table = self._users if target == "users" else self._feedback
        with self._reading():
            return self._revision, table.documents()

    def first_page(self, limit: int = 200) -> tuple[list[dict], dict] | None:
        """``(rows, counts)`` without reading the whole records snapshot: the ``limit``
        newest feedback items (``created`` descending, the feedback table's default sort)
        and ``{"feedback": N, "users": M, "by_type": {type: n} or None}``, from the small
        ``records.head.json`` written with each snapshot plus the journal.

        None when that is not possible or not certain (no head, a stale one, the records
        are already loaded, a journal entry it cannot place): then read the store as usual.
        A preview for the first paint; the full read that follows is the truth."""
        if self._records.loaded:
            return None
        return read_first_page(self._records.snapshot_path, self._records.journal_path, limit)

    # -- feedback --------------------------------------------------------------------------
    def feedback_all(self) -> list[dict]:
        """All feedback items in insertion order (a new list; the dicts are read-only)."""
        with self._reading():
            key = (self._revision, self._edits)
            if self._all_cache is None or self._all_cache[0] != key:
                self._all_cache = (key, self._feedback.documents())
            return list(self._all_cache[1])

    def feedback_get(self, record_id: str) -> dict | None:
        with self._reading():
            return self._feedback.raw(record_id)

    def feedback_count(self) -> int:
        with self._reading():
            return len(self._feedback.ids())

    def feedback_add(self, items: list[dict], *, origin: str = "cli") -> list[dict]:
        """Add normalised items (see ``Schema.feedback``); assigns ids and timestamps.

        One write for the whole batch. An item may bring its own ``id`` (an export being
        re-imported); it must be unused.
        """
        return self._add(self._feedback, items, origin=origin, target="feedback", stamp=True)

    def feedback_update(
        self, ids: list[str], fields: dict, *, origin: str = "cli", by_macro: str | None = None
    ) -> list[dict]:
        """Set the same ``fields`` on every record in ``ids``; returns them after the change."""
        return self._update(self._feedback, {rid: fields for rid in ids}, origin, by_macro, "feedback")

    def feedback_update_each(
        self, changes: dict[str, dict], *, origin: str = "cli", by_macro: str | None = None
    ) -> list[dict]:
        """Set different fields per record (``{id: fields}``) in one write."""
        return self._update(self._feedback, changes, origin, by_macro, "feedback")

    # -- users -----------------------------------------------------------------------------
    def users_all(self) -> list[dict]:
        with self._reading():
            return self._users.documents()

    def user_get(self, user_id: str) -> dict | None:
        with self._reading():
            return self._users.raw(user_id)

    def users_count(self) -> int:
        with self._reading():
            return len(self._users.ids())

    def users_add(self, items: list[dict], *, origin: str = "cli") -> list[dict]:
        """Add normalised users (see ``Schema.user``); assigns ``USR-NNNN`` ids."""
        return self._add(self._users, items, origin=origin, target="users", stamp=False)

    def users_update(self, ids: list[str], fields: dict, *, origin: str = "cli") -> list[dict]:
        return self._update(self._users, {uid: fields for uid in ids}, origin, None, "users")

    # -- the delivery log --------------------------------------------------------------------
    def log_append(self, entries: list[dict]) -> None:
        """Append attempts to the delivery log: one write + fsync for the batch.

        Entries without an ``id`` get one (``att-00000042``).
        """
        with self._lock:  # the lock file and this process's writers, not the readers' mutex
            try:
                self._log.append(entries)
            except OSError as exc:  # a torn tail is cut by the next append
                raise StoreWriteError(write_failure(exc, self._log.directory)) from exc

    def log_iter(self, **filters: Any) -> Iterator[dict]:
        """Log entries newest first; filters: macro, record_id, delivery_id, run_id,
        status ("404", "4xx", "ok", "failed"), trigger, since, until (ISO, inclusive)."""
        return self._log.iter_newest_first(**filters)

    def log_count(self) -> int:
        return self._log.count()

    def log_delivery_states(self, delivery_ids: set[str]) -> dict[str, str]:
        """Each delivery's state now (``delivered``, ``retrying``, ``failed``, ``skipped``:
        its newest entry's), for delivery ids found in the log."""
        return self._log.delivery_states(delivery_ids)

    # -- internals ----------------------------------------------------------------------------
    def _next_number(self, prefix: str) -> int:
        """The next free number for ``prefix`` (max in use + 1); call under the lock."""
        if self._numbers_generation != self._records.generation:
            numbers: dict[str, int] = {}
            for table in (self._feedback, self._users):
                for record_id in table.ids():
                    match = RECORD_ID.match(record_id)
                    if match:
                        p, n = match.group(1), int(match.group(2))
                        if n > numbers.get(p, 0):
                            numbers[p] = n
            self._numbers = numbers
            self._numbers_generation = self._records.generation
        return self._numbers.get(prefix, 0) + 1

    def _add(self, table: RecordTable, items: list[dict], *, origin: str, target: str, stamp: bool) -> list[dict]:
        with self._writing():
            taken = table.ids()
            now = iso()
            allocated: dict[str, int] = {}
            docs: list[tuple[str, dict]] = []
            seen: set[str] = set()
            for index, item in enumerate(items, 1):
                given = item.get("id")
                if given:
                    prefix, number = parse_id(str(given))
                    if given in taken or given in seen:
                        raise InputError(f"{target} item {index}: id {given!r} is already in use.")
                    record_id = str(given)
                else:
                    if target == "feedback":
                        prefix = self.schema.type_named(
                            str(item.get("type") or ""), where=f"{target} item {index}: field 'type'"
                        ).prefix
                    else:
                        prefix = USER_PREFIX
                    number = max(allocated.get(prefix, 0), self._next_number(prefix))
                    record_id = format_id(prefix, number)
                allocated[prefix] = max(allocated.get(prefix, 0), number + 1)
                seen.add(record_id)
                doc = {"id": record_id}  # id first, for people reading the file
                doc.update(item)
                doc["id"] = record_id
                if stamp:
                    doc["created"] = doc.get("created") or now
                    doc["modified"] = doc.get("modified") or doc["created"]
                docs.append((record_id, doc))
            table.put_many(docs)
            for prefix, following in allocated.items():
                self._numbers[prefix] = max(self._numbers.get(prefix, 0), following - 1)
            self._edits += 1
            added = [table.stored(doc_id) for doc_id, _ in docs]
            if added:
                self._pending_events.append(ChangeEvent(
                    "submit", added, [None for _ in added], _field_sets(added),
                    origin=origin, target=target,
                ))
            return added

    def _update(
        self, table: RecordTable, changes: dict[str, dict], origin: str, by_macro: str | None, target: str
    ) -> list[dict]:
        with self._writing():
            for record_id in changes:
                if table.raw(record_id) is None:
                    what = "feedback item" if target == "feedback" else "user"
                    raise NotFound(f"{what} {shown_value(record_id)}: no such record.")
            now = iso()
            targets: dict[str, dict] = {}
            befores: list[dict | None] = []
            changed: list[set[str]] = []
            for record_id, fields in changes.items():
                old = table.stored(record_id)  # checked above, under the same lock
                diff = {k for k, v in fields.items() if k != "id" and old.get(k, _MISSING) != v}
                if not diff - {"modified"}:
                    continue  # nothing really changes: no write, no modify event
                new = {k: fields[k] for k in diff}
                if target == "feedback" and "modified" not in fields:
                    new["modified"] = now
                targets[record_id] = new
                befores.append(old)
                changed.append(diff - {"modified"})
            if targets:
                table.update_ids(lambda doc: doc.update(targets[doc["id"]]), targets)
                self._edits += 1
                self._pending_events.append(ChangeEvent(
                    "modify", [table.stored(rid) for rid in targets], befores, changed,
                    origin=origin, by_macro=by_macro, target=target,
                ))
            return [table.stored(rid) for rid in changes]


def _field_sets(records: list[dict]) -> list[set[str]]:
    """``set(record)`` for each record, sharing one set between records with the same keys
    (a 100k import mostly has one shape; building 100k equal sets is wasted time)."""
    sets: list[set[str]] = []
    shared: set[str] | None = None
    for record in records:
        if shared is None or record.keys() != shared:
            shared = set(record)
        sets.append(shared)
    return sets
