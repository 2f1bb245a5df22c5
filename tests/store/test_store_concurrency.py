"""Readers never wait behind a writer's file I/O; writes stay atomic and durable first.

Each test holds the writer *inside* its file I/O (a gate wrapped around the function that
fsyncs) and checks what other threads can do meanwhile. Ordering is forced with events;
nothing here measures time. The joins' timeouts only keep a regression from hanging the
suite: a read that waits for the writer never finishes while the gate is closed.
"""

from __future__ import annotations

import threading

import pytest

from cctui.core.records import Schema
from cctui.errors import StoreWriteError
from cctui.store import journal, logs, open_store
from cctui.store.journal import JournaledStorage
from cctui.store.tables import CctuiDB

SCHEMA = Schema()
GUARD = 60  # seconds; a deadlock guard, not a measurement


def items(n: int) -> list[dict]:
    return [SCHEMA.feedback({"type": "bug", "title": f"item {i}", "description": "x" * 200}) for i in range(n)]


class Gate:
    """Wraps a file-writing function: the writer announces it is inside, then waits."""

    def __init__(self, real):
        self.real = real
        self.inside = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        self.inside.set()
        assert self.release.wait(GUARD), "the test never opened the gate"
        return self.real(*args, **kwargs)


def read_while_gated(store, gate: Gate, read) -> list:
    """Run ``read(store)`` on a reader thread while the writer sits inside ``gate``;
    return what it read, and whether the writer was still inside when the read ended."""
    assert gate.inside.wait(GUARD), "the writer never reached its file I/O"
    seen: list = []

    def reader():
        value = read(store)
        seen.append((value, not gate.release.is_set()))

    thread = threading.Thread(target=reader)
    thread.start()
    thread.join(GUARD)
    finished = not thread.is_alive()
    gate.release.set()  # let the writer finish (and a stuck reader with it)
    thread.join(GUARD)
    assert finished, "the read waited for the writer's file I/O"
    return seen


def test_reads_finish_while_the_writer_compacts_a_large_snapshot(data_dir, monkeypatch):
    store = open_store(data_dir, SCHEMA)
    store.feedback_add(items(3000))
    ids = [r["id"] for r in store.feedback_all()]
    heard: list = []
    store.subscribe(heard.append)
    gate = Gate(journal.atomic_write)
    monkeypatch.setattr(journal, "atomic_write", gate)

    # every record changes: written as a fresh snapshot (serialise + fsync + replace)
    future = store.submit(store.feedback_update, ids, {"status": "Closed"})
    seen = read_while_gated(store, gate, lambda s: (
        s.feedback_get(ids[0])["status"], s.feedback_count(), len(s.feedback_all()), s.revision,
        s.snapshot()[0],
    ))
    (status, count, listed, revision, snap_revision), writer_still_inside = seen[0]
    assert writer_still_inside  # the read completed during the compaction's file I/O
    # the read saw a consistent, complete state: the new one (documented: visible before
    # fsync) -- but nobody was told it is saved until it was
    assert (status, count, listed) == ("Closed", 3000, 3000) and snap_revision == revision
    assert future.result(GUARD)[0]["status"] == "Closed"
    assert gate.calls == 1
    assert [e.kind for e in heard] == ["modify"] and heard[0].revision == revision
    assert open_store(data_dir, SCHEMA).feedback_get(ids[-1])["status"] == "Closed"


def test_nothing_is_acknowledged_or_announced_before_the_fsync(data_dir, monkeypatch):
    store = open_store(data_dir, SCHEMA)
    store.feedback_add(items(3))
    heard: list = []
    store.subscribe(heard.append)
    gate = Gate(journal.append_durably)
    monkeypatch.setattr(journal, "append_durably", gate)

    future = store.submit(store.feedback_update, ["BUG-0001"], {"votes": 7})
    assert gate.inside.wait(GUARD)
    # the writer is inside its journal append: not durable yet, so not acknowledged
    assert not future.done() and heard == []
    seen = read_while_gated(store, gate, lambda s: s.feedback_get("BUG-0001")["votes"])
    assert seen == [(7, True)]
    assert future.result(GUARD)[0]["votes"] == 7
    assert len(heard) == 1 and heard[0].ids == ["BUG-0001"]
    assert open_store(data_dir, SCHEMA).feedback_get("BUG-0001")["votes"] == 7


def test_reads_finish_while_the_delivery_log_is_fsynced(data_dir, monkeypatch):
    store = open_store(data_dir, SCHEMA)
    store.feedback_add(items(2))
    gate = Gate(logs.append_durably)
    monkeypatch.setattr(logs, "append_durably", gate)
    writer = threading.Thread(target=store.log_append, args=([{"macro": "m", "record_id": "BUG-0001"}],))
    writer.start()
    seen = read_while_gated(store, gate, lambda s: (s.feedback_count(), s.revision))
    writer.join(GUARD)
    assert seen[0][1] and seen[0][0][0] == 2
    assert store.log_count() == 1


