"""records.head.json and Store.first_page(): the first screenful without the full snapshot."""

from __future__ import annotations

import os

import orjson
import pytest

from cctui.core.records import Schema
from cctui.store import head as head_module
from cctui.store import open_store
from cctui.store.head import head_path
from cctui.tui.widgets.table_model import first_rows

SCHEMA = Schema()
TYPES = ("bug", "idea", "praise", "disc")
COUNT = 1500  # over 1000 and a quarter of the table: written as a snapshot (a bulk write)


def created(i: int) -> str:
    return f"2026-{1 + i // 28 // 24 % 12:02d}-{1 + i // 24 % 28:02d}T{i % 24:02d}:00:00Z"


def bulk(n: int = COUNT, start: int = 0) -> list[dict]:
    return [SCHEMA.feedback({"type": TYPES[i % 4], "title": f"item {i}", "created": created(i)})
            for i in range(start, start + n)]


@pytest.fixture
def data(data_dir):
    store = open_store(data_dir, SCHEMA)
    store.users_add([{"name": "Ada"}, {"name": "Grace"}])
    store.feedback_add(bulk())
    store.close()
    return data_dir


def truth(data_dir, limit: int = 200):
    """What the table shows once everything is read: the newest ``limit`` and the counts."""
    store = open_store(data_dir, SCHEMA)
    feedback = store.feedback_all()
    by_type: dict[str, int] = {}
    for record in feedback:
        by_type[record["type"]] = by_type.get(record["type"], 0) + 1
    return first_rows(feedback, SCHEMA, "created", True, limit), \
        {"feedback": len(feedback), "users": store.users_count(), "by_type": by_type}


def fresh_page(data_dir, limit: int = 200):
    return open_store(data_dir, SCHEMA).first_page(limit)


def test_a_bulk_write_leaves_a_head_that_matches_the_full_read(data):
    assert head_path(data / "records.json").exists()
    assert not list(data.glob(".records.head.json.tmp-*"))  # written through a temp file
    rows, counts = fresh_page(data)
    expected_rows, expected_counts = truth(data)
    assert rows == expected_rows and len(rows) == 200
    assert counts == expected_counts


def test_opening_the_store_does_not_read_the_records_and_first_page_needs_no_read(data):
    store = open_store(data, SCHEMA)
    assert not store._records.loaded
    assert store.first_page() is not None
    assert not store._records.loaded
    assert store.feedback_count() == COUNT  # the first real read loads them
    assert store._records.loaded
    assert store.first_page() is None  # loaded: the caller reads the store itself


def test_compaction_rewrites_the_head(data):
    store = open_store(data, SCHEMA)
    store.feedback_add(bulk(3, start=COUNT))  # journal lines
    before = head_path(data / "records.json").read_bytes()
    with store._lock:
        store._records.compact()
    assert head_path(data / "records.json").read_bytes() != before
    assert (data / "records.journal").stat().st_size == 0
    assert orjson.loads(head_path(data / "records.json").read_bytes())["feedback_count"] == COUNT + 3
    assert fresh_page(data) == truth(data)


def test_journal_replay_new_changed_and_removed_records(data):
    store = open_store(data, SCHEMA)
    newest = first_rows(store.feedback_all(), SCHEMA, "created", True, 200)
    old = store.feedback_all()[0]  # the oldest: not on the page
    store.feedback_update([newest[3]["id"]], {"title": "edited on the page"})
    store.feedback_update([newest[7]["id"]], {"type": "Praise"})  # its old type is on the page
    store.feedback_add(bulk(2, start=COUNT + 10))  # newer than everything: enter the page
    with store.batch():
        store._feedback.remove(doc_ids=[newest[5]["id"]])  # one leaves, the additions refill
    rows, counts = fresh_page(data)
    expected_rows, expected_counts = truth(data)
    assert rows == expected_rows
    assert "edited on the page" in {r["title"] for r in rows}
    assert newest[5]["id"] not in {r["id"] for r in rows}
    assert counts == expected_counts and counts["feedback"] == COUNT + 1
    # An edit of a record outside the page: the page and totals hold, its old type is unknown.
    store.feedback_update([old["id"]], {"status": "Closed"})
    rows, counts = fresh_page(data)
    expected_rows, expected_counts = truth(data)
    assert rows == expected_rows
    assert counts == {**expected_counts, "by_type": None}
    # Users added through the journal count too.
    store.users_add([{"name": "Alan"}])
    assert fresh_page(data)[1]["users"] == 3


