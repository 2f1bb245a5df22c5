"""The very first frame of the feedback table comes from Store.first_page() (the head file),
and the full read replaces it."""

from __future__ import annotations

from cctui.config import load_config
from cctui.store import open_store
from cctui.tui.screens.feedback import FeedbackScreen
from cctui.tui.widgets.table_model import first_rows

COUNT = 1500


def _data_dir(tmp_path, feedback_items):
    data = tmp_path / "head-data"
    store = open_store(data)
    items = []
    for i in range(COUNT):  # one snapshot (a bulk write), so a head file
        item = dict(feedback_items(8)[i % 8])
        item["title"] = f"{item['title']} / {i}"
        item["created"] = f"2026-{1 + i // 150:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
        items.append(store.schema.feedback(item))
    store.feedback_add(items)
    newest = first_rows(store.feedback_all(), store.schema, "created", True, 1)[0]
    store.feedback_update([newest["id"]], {"title": "Edited after the snapshot"})  # a journal line
    store.close()
    return data


async def test_first_frame_comes_from_the_head_then_the_full_data(tmp_path, config_file, fixed_now, tui, monkeypatch):
    from cctui.tui.app import CctuiApp

    data = _data_dir(tmp_path, tui.feedback_items)
    store = open_store(data)
    pages = []
    original_first_page = store.first_page

    def recording_first_page(limit=200):
        answer = original_first_page(limit)
        pages.append(answer)
        return answer

    store.first_page = recording_first_page  # type: ignore[method-assign]
    views = []
    original_show = FeedbackScreen.show_view

    def recording_show(self, view):
        views.append(view)
        original_show(self, view)

    monkeypatch.setattr(FeedbackScreen, "show_view", recording_show)
    app = CctuiApp(store, load_config(config_file), data_dir="/data/demo")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await tui.wait_for(pilot, lambda: app.screen.view_settled and len(app.screen.feedback) == COUNT,
                               timeout=20)
            await pilot.pause()
            assert len(pages) == 1 and pages[0] is not None
            page, counts = pages[0]
            first = views[0]
            assert first.partial and first.rows is page and first.total == COUNT == counts["feedback"]
            assert page[0]["title"] == "Edited after the snapshot"  # the journal was replayed
            # ... and the full read replaced it: same order, the store's own records.
            full = first_rows(store.feedback_all(), store.schema, "created", True, COUNT)
            last = views[-1]
            assert not last.partial and last.total == COUNT
            assert [r["id"] for r in last.rows] == [r["id"] for r in full]
            assert [r["id"] for r in last.rows[:200]] == [r["id"] for r in page]
            assert not any(a is b for a, b in zip(last.rows, page, strict=False))  # the page is the head of the rows
            shown = tui.table(app).rows
            assert shown is last.rows
            assert f"{COUNT:,} of {COUNT:,}" in tui.status_text(app)
    finally:
        store.close()


async def test_a_store_without_a_head_loads_as_before(make_app, tui, seeded_dir):
    app = make_app()
    assert app.store.first_page() is None  # 24 records written through the journal only
    async with app.run_test(size=(100, 30)) as pilot:
        await tui.loaded(pilot)
        await tui.wait_for(pilot, lambda: app.screen.view_settled)
        assert "24 of 24" in tui.status_text(app)


async def test_a_damaged_snapshot_is_a_toast_and_the_app_stays_up(tmp_path, config_file, fixed_now, tui):
    from cctui.tui.app import CctuiApp

    data = _data_dir(tmp_path, tui.feedback_items)
    snapshot = data / "records.json"
    snapshot.write_bytes(snapshot.read_bytes()[:-5000])  # starts like cctui's, torn tail
    store = open_store(data)  # lazy: the damage shows at the first full read
    app = CctuiApp(store, load_config(config_file), data_dir="/data/demo")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await tui.wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications),
                               timeout=20)
            [note] = [n for n in app._notifications if n.severity == "error"]
            assert "records.json" in note.message and "not valid JSON" in note.message
            assert app.is_running
            await pilot.press("2")  # still answers keys
            await pilot.pause()
            assert app.current_mode == "macros"
    finally:
        store.close()
