"""The Store API: ids, timestamps, updates, events, batches, the writer thread, locking."""

from __future__ import annotations

import threading

import pytest
from filelock import FileLock

from cctui.core.records import Schema
from cctui.errors import InputError, NotFound, StoreBusy
from cctui.store import ChangeEvent, open_store

SCHEMA = Schema()


def items(*specs: tuple[str, str], **extra) -> list[dict]:
    return [SCHEMA.feedback({"type": t, "title": title, **extra}) for t, title in specs]


@pytest.fixture
def store(data_dir):
    return open_store(data_dir, SCHEMA)


def test_ids_follow_type_prefix_and_max_plus_one(store):
    added = store.feedback_add(items(("bug", "a"), ("idea", "b"), ("bug", "c"), ("praise", "d")))
    assert [r["id"] for r in added] == ["BUG-0001", "IDEA-0001", "BUG-0002", "PRAISE-0001"]
    store.feedback_add([{**items(("bug", "given"))[0], "id": "BUG-0041"}])
    assert store.feedback_add(items(("bug", "next")))[0]["id"] == "BUG-0042"
    assert store.feedback_add(items(("disc", "d")))[0]["id"] == "DISC-0001"
    assert store.feedback_count() == 7


def test_ids_continue_across_processes_and_reopen(store, data_dir):
    store.feedback_add(items(("bug", "a")))
    other = open_store(data_dir, SCHEMA)
    assert other.feedback_add(items(("bug", "b")))[0]["id"] == "BUG-0002"
    assert store.feedback_add(items(("bug", "c")))[0]["id"] == "BUG-0003"  # saw the other's id


def test_duplicate_given_id_is_refused_and_nothing_written(store):
    store.feedback_add(items(("bug", "a")))
    with pytest.raises(InputError, match="BUG-0001"):
        store.feedback_add(items(("bug", "ok")) + [{**items(("bug", "dup"))[0], "id": "BUG-0001"}])
    assert store.feedback_count() == 1


def test_unknown_type_names_the_item(store):
    with pytest.raises(InputError, match="item 2"):
        store.feedback_add([*items(("bug", "a")), {"type": "nope", "title": "x"}])
    assert store.feedback_count() == 0


def test_created_and_modified_follow_the_clock(store, monkeypatch):
    monkeypatch.setenv("CCTUI_NOW", "2026-11-01T09:00:00Z")
    record = store.feedback_add(items(("bug", "a")))[0]
    assert record["created"] == record["modified"] == "2026-11-01T09:00:00Z"
    dated = store.feedback_add(items(("bug", "old"), created="2026-01-05T10:00:00Z"))[0]
    assert dated["created"] == dated["modified"] == "2026-01-05T10:00:00Z"
    monkeypatch.setenv("CCTUI_NOW", "2026-11-02T10:30:00Z")
    updated = store.feedback_update([record["id"]], {"status": "Closed"})[0]
    assert updated["modified"] == "2026-11-02T10:30:00Z"
    assert updated["created"] == "2026-11-01T09:00:00Z"


def test_update_events_carry_before_after_and_changed(store):
    events: list[ChangeEvent] = []
    store.subscribe(events.append)
    store.feedback_add(items(("bug", "a"), ("bug", "b")), origin="import")
    assert events[0].kind == "submit" and events[0].origin == "import"
    assert events[0].before == [None, None] and "title" in events[0].changed[0]
    out = store.feedback_update(["BUG-0001", "BUG-0002"], {"status": "Escalated"}, origin="engine", by_macro="jira")
    assert [r["status"] for r in out] == ["Escalated", "Escalated"]
    event = events[1]
    assert (event.kind, event.origin, event.by_macro) == ("modify", "engine", "jira")
    assert [b["status"] for b in event.before] == ["New", "New"]
    assert event.changed == [{"status"}, {"status"}]
    # setting the same value again changes nothing: no write, no event (no trigger loops)
    store.feedback_update(["BUG-0001"], {"status": "Escalated"})
    assert len(events) == 2


def test_update_each_and_unknown_id(store):
    store.feedback_add(items(("bug", "a"), ("idea", "b")))
    out = store.feedback_update_each({"BUG-0001": {"votes": 3}, "IDEA-0001": {"jira_key": "PRJ-1"}})
    assert out[0]["votes"] == 3 and out[1]["jira_key"] == "PRJ-1"
    with pytest.raises(NotFound, match="BUG-0404"):
        store.feedback_update(["BUG-0001", "BUG-0404"], {"votes": 9})
    assert store.feedback_get("BUG-0001")["votes"] == 3  # all or nothing