def test_a_record_edited_to_be_newest_moves_onto_the_page(data):
    store = open_store(data, SCHEMA)
    old = store.feedback_all()[10]
    store.feedback_update([old["id"]], {"created": "2027-06-01T00:00:00Z"})
    rows, counts = fresh_page(data)
    assert rows[0]["id"] == old["id"]
    assert rows == truth(data)[0]
    assert counts["feedback"] == COUNT


def test_an_addition_older_than_the_page_only_counts(data):
    store = open_store(data, SCHEMA)
    store.feedback_add([SCHEMA.feedback({"type": "bug", "title": "old", "created": "2020-01-01T00:00:00Z"})])
    assert fresh_page(data) == truth(data)


@pytest.mark.parametrize("change", ["remove_page_record", "odd_id", "corrupt_line"])
def test_uncertain_journals_fall_back_to_none(data, change):
    store = open_store(data, SCHEMA)
    newest = first_rows(store.feedback_all(), SCHEMA, "created", True, 200)
    if change == "remove_page_record":  # the record that moves up is not in the head
        with store.batch():
            store._feedback.remove(doc_ids=[newest[0]["id"]])
    elif change == "odd_id":  # an id that could be an edit or an addition
        store.feedback_add([{**SCHEMA.feedback({"type": "bug", "title": "odd"}), "id": "BUG-00001"}])
    else:
        store.feedback_update([newest[0]["id"]], {"title": "one"})
        store.feedback_update([newest[1]["id"]], {"title": "two"})
        journal = (data / "records.journal").read_bytes().split(b"\n")
        journal[0] = b"{not json"
        (data / "records.journal").write_bytes(b"\n".join(journal))
    assert fresh_page(data) is None


def test_a_torn_last_journal_line_is_ignored(data):
    store = open_store(data, SCHEMA)
    store.feedback_update([store.feedback_all()[-1]["id"]], {"title": "kept"})
    with open(data / "records.journal", "ab") as handle:
        handle.write(b'{"seq": 99, "ops": [["feedback", {"BUG-9')
    rows, _counts = fresh_page(data)
    assert "kept" in {r["title"] for r in rows}


def test_a_stale_missing_or_broken_head_is_not_used(data):
    path = head_path(data / "records.json")
    old_head = path.read_bytes()
    store = open_store(data, SCHEMA)
    store.feedback_add(bulk(COUNT, start=COUNT))  # a new snapshot and head
    assert fresh_page(data) == truth(data)
    path.write_bytes(old_head)  # the head of the snapshot before: its signature is stale
    assert fresh_page(data) is None
    path.unlink()
    assert fresh_page(data) is None
    path.write_bytes(b"{half a head")
    assert fresh_page(data) is None


def test_a_snapshot_replaced_behind_the_heads_back_is_noticed(data):
    snapshot = data / "records.json"
    raw = snapshot.read_bytes()
    snapshot.unlink()
    snapshot.write_bytes(raw)  # same content, another file: the signature differs
    os.utime(snapshot, ns=(1, 1))
    assert fresh_page(data) is None


def test_a_failed_head_write_leaves_no_head_and_the_write_stands(data, monkeypatch):
    def broken(path, data_bytes):
        raise OSError("disk full")

    monkeypatch.setattr(head_module, "atomic_write", broken)
    store = open_store(data, SCHEMA)
    store.feedback_add(bulk(COUNT, start=COUNT))
    assert not head_path(data / "records.json").exists()
    assert open_store(data, SCHEMA).feedback_count() == 2 * COUNT
    assert fresh_page(data) is None


def test_a_snapshot_cctui_did_not_write_is_read_at_open(data_dir):
    from cctui.store import StoreCorrupt

    (data_dir / "records.json").write_text('{"feedback": {"BUG-0001": {"id": "BUG-0001"}}, oops')
    with pytest.raises(StoreCorrupt):
        open_store(data_dir, SCHEMA)
