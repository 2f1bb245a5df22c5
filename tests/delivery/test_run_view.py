"""RunView: O(1) lookups on the loop, kept current from change events, rebuilt off the loop
only for other processes' changes. Ordering is forced with events; nothing is timed."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx

from cctui.delivery import Engine
from cctui.delivery.view import RunView
from cctui.store import ChangeEvent, open_store

from .conftest import add_items, fast_config, put_macro


class Counting:
    """A store proxy that counts full reads (``snapshot``) and the threads they ran on."""

    def __init__(self, store):
        self.store = store
        self.snapshots: list[str] = []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def snapshot(self, target="feedback"):
        self.snapshots.append(threading.current_thread().name)
        return self.store.snapshot(target)


def test_local_changes_patch_the_index_without_a_rebuild(store):
    ids = add_items(store, 200)
    counting = Counting(store)
    view = RunView(counting, refresh=3600)
    view.load()
    full_reads = len(counting.snapshots)
    version = view.revision
    store.feedback_update_each({ids[5]: {"jira_key": "CC-5"}, ids[9]: {"status": "Escalated"}},
                               origin="delivery")
    # the subscriber ran on the committing thread, before the call returned
    assert view.record(ids[5])["jira_key"] == "CC-5"
    assert view.feedback_get(ids[9])["status"] == "Escalated"
    assert view.revision > version
    added = store.feedback_add([{**store.feedback_get(ids[0]), "id": None, "title": "new one"}])[0]
    assert view.record(added["id"])["title"] == "new one"
    store.submit(store.feedback_update, [ids[7]], {"votes": 99}).result()  # the writer thread too
    assert view.record(ids[7])["votes"] == 99
    assert len(counting.snapshots) == full_reads  # no O(n) rebuild for any of it
    view.close()
    store.feedback_update([ids[5]], {"jira_key": "CC-later"})
    assert view.record(ids[5])["jira_key"] == "CC-5"  # closed: no longer listening


def test_an_older_event_arriving_late_does_not_overwrite_a_newer_record(store):
    ids = add_items(store, 2)
    view = RunView(store, refresh=3600)
    view.load()
    base = store.revision
    old = {**store.feedback_get(ids[0]), "title": "older"}
    new = {**store.feedback_get(ids[0]), "title": "newer"}
    view._on_change(ChangeEvent("modify", [new], [None], [{"title"}], revision=base + 2))
    view._on_change(ChangeEvent("modify", [old], [None], [{"title"}], revision=base + 1))
    assert view.record(ids[0])["title"] == "newer"
    stale = {**store.feedback_get(ids[1]), "title": "before the index"}
    view._on_change(ChangeEvent("modify", [stale], [None], [{"title"}], revision=base))
    assert view.record(ids[1])["title"] != "before the index"  # already in the snapshot


def test_a_commit_during_the_rebuild_is_not_lost(store):
    ids = add_items(store, 100)

    class CommitsMidRead(Counting):
        def snapshot(self, target="feedback"):
            result = self.store.snapshot(target)
            if target == "feedback" and not self.snapshots:
                # another thread commits after our read and before the view swaps in
                writer = threading.Thread(target=self.store.feedback_update, args=([ids[3]], {"title": "mid"}))
                writer.start()
                writer.join()
            self.snapshots.append(target)
            return result

    view = RunView(CommitsMidRead(store), refresh=3600)
    view.load()
    assert view.record(ids[3])["title"] == "mid"


def test_another_process_change_is_picked_up_by_a_rebuild_off_the_loop(store, data_dir, wait):
    ids = add_items(store, 100)
    counting = Counting(store)
    other = open_store(data_dir)  # a second Store on the directory behaves like another process

    async def main():
        loop_thread = threading.current_thread().name
        view = RunView(counting, refresh=0)
        await asyncio.to_thread(view.load)
        other.feedback_update([ids[4]], {"title": "from elsewhere"})
        await wait.until(lambda: view.record(ids[4])["title"] == "from elsewhere", "the view to rebuild")
        view.close()
        return loop_thread, view.record(ids[4])["title"]

    loop_thread, title = asyncio.run(main())
    assert title == "from elsewhere"
    assert len(counting.snapshots) >= 4  # load (2 kinds) + the rebuild (2 kinds)
    assert loop_thread not in counting.snapshots  # every full read ran off the loop


def test_a_record_changed_mid_run_renders_its_newest_values(store):
    """A bulk run (a RunView) renders each body just before sending it: a change committed
    while the run is going (here: after the first request) shows in later bodies."""
    ids = add_items(store, 80, jira_key="-")
    put_macro(store, url="http://hook.test/x", concurrency=1,
              body='{"text": "((id)) ((title)) ((jira_key))"}')
    bodies: dict[str, dict] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        record_id = body["text"].split()[0]
        bodies[record_id] = body
        if record_id == ids[0]:
            await asyncio.to_thread(store.feedback_update, [ids[70]], {"title": "Renamed", "jira_key": "CC-70"})
        return httpx.Response(200, json={"ok": True})

    engine = Engine(store, fast_config(), transport=httpx.MockTransport(handler))
    subscribers = len(store._subscribers)
    summary = asyncio.run(engine.run("hook", ids, trigger="bulk"))
    assert summary.delivered == 80
    assert bodies[ids[70]]["text"] == f"{ids[70]} Renamed CC-70"
    assert bodies[ids[69]]["text"].startswith(f"{ids[69]} Crash #69")
    assert len(store._subscribers) == subscribers  # the run's view stopped listening
