"""The table's data layer: first page without a full sort, patching sorted lists after
edits, and when a new filter may search the previous result instead of everything."""

from __future__ import annotations

import random

import pytest

from cctui.core.query import compile_query, narrows
from cctui.core.records import Schema
from cctui.tui.widgets.table_model import apply_changes, changes_between, first_rows, sort_rows

SCHEMA = Schema()


def _rows(count: int = 400) -> list[dict]:
    rng = random.Random(3)
    return [{"id": f"BUG-{i:04d}", "created": f"2026-{rng.randint(1, 12):02d}-0{rng.randint(1, 9)}T00:00:00Z",
             "votes": rng.choice([1, 2, 3, None]), "status": rng.choice(["New", "Closed", "Triaged", None]),
             "title": rng.choice(["Crash on save", "crash", "Slow", ""])} for i in range(count)]


@pytest.mark.parametrize("field", ["created", "votes", "status", "id", "title", None])
@pytest.mark.parametrize("descending", [True, False])
def test_first_rows_is_the_head_of_the_full_sort(field, descending):
    rows = _rows()
    assert first_rows(rows, SCHEMA, field, descending, 50) == sort_rows(rows, SCHEMA, field, descending)[:50]


def test_first_rows_with_a_missing_field_everywhere():
    rows = [{"id": "A-1"}, {"id": "A-2", "created": ""}]
    assert first_rows(rows, SCHEMA, "created", True, 5) == sort_rows(rows, SCHEMA, "created", True)


@pytest.mark.parametrize("field", ["created", "votes", "status", None])
@pytest.mark.parametrize("descending", [True, False])
def test_apply_changes_matches_a_fresh_sort(field, descending):
    rows = _rows()
    new = list(rows)
    new[3] = {**rows[3], "created": "2027-01-01T00:00:00Z", "votes": 99}
    new[7] = {**rows[7], "status": "Closed"}
    new.append({"id": "BUG-9999", "created": "2025-01-01T00:00:00Z", "votes": 2, "status": "New"})
    changes = changes_between(rows, new)
    assert changes and len(changes.pairs) == 2 and len(changes.added) == 1
    got = apply_changes(sort_rows(rows, SCHEMA, field, descending), changes, SCHEMA, field, descending)
    want = sort_rows(new, SCHEMA, field, descending)
    assert sorted(map(id, got)) == sorted(map(id, want))
    if field:
        assert [r.get(field) for r in got] == [r.get(field) for r in want]


def test_changes_between_needs_a_full_reload_when_records_go():
    rows = _rows(10)
    assert changes_between(rows, rows[1:]) is None
    assert changes_between(rows, [rows[1], rows[0], *rows[2:]]) is None
    assert not changes_between(rows, list(rows))  # same objects: nothing to do


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("", "crash", True),
    ("cr", "crash", True),
    ("ash", "crash", True),
    ("crash", "crash status:new", True),
    ("status:new", "status:new crash", True),
    ("status:new crash", "status:new cr", False),
    ("status:n", "status:new", False),
    ("-cr", "-crash", False),
    ("crash", "-crash", False),
    ('"crash on', '"crash on s', False),
    ("status:new", "severity:high", False),
    ("crash", "", False),
])
def test_narrows(old, new, expected):
    assert narrows(old, new) is expected


def test_narrowed_filter_equals_the_full_filter():
    rows = _rows()
    for old, new in [("cr", "crash"), ("crash", "crash status:new"), ("", "votes:>1")]:
        if narrows(old, new):
            assert compile_query(new).filter(compile_query(old).filter(rows)) == compile_query(new).filter(rows)