def test_records_handed_out_are_never_mutated(store):
    store.feedback_add(items(("bug", "a")))
    listed = store.feedback_all()
    held = store.feedback_get("BUG-0001")
    store.feedback_update(["BUG-0001"], {"title": "changed"})
    assert held["title"] == "a" and listed[0]["title"] == "a"
    assert store.feedback_all()[0]["title"] == "changed"
    listed.clear()
    assert len(store.feedback_all()) == 1


def test_users(store):
    users = store.users_add([SCHEMA.user({"name": "Ada", "email": "ada@example.com"}), SCHEMA.user({"name": "Bo"})])
    assert [u["id"] for u in users] == ["USR-0001", "USR-0002"]
    store.users_update(["USR-0002"], {"role": "tester"})
    assert store.user_get("USR-0002")["role"] == "tester"
    assert [u["name"] for u in store.users_all()] == ["Ada", "Bo"]


def test_batch_is_one_journal_line_and_rolls_back_on_error(store, data_dir):
    store.feedback_add(items(("bug", "a")))
    lines = len((data_dir / "records.journal").read_bytes().splitlines())
    events = []
    store.subscribe(events.append)
    with store.batch():
        for n in range(20):
            store.feedback_update(["BUG-0001"], {"votes": n + 1})
        assert events == []  # nothing announced before the commit
    assert len((data_dir / "records.journal").read_bytes().splitlines()) == lines + 1
    assert len(events) == 20
    with pytest.raises(RuntimeError):
        with store.batch():
            store.feedback_update(["BUG-0001"], {"votes": 1000})
            store.feedback_add(items(("bug", "b")))
            raise RuntimeError("abort")
    assert store.feedback_get("BUG-0001")["votes"] == 20
    assert store.feedback_count() == 1
    assert open_store(data_dir).feedback_get("BUG-0001")["votes"] == 20


def test_submit_group_commits_and_acknowledges_after_the_write(store, data_dir):
    store.feedback_add(items(("bug", "a")))
    futures = [store.submit(store.feedback_update, ["BUG-0001"], {"votes": n}) for n in range(1, 51)]
    bad = store.submit(store.feedback_update, ["BUG-9999"], {"votes": 1})
    assert futures[-1].result(timeout=10)[0]["votes"] == 50
    with pytest.raises(NotFound):
        bad.result(timeout=10)
    # every acknowledged write is on disk, seen by a fresh process
    assert open_store(data_dir).feedback_get("BUG-0001")["votes"] == 50
    lines = (data_dir / "records.journal").read_bytes().splitlines()
    assert len(lines) < 51  # bursts share commits
    store.close()


def test_revision_grows_on_local_and_other_process_changes(store, data_dir):
    r0 = store.revision
    store.feedback_add(items(("bug", "a")))
    r1 = store.revision
    assert r1 > r0
    assert store.revision == r1  # reading does not bump it
    open_store(data_dir).feedback_update(["BUG-0001"], {"votes": 2})
    assert store.revision > r1
    assert store.feedback_get("BUG-0001")["votes"] == 2


def test_macros_runs_and_state(store, data_dir):
    store.macro_put({"name": "slack", "url": "https://a"})
    store.macro_put({"name": "jira", "url": "https://b"})
    store.macro_put({"name": "slack", "url": "https://c"})
    assert [(m["name"], m["url"]) for m in store.macros_all()] == [("slack", "https://c"), ("jira", "https://b")]
    assert store.macro_update("jira", {"timeout": 5})["timeout"] == 5
    with pytest.raises(NotFound, match="nope"):
        store.macro_update("nope", {})
    assert store.macro_remove("jira") and not store.macro_remove("jira")
    run_id = store.run_create({"macro": "slack", "record_ids": ["BUG-0001"]})
    assert run_id.startswith("run-")
    store.run_update(run_id, {"status": "done"})
    assert store.run_get(run_id)["status"] == "done"
    store.state_set("schedule:slack", {"last": "2026-11-01T09:00:00Z"})
    assert store.state_get("schedule:slack") == {"last": "2026-11-01T09:00:00Z"}
    assert store.state_get("missing", 7) == 7
    again = open_store(data_dir)
    assert again.macro_get("slack")["url"] == "https://c" and again.runs_all()[0]["id"] == run_id


