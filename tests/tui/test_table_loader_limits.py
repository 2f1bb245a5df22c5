"""The loader's two memory tricks stay bounded: filter columns for a few sort orders
only, and the cycle collector frozen once per process, after a collection."""

from __future__ import annotations

import gc

from cctui.tui.widgets import table_loader
from cctui.tui.widgets.table_loader import COLUMNS_KEPT, TableData


def _data(keys: list[tuple]) -> TableData:
    rows = [{"id": f"BUG-{n:04d}", "title": f"t{n}"} for n in range(5)]
    data = TableData.empty()
    data.sorted.update({key: list(rows) for key in keys})
    return data


def test_columns_are_kept_for_the_most_recently_used_sorts_only():
    keys = [("feedback", field, desc) for field in ("created", "votes", "title") for desc in (True, False)]
    data = _data(keys)
    for key in keys:
        data.columns_of(key)
    assert list(data.columns) == keys[-COLUMNS_KEPT:]
    again = data.columns_of(keys[-COLUMNS_KEPT])  # used again: now the newest, kept as is
    assert data.columns_of(keys[-COLUMNS_KEPT]) is again
    assert list(data.columns)[-1] == keys[-COLUMNS_KEPT]
    assert len(data.columns) == COLUMNS_KEPT


def test_columns_follow_a_new_sorted_list_under_the_same_key():
    key = ("feedback", "created", True)
    data = _data([key])
    first = data.columns_of(key)
    data.sorted[key] = list(reversed(data.sorted[key]))
    assert data.columns_of(key) is not first and data.columns_of(key).rows is data.sorted[key]


def test_gc_is_frozen_once_and_after_a_collection(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(table_loader, "_frozen", False)
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    assert table_loader.freeze_once() is True
    assert table_loader.freeze_once() is False
    assert table_loader.freeze_once() is False
    assert calls == ["collect", "freeze"]
