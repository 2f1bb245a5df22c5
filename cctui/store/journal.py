"""A TinyDB storage that keeps every table in memory and persists it as snapshot + journal.

On disk a database is two files:

* ``NAME.json``, the *snapshot*: TinyDB's usual ``{table: {doc_id: doc}}`` layout plus a
  ``"_cctui": {"seq": N}`` entry saying which journal entries it already contains. It is
  only ever replaced atomically (temp file, fsync, ``os.replace``, fsync the directory).
* ``NAME.journal``: one JSON line per commit, ``{"seq": N, "ops": [[table, {id: doc},
  [removed ids]], ...]}``. Ops carry whole documents, so replaying a line twice is
  harmless; replay skips ``seq`` at or below the snapshot's, and stops at the first line
  that is incomplete or unparsable (a writer killed mid-append).

A small write is one appended line + fsync, whatever the size of the snapshot. When the
journal outgrows a quarter of the snapshot (or a commit is that big on its own, like a bulk
import) the commit is written as a fresh snapshot instead and the journal is emptied.

The storage does no locking: :class:`cctui.store.store.Store` holds the data-dir lock
around :meth:`refresh` + changes + :meth:`prepare` + :meth:`persist`, and its in-memory
mutex only around the first three: the file I/O of :meth:`persist` (fsync, compaction) runs
while readers of this process go on reading the tables, which already hold the change.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from tinydb.storages import Storage

from cctui.errors import CctuiError, InputError
from cctui.store.files import (
    Signature,
    append_durably,
    atomic_write,
    remove_stale_temps,
    signature,
)

META_KEY = "_cctui"
FORMAT = 1
#: A journal is folded into the snapshot once it is this fraction of the snapshot's size ...
COMPACT_RATIO = 0.25
#: ... but small databases are not rewritten more often than every this many bytes.
COMPACT_MIN_BYTES = 256 * 1024

Tables = dict[str, dict[str, dict[str, Any]]]


class Commit(NamedTuple):
    """A commit prepared in memory, waiting for :meth:`JournaledStorage.write`."""

    seq: int
    line: bytes | None  # one journal line to append, or None: write a snapshot of ...
    tables: Tables | None  # ... these tables (shallow copies; documents are never mutated)


class StoreCorrupt(CctuiError):
    """A data file that is not what cctui wrote (edited by hand, or another program)."""

    exit_code = 1


class JournaledStorage(Storage):
    """TinyDB :class:`~tinydb.storages.Storage` over an in-memory cache, snapshot and journal."""

    def __init__(self, snapshot_path: str | os.PathLike, journal_path: str | os.PathLike | None = None,
                 *, lazy: bool = False,
                 on_snapshot: Callable[[int, Tables, Signature], None] | None = None):
        """``lazy``: read the files on first use of :attr:`tables` rather than now (the
        caller then holds whatever mutex guards its reads, as :class:`Store` does).
        ``on_snapshot(seq, tables, signature)`` runs after each snapshot is written."""
        self.snapshot_path = Path(snapshot_path)
        self.journal_path = Path(journal_path) if journal_path else self.snapshot_path.with_suffix(".journal")
        self.on_snapshot = on_snapshot
        self._tables: Tables = {}
        self._loaded = False
        self._load_lock = threading.Lock()
        #: Highest seq applied to ``tables`` and the seq the snapshot on disk contains.
        self.seq = 0
        self.snapshot_seq = 0
        #: Bytes of the journal that hold complete, applied lines.
        self.journal_valid = 0
        #: Grows every time the cache changes from disk (not from our own commits).
        self.generation = 0
        self._snapshot_sig: Signature = None
        self._journal_sig: Signature = None
        self._pending: dict[str, tuple[dict[str, Any], set[str]]] = {}
        self._full_rewrite = False
        if not lazy or not self._written_by_us():
            self._load_now()  # a file cctui did not write: its errors surface at open, as before

    def _written_by_us(self) -> bool:
        """Does the snapshot start the way :meth:`_write_snapshot` writes it (or not exist)?"""
        try:
            with open(self.snapshot_path, "rb") as handle:
                start = handle.read(len(META_KEY) + 12)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return start.startswith(b'{"' + META_KEY.encode() + b'":{"seq":')

    @property
    def loaded(self) -> bool:
        """Has the snapshot been read? (False only before first use of a lazy storage)"""
        return self._loaded

    @property
    def tables(self) -> Tables:
        """The live in-memory tables (read on first use when lazy)."""
        if not self._loaded:
            self._load_now()
        return self._tables

    @tables.setter
    def tables(self, value: Tables) -> None:
        self._tables = value

    def _load_now(self) -> None:
        with self._load_lock:
            if not self._loaded:
                self.load()
                self.refresh()  # in case a compaction ran while we read

    # -- TinyDB's Storage interface ------------------------------------------------
    def read(self) -> Tables:
        """The live in-memory tables (TinyDB reads through this; never copied)."""
        return self.tables

    def write(self, data: Tables) -> None:
        """TinyDB's whole-database write (``drop_tables`` and friends): staged as a rewrite."""
        self.tables = {name: dict(docs) for name, docs in data.items()}
        self._loaded = True
        self._pending.clear()
        self._full_rewrite = True

    def close(self) -> None:
        pass

    # -- staging and committing ----------------------------------------------------
    def table(self, name: str) -> dict[str, dict[str, Any]]:
        """The live dict of one table, created empty if missing."""
        return self.tables.setdefault(name, {})

    def stage(self, table: str, puts: dict[str, Any], removed: set[str]) -> None:
        """Remember documents written or removed since the last commit."""
        if not puts and not removed:
            return
        staged_puts, staged_removed = self._pending.setdefault(table, ({}, set()))
        for doc_id in removed:
            staged_puts.pop(doc_id, None)
            staged_removed.add(doc_id)
        for doc_id, doc in puts.items():
            staged_removed.discard(doc_id)
            staged_puts[doc_id] = doc

    @property
    def dirty(self) -> bool:
        return bool(self._pending) or self._full_rewrite

    def commit(self) -> bool:
        """Persist staged changes durably (call under the lock). True if anything was written.

        :meth:`prepare` then :meth:`persist`; if the write fails the cache is reloaded from
        disk, so memory never keeps a change that is not on disk."""
        try:
            plan = self.prepare()
            if plan is None:
                return False
            self.persist(plan)
        except BaseException:
            self.discard()
            raise
        return True

    def prepare(self) -> Commit | None:
        """Turn the staged changes into a :class:`Commit` (in memory only, fast).

        The journal line is serialised here (small: only the changed documents), so a value
        that is not JSON fails before anyone else sees it. A snapshot keeps shallow copies
        of the tables: documents are copied on write, so the copy stays a consistent,
        immutable picture while later commits change the live tables. Afterwards nothing is
        staged; call :meth:`persist` (without the in-memory mutex) to make it durable, or
        :meth:`discard` to drop it.
        """
        if not self.dirty:
            return None
        seq = self.seq + 1
        plan: Commit
        if self._full_rewrite or self._bulk():
            plan = Commit(seq, None, self._frozen())  # a snapshot is cheaper than line + compaction
        else:
            ops = [[name, puts, sorted(removed)] for name, (puts, removed) in self._pending.items()]
            try:
                line = orjson.dumps({"seq": seq, "ops": ops}) + b"\n"
            except TypeError as exc:
                raise InputError(f"{self.snapshot_path.name}: a value cannot be stored as JSON ({exc}).") from None
            snapshot_size = self._snapshot_sig[1] if self._snapshot_sig else 0
            limit = max(COMPACT_MIN_BYTES, snapshot_size * COMPACT_RATIO)
            if self.journal_valid + len(line) > limit:
                plan = Commit(seq, None, self._frozen())  # fold the journal into a new snapshot
            else:
                plan = Commit(seq, line, None)
        self.seq = seq
        self._pending.clear()
        self._full_rewrite = False
        return plan

    def persist(self, plan: Commit) -> None:
        """Make a prepared commit durable: append + fsync one journal line, or write a new
        snapshot (serialise, temp file, fsync, ``os.replace``, fsync the directory) and
        empty the journal. Call under the data-dir lock, but not the in-memory mutex:
        this touches only the files and the bookkeeping of what is on disk, which only the
        lock holder uses."""
        if plan.line is not None:
            self.journal_valid = append_durably(self.journal_path, plan.line, valid_length=self.journal_valid)
            self._journal_sig = signature(self.journal_path)
        else:
            self._write_snapshot(plan.seq, plan.tables or {})

    def _frozen(self) -> Tables:
        return {name: dict(docs) for name, docs in self.tables.items()}

    def _bulk(self) -> bool:
        """Does the staged change touch over a quarter of all documents (an import, a seed)?"""
        staged = sum(len(puts) + len(removed) for puts, removed in self._pending.values())
        total = sum(len(docs) for docs in self.tables.values())
        return staged * 4 > total and staged > 1000

    def discard(self) -> None:
        """Forget staged changes; the cache was already modified, so reload it from disk."""
        self._pending.clear()
        self._full_rewrite = False
        self.load()
        self.refresh()

    def compact(self) -> None:
        """Write everything as a fresh snapshot, then empty the journal."""
        self._write_snapshot(self.seq, self._frozen())

    def _write_snapshot(self, seq: int, tables: Tables) -> None:
        """Crash-safe in this order: until ``os.replace`` the old snapshot + journal are
        intact; after it, the new snapshot's seq makes the old journal lines no-ops."""
        remove_stale_temps(self.snapshot_path)
        payload: dict[str, Any] = {META_KEY: {"seq": seq, "format": FORMAT}}
        payload.update(tables)
        try:
            data = orjson.dumps(payload)
        except TypeError as exc:
            raise InputError(f"{self.snapshot_path.name}: a value cannot be stored as JSON ({exc}).") from None
        del payload
        atomic_write(self.snapshot_path, data)
        self.snapshot_seq = seq
        self._snapshot_sig = signature(self.snapshot_path)
        if self.on_snapshot is not None:
            self.on_snapshot(seq, tables, self._snapshot_sig)
        if self.journal_path.exists():
            with open(self.journal_path, "r+b") as handle:
                handle.truncate(0)
                os.fsync(handle.fileno())
        self.journal_valid = 0
        self._journal_sig = signature(self.journal_path)

    # -- noticing other processes ----------------------------------------------------
    def stale(self) -> bool:
        """Has another process committed since we last looked? (two ``stat`` calls)"""
        return (
            signature(self.snapshot_path) != self._snapshot_sig
            or signature(self.journal_path) != self._journal_sig
        )

    def refresh(self) -> bool:
        """Bring the cache up to date with disk; True if anything changed.

        Safe without the lock: a line still being appended is incomplete and waits for the
        next refresh, and if a compaction replaced the snapshot while we read, the snapshot's
        signature no longer matches afterwards and we read again.
        """
        if not self._loaded:
            return False  # nothing cached yet: the first use reads the latest files
        changed = False
        for _attempt in range(20):
            if not self.stale():
                return changed
            journal = signature(self.journal_path)
            tail_only = (
                signature(self.snapshot_path) == self._snapshot_sig
                and journal is not None and self._journal_sig is not None
                and journal[0] == self._journal_sig[0] and journal[1] >= self.journal_valid
            )
            if tail_only:
                before = self.seq
                self._replay_journal()
                if self.seq != before:
                    self.generation += 1
                    changed = True
            else:
                self.load()  # compacted or replaced by someone else: start over
                changed = True
            if signature(self.snapshot_path) == self._snapshot_sig:
                return changed
            self._snapshot_sig = None  # compacted under us: what we read may be mixed
        raise StoreCorrupt(f"{self.snapshot_path}: it keeps changing while being read; try again.")

    def load(self) -> None:
        """Read the snapshot and replay the journal from scratch."""
        self.generation += 1
        try:
            with open(self.snapshot_path, "rb") as handle:
                raw = handle.read()
                st = os.fstat(handle.fileno())
            self._snapshot_sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            raw, self._snapshot_sig = b"", None
        try:
            data = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise StoreCorrupt(
                f"{self.snapshot_path}: the file is not valid JSON ({exc}); restore it from a backup."
            ) from None
        if not isinstance(data, dict):
            raise StoreCorrupt(f"{self.snapshot_path}: expected a JSON object of tables.")
        meta = data.pop(META_KEY, None) or {}
        self.tables = data
        self._loaded = True
        self.seq = self.snapshot_seq = int(meta.get("seq", 0))
        self.journal_valid = 0
        self._journal_sig = None
        self._replay_journal()

    def _replay_journal(self) -> None:
        """Apply complete journal lines past ``journal_valid`` whose seq is new to us."""
        try:
            with open(self.journal_path, "rb") as handle:
                handle.seek(self.journal_valid)
                tail = handle.read()
                st = os.fstat(handle.fileno())
        except FileNotFoundError:
            self.journal_valid = 0
            self._journal_sig = None
            return
        self._journal_sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        position = 0
        while True:
            end = tail.find(b"\n", position)
            if end < 0:
                break  # incomplete last line: a torn append, or one still being written
            try:
                entry = orjson.loads(tail[position:end])
                seq = int(entry["seq"])
                ops = entry["ops"]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                if tail.find(b"\n", end + 1) >= 0:
                    # A crash can only tear the last append; a bad line with complete lines
                    # after it is damage, and skipping it would silently drop those commits.
                    line = self._line_number(self.journal_valid + position)
                    raise StoreCorrupt(
                        f"{self.journal_path}: line {line} is not a valid journal entry but "
                        "later entries follow it; restore the file from a backup or remove the "
                        "damaged line by hand."
                    ) from None
                break  # the torn last append: ignored here, cut by the next writer
            if seq > self.seq:
                for name, puts, removed in ops:
                    docs = self.tables.setdefault(name, {})
                    for doc_id in removed:
                        docs.pop(doc_id, None)
                    docs.update(puts)
                self.seq = seq
            position = end + 1
        self.journal_valid += position

    def _line_number(self, offset: int) -> int:
        """1-based line number of byte ``offset`` in the journal (only for error messages)."""
        with open(self.journal_path, "rb") as handle:
            return handle.read(offset).count(b"\n") + 1