def test_lock_held_too_long_raises_store_busy(data_dir):
    store = open_store(data_dir, lock_timeout=0.2)
    holder = FileLock(str(data_dir / ".lock"))
    holder.acquire()
    try:
        with pytest.raises(StoreBusy, match=r"\.lock"):
            store.feedback_add(items(("bug", "a")))
    finally:
        holder.release()
    assert store.feedback_add(items(("bug", "a")))[0]["id"] == "BUG-0001"


def test_threads_writing_at_once_lose_nothing(store):
    store.feedback_add(items(("bug", "a")))

    def bump():
        for _ in range(25):
            with store.batch():
                votes = store.feedback_get("BUG-0001")["votes"]
                store.feedback_update(["BUG-0001"], {"votes": votes + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.feedback_get("BUG-0001")["votes"] == 100


def test_unicode_and_big_values_round_trip(store, data_dir):
    text = "crash on save \"quoted\" \\ back\nnew line 🚀 שלום " + "x" * 10_000
    store.feedback_add(items(("bug", "émoji 🚀"), description=text))
    again = open_store(data_dir).feedback_get("BUG-0001")
    assert again["description"] == text and again["title"] == "émoji 🚀"


def test_subscriber_errors_do_not_undo_the_commit(store, data_dir):
    store.subscribe(lambda event: 1 / 0)
    store.feedback_add(items(("bug", "a")))
    assert open_store(data_dir).feedback_count() == 1


def test_reads_do_not_wait_for_a_busy_lock(data_dir):
    writer = open_store(data_dir, SCHEMA)
    writer.feedback_add(items(("bug", "a")))
    holder = FileLock(str(data_dir / ".lock"))
    holder.acquire()  # e.g. a long import running in another process
    try:
        reader = open_store(data_dir, SCHEMA, lock_timeout=0.2)
        assert reader.feedback_get("BUG-0001")["title"] == "a"
        assert reader.feedback_count() == 1
    finally:
        holder.release()


def test_lock_free_reads_stay_consistent_while_another_writer_compacts(data_dir, monkeypatch):
    from cctui.store import journal

    monkeypatch.setattr(journal, "COMPACT_MIN_BYTES", 3000)  # compact every few commits
    writer = open_store(data_dir, SCHEMA)
    writer.feedback_add(items(("bug", "a"), ("bug", "b")))
    reader = open_store(data_dir, SCHEMA)  # a second store behaves like another process
    rounds = 300
    problems: list[str] = []

    def write():
        for n in range(1, rounds + 1):
            writer.feedback_update_each({"BUG-0001": {"votes": n}, "BUG-0002": {"votes": -n}})

    thread = threading.Thread(target=write)
    thread.start()
    last = 0
    while thread.is_alive() or last < rounds:
        a, b = (r["votes"] for r in reader.feedback_all())  # one read: one consistent state
        if a + b != 0 or a < last:
            problems.append(f"saw {a}/{b} after {last}")
        last = a
        if not thread.is_alive() and last < rounds:
            break
    thread.join()
    assert problems == []
    assert reader.feedback_get("BUG-0001")["votes"] == rounds


def test_given_low_id_does_not_make_allocation_reuse_ids(store):
    store.feedback_add(items(("bug", "a"), ("bug", "b"), ("bug", "c")))
    added = store.feedback_add([{**items(("bug", "x"))[0], "id": "BUG-0010"}, *items(("bug", "y"))])
    assert [r["id"] for r in added] == ["BUG-0010", "BUG-0011"]
    added = store.feedback_add([{**items(("idea", "x"))[0], "id": "IDEA-0005"}, *items(("bug", "z"))])
    assert [r["id"] for r in added] == ["IDEA-0005", "BUG-0012"]


def test_flush_and_close_finish_submitted_writes(store, data_dir):
    store.feedback_add(items(("bug", "a")))
    for n in range(1, 21):
        store.submit(store.feedback_update, ["BUG-0001"], {"votes": n})
    store.flush()
    assert open_store(data_dir).feedback_get("BUG-0001")["votes"] == 20
    future = store.submit(store.feedback_update, ["BUG-0001"], {"votes": 21})
    store.close()
    assert future.done() and open_store(data_dir).feedback_get("BUG-0001")["votes"] == 21
