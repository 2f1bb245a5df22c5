"""The journaled TinyDB storage: replay, torn tails, compaction, crash windows."""

from __future__ import annotations

import orjson
import pytest
from tinydb.table import Document

from cctui.store import StoreCorrupt, journal
from cctui.store.journal import JournaledStorage
from cctui.store.tables import CctuiDB


def open_db(tmp_path):
    db = CctuiDB(tmp_path / "r.json", tmp_path / "r.journal", storage=JournaledStorage)
    return db, db.storage, db.table("feedback")


def journal_lines(tmp_path) -> list[dict]:
    return [orjson.loads(line) for line in (tmp_path / "r.journal").read_bytes().splitlines()]


def test_small_write_appends_one_line_and_reopen_replays_it(tmp_path):
    db, storage, table = open_db(tmp_path)
    table.insert_multiple([Document({"id": f"BUG-{n}", "v": n}, f"BUG-{n}") for n in range(3)])
    storage.commit()
    table.update({"v": 42}, doc_ids=["BUG-1"])
    storage.commit()
    lines = journal_lines(tmp_path)
    assert [line["seq"] for line in lines] == [1, 2]
    # the second commit carries only the edited document
    assert lines[1]["ops"] == [["feedback", {"BUG-1": {"id": "BUG-1", "v": 42}}, []]]
    _, _, again = open_db(tmp_path)
    assert again.raw("BUG-1") == {"id": "BUG-1", "v": 42}
    assert [d["id"] for d in again.documents()] == ["BUG-0", "BUG-1", "BUG-2"]


def test_remove_is_journaled(tmp_path):
    _, storage, table = open_db(tmp_path)
    table.insert_multiple([Document({"id": "A-1"}, "A-1"), Document({"id": "A-2"}, "A-2")])
    storage.commit()
    table.remove(doc_ids=["A-1"])
    storage.commit()
    _, _, again = open_db(tmp_path)
    assert [d["id"] for d in again.documents()] == ["A-2"]


def test_torn_last_line_is_ignored_then_cut_by_the_next_writer(tmp_path):
    _, storage, table = open_db(tmp_path)
    table.insert(Document({"id": "A-1", "v": 1}, "A-1"))
    storage.commit()
    with open(tmp_path / "r.journal", "ab") as handle:
        handle.write(b'{"seq": 2, "ops": [["feedback", {"A-1": {"v"')  # killed mid-append
    _, storage2, table2 = open_db(tmp_path)
    assert table2.raw("A-1") == {"id": "A-1", "v": 1}
    table2.update({"v": 3}, doc_ids=["A-1"])
    storage2.commit()
    assert [line["seq"] for line in journal_lines(tmp_path)] == [1, 2]
    _, _, table3 = open_db(tmp_path)
    assert table3.raw("A-1")["v"] == 3


def test_compaction_writes_snapshot_and_empties_journal(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "COMPACT_MIN_BYTES", 2000)
    _, storage, table = open_db(tmp_path)
    table.insert_multiple([Document({"id": f"A-{n}", "text": "x" * 100}, f"A-{n}") for n in range(40)])
    storage.commit()  # bigger than the limit on its own: straight to a snapshot
    assert (tmp_path / "r.json").exists()
    assert not (tmp_path / "r.journal").exists() or (tmp_path / "r.journal").stat().st_size == 0
    for n in range(40):
        table.update({"text": "y" * 50 + str(n)}, doc_ids=["A-1"])
        storage.commit()
    size = (tmp_path / "r.journal").stat().st_size
    assert size < 2000  # compacted along the way
    snap = orjson.loads((tmp_path / "r.json").read_bytes())
    assert snap["_cctui"]["seq"] <= storage.seq
    _, _, again = open_db(tmp_path)
    assert again.raw("A-1")["text"] == "y" * 50 + "39"