def test_a_second_writer_thread_waits_for_the_first_ones_fsync(data_dir, monkeypatch):
    store = open_store(data_dir, SCHEMA)
    store.feedback_add(items(2))
    gate = Gate(journal.append_durably)
    monkeypatch.setattr(journal, "append_durably", gate)
    first = threading.Thread(target=store.feedback_update, args=(["BUG-0001"], {"votes": 1}))
    first.start()
    assert gate.inside.wait(GUARD)
    done = threading.Event()

    def second():
        store.feedback_update(["BUG-0002"], {"votes": 2})
        done.set()

    other = threading.Thread(target=second)
    other.start()
    # the second writer cannot get in while the first holds the lock: it is still waiting
    # once the first leaves the gate, and both land, in order, one journal line each
    assert not done.is_set()
    gate.release.set()
    first.join(GUARD)
    other.join(GUARD)
    assert done.is_set() and gate.calls == 2
    again = open_store(data_dir, SCHEMA)
    assert again.feedback_get("BUG-0001")["votes"] == 1 and again.feedback_get("BUG-0002")["votes"] == 2


@pytest.mark.parametrize("where", ["journal", "snapshot"])
def test_a_failed_fsync_rolls_the_change_back_in_memory(data_dir, monkeypatch, where):
    store = open_store(data_dir, SCHEMA)
    store.feedback_add(items(1200))
    heard: list = []
    store.subscribe(heard.append)
    before = store.revision

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    name = "append_durably" if where == "journal" else "atomic_write"
    monkeypatch.setattr(journal, name, broken)
    ids = ["BUG-0001"] if where == "journal" else [r["id"] for r in store.feedback_all()]
    future = store.submit(store.feedback_update, ids, {"status": "Closed"})
    # one sentence naming the data dir, exit code 1 in the CLI
    with pytest.raises(StoreWriteError, match="the disk is full"):
        future.result(GUARD)
    with pytest.raises(StoreWriteError, match="the disk is full"):
        store.feedback_update(ids, {"status": "Closed"})
    assert store.feedback_get("BUG-0001")["status"] == "New"  # memory agrees with disk
    assert store.revision > before and heard == []
    monkeypatch.undo()
    store.feedback_update(["BUG-0002"], {"votes": 3})  # the store goes on working
    again = open_store(data_dir, SCHEMA)
    assert again.feedback_get("BUG-0001")["status"] == "New"
    assert again.feedback_get("BUG-0002")["votes"] == 3


def test_reloads_moves_for_other_processes_not_for_our_own_commits(data_dir):
    store = open_store(data_dir, SCHEMA)
    store.feedback_add(items(2))
    start = store.reloads
    store.feedback_update(["BUG-0001"], {"votes": 1})
    assert store.revision and store.reloads == start
    open_store(data_dir, SCHEMA).feedback_update(["BUG-0002"], {"votes": 2})  # "another process"
    assert store.feedback_get("BUG-0002")["votes"] == 2
    assert store.reloads == start + 1


def test_a_prepared_snapshot_is_immune_to_later_changes(tmp_path):
    db = CctuiDB(tmp_path / "r.json", tmp_path / "r.journal", storage=JournaledStorage)
    storage: JournaledStorage = db.storage  # type: ignore[assignment]
    table = db.table("feedback")
    from tinydb.table import Document

    table.insert_multiple([Document({"id": f"B-{i}", "v": 0}, f"B-{i}") for i in range(2000)])
    plan = storage.prepare()
    assert plan is not None and plan.line is None  # bulk: a snapshot
    # a later change to the live tables (the next transaction) must not leak into it
    table.update({"v": 1}, doc_ids=["B-0"])
    table.insert(Document({"id": "B-new", "v": 0}, "B-new"))
    storage.persist(plan)
    reread = JournaledStorage(tmp_path / "r.json", tmp_path / "r.journal")
    assert reread.tables["feedback"]["B-0"]["v"] == 0 and "B-new" not in reread.tables["feedback"]


def test_tinydb_whole_database_write_still_reaches_the_disk(tmp_path):
    """TinyDB's Storage.write(tables) (drop_tables and friends) is staged as a rewrite; it
    was shadowed by the commit method of the same name and failed on any call."""
    storage = JournaledStorage(tmp_path / "r.json", tmp_path / "r.journal")
    storage.write({"feedback": {"BUG-0001": {"id": "BUG-0001", "title": "kept"}}})
    assert storage.commit() is True
    reread = JournaledStorage(tmp_path / "r.json", tmp_path / "r.journal")
    assert reread.read()["feedback"]["BUG-0001"]["title"] == "kept"
