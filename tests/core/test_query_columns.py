"""Query.select (column by column) keeps exactly the rows Query.filter (row by row) keeps."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cctui.core.columns import Columns
from cctui.core.query import compile_query

STATUSES = ["New", "Triaged", "In Progress", "Escalated", "Closed", "Won't Fix", "new", None, ""]
SEVERITIES = ["Low", "Medium", "High", "Critical", None]
TYPES = ["Bug Report", "Feature Request", "Praise", "Question"]
CATEGORIES = ["UI", "Editor", "Search", "Sync", "", None, "ui"]
WORDS = ["crash", "Crash", "save", "slow", "dark mode", "Zoë", "検索", "النص", "emoji 🌙", "hang", "CRASHED"]


def _record(rng: random.Random, n: int, odd: bool) -> dict:
    record = {
        "id": f"{rng.choice(['BUG', 'IDEA', 'Q'])}-{n:04d}",
        "type": rng.choice(TYPES),
        "title": " ".join(rng.sample(WORDS, rng.randint(0, 3))),
        "description": rng.choice(["", "\n".join(rng.sample(WORDS, 2)), None, "x" * 500 + " crash"]),
        "status": rng.choice(STATUSES),
        "severity": rng.choice(SEVERITIES),
        "category": rng.choice(CATEGORIES),
        "votes": rng.randint(0, 20),
        "created": f"2026-{rng.randint(9, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
        "jira_key": rng.choice(["PRJ-1", "PRJ-22", "", "prj-1"]),
    }
    if rng.random() < 0.2:
        del record["category"]
    if odd:  # values real data can hold in extra fields or imported files
        choice = rng.randrange(6)
        if choice == 0:
            record["votes"] = rng.choice([None, "7", "x", True, 3.5])
        elif choice == 1:
            record["created"] = rng.choice(["2026-11-02", "2026-11-02T10:00:00+02:00", None, "garbage"])
        elif choice == 2:
            record["tags"] = ["a", "b"]
        elif choice == 3:
            record["flag"] = rng.choice([True, False])
        elif choice == 4:
            del record["votes"]
        else:
            record["title"] = None
    return record


def records(seed: int, count: int = 300, odd: float = 0.0) -> list[dict]:
    rng = random.Random(seed)
    return [_record(rng, n, rng.random() < odd) for n in range(count)]


QUERIES = [
    "", "status:new", "-status:new", "status:in-progress,wontfix", "severity:high,critical -category:ui",
    "crash", "-crash", "crash save", "\"dark mode\"", "CRASH -\"crashed\"", "検索", "🌙",
    "votes:>5", "votes:>=5 type:bug", "votes:<3", "votes:<=0", "-votes:>10", "votes:7", "votes:0,1",
    "created:>2026-11-01", "created:<=2026-10-15", "created:>=2026-11-02T10:00:00Z", "created:2026-11-02",
    "type:bug", "type:bug,idea -status:closed", "category:\"\"", "-category:\"\"", "jira_key:prj-1",
    "id:BUG-*", "id:bug-1", "title:crash", "title:crash,slow", "-title:crash", "description:crash",
    "title:\"\"", "tags:a", "-tags:x", "flag:true", "status:new crash votes:>2 -severity:low",
]


def _check(rows: list[dict], text: str, within: list[int] | None = None) -> None:
    query = compile_query(text)
    base = rows if within is None else [rows[i] for i in within]
    expected = query.filter(base)
    positions = query.select(Columns(rows), within)
    assert positions == sorted(positions)
    assert [rows[i] for i in positions] == expected, text
    assert all(a is b for a, b in zip((rows[i] for i in positions), expected, strict=True))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("text", QUERIES)
def test_select_keeps_what_filter_keeps(text, seed):
    _check(records(seed), text)


@pytest.mark.parametrize("text", QUERIES)
def test_select_with_odd_values(text):
    _check(records(11, odd=0.5), text)


@pytest.mark.parametrize("text", QUERIES)
def test_select_within_a_previous_result(text):
    rows = records(5)
    within = compile_query("-status:closed").select(Columns(rows))
    _check(rows, text, within)


def test_columns_are_reused_across_queries():
    rows = records(7)
    columns = Columns(rows)
    for text in QUERIES:
        query = compile_query(text)
        assert [rows[i] for i in query.select(columns)] == query.filter(rows), text


def test_select_on_no_rows_and_no_positions():
    assert compile_query("crash").select(Columns([])) == []
    assert compile_query("crash").select(Columns(records(1)), []) == []
    assert compile_query("").select(Columns(records(1, count=3))) == [0, 1, 2]


TERMS = st.sampled_from([
    "status:new", "status:closed,triaged", "severity:high", "category:ui", "category:\"\"",
    "crash", "save", "\"dark mode\"", "zoë", "votes:>5", "votes:<=3", "created:>2026-11-01",
    "created:<2026-10-20", "type:bug", "type:praise,discussion", "id:IDEA-*", "title:hang", "flag:false",
])


@settings(max_examples=150, deadline=None)
@given(terms=st.lists(st.tuples(st.booleans(), TERMS), max_size=4), seed=st.integers(0, 5),
       odd=st.sampled_from([0.0, 0.3]))
def test_select_equals_filter_for_any_combination(terms, seed, odd):
    text = " ".join(("-" if negated else "") + term for negated, term in terms)
    _check(records(seed, count=120, odd=odd), text)