def test_crash_between_snapshot_and_journal_truncate_replays_nothing_twice(tmp_path):
    _, storage, table = open_db(tmp_path)
    table.insert(Document({"id": "A-1", "v": 1}, "A-1"))
    storage.commit()
    table.update({"v": 2}, doc_ids=["A-1"])
    storage.commit()
    old_journal = (tmp_path / "r.journal").read_bytes()
    table.remove(doc_ids=["A-1"])
    table.insert(Document({"id": "A-2", "v": 9}, "A-2"))
    storage.commit()
    storage.compact()
    # simulate dying after os.replace but before the journal was emptied
    (tmp_path / "r.journal").write_bytes(old_journal)
    _, storage2, table2 = open_db(tmp_path)
    assert table2.raw("A-1") is None  # old lines (seq <= snapshot seq) were skipped
    assert table2.raw("A-2") == {"id": "A-2", "v": 9}
    assert storage2.seq == 3


def test_refresh_replays_only_another_writers_tail(tmp_path):
    _, storage_a, table_a = open_db(tmp_path)
    _, storage_b, table_b = open_db(tmp_path)
    table_a.insert(Document({"id": "A-1", "v": 1}, "A-1"))
    storage_a.commit()
    assert storage_b.stale()
    generation = storage_b.generation
    assert storage_b.refresh()
    assert storage_b.generation == generation + 1
    assert table_b.raw("A-1") == {"id": "A-1", "v": 1}
    assert not storage_b.refresh()


def test_unchanged_update_writes_nothing(tmp_path):
    _, storage, table = open_db(tmp_path)
    table.insert(Document({"id": "A-1", "v": 1}, "A-1"))
    storage.commit()
    table.update({"v": 1}, doc_ids=["A-1"])
    assert not storage.dirty
    assert not storage.commit()


def test_documents_are_copied_on_write(tmp_path):
    _, storage, table = open_db(tmp_path)
    table.insert(Document({"id": "A-1", "v": 1}, "A-1"))
    before = table.raw("A-1")
    table.update({"v": 2}, doc_ids=["A-1"])
    assert before == {"id": "A-1", "v": 1}
    assert table.raw("A-1") == {"id": "A-1", "v": 2}


def test_failed_updater_reverts_the_cache(tmp_path):
    _, storage, table = open_db(tmp_path)
    table.insert(Document({"id": "A-1", "v": 1}, "A-1"))
    storage.commit()

    def boom(doc):
        doc["v"] = 5
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        table.update(boom, doc_ids=["A-1"])
    assert table.raw("A-1") == {"id": "A-1", "v": 1}
    assert not storage.dirty


def test_corrupt_snapshot_names_the_file(tmp_path):
    (tmp_path / "r.json").write_text("{not json")
    with pytest.raises(StoreCorrupt, match="r.json"):
        open_db(tmp_path)


def test_stale_temp_files_are_removed_on_compaction(tmp_path):
    (tmp_path / ".r.json.tmp-99999").write_bytes(b"half a snapsh")
    _, storage, table = open_db(tmp_path)
    table.insert(Document({"id": "A-1"}, "A-1"))
    storage.commit()
    storage.compact()
    assert not list(tmp_path.glob(".r.json.tmp-*"))


def test_damaged_line_with_commits_after_it_is_an_error_not_silent_loss(tmp_path):
    _, storage, table = open_db(tmp_path)
    for n in range(1, 4):
        table.insert(Document({"id": f"A-{n}", "v": n}, f"A-{n}"))
        storage.commit()
    path = tmp_path / "r.journal"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = b'{"seq": 2, "ops": garbage}\n'  # damage in the middle, a commit after it
    path.write_bytes(b"".join(lines))
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt, match=r"r\.journal: line 2 "):
        open_db(tmp_path)
    assert path.read_bytes() == before  # nothing cut, nothing rewritten


def test_damaged_last_complete_line_counts_as_a_torn_append(tmp_path):
    _, storage, table = open_db(tmp_path)
    table.insert(Document({"id": "A-1", "v": 1}, "A-1"))
    storage.commit()
    with open(tmp_path / "r.journal", "ab") as handle:
        handle.write(b"\x00\x00\x00\n")  # zero-filled tail from a crash
    _, _, again = open_db(tmp_path)
    assert again.raw("A-1") == {"id": "A-1", "v": 1}
