"""Seed data: deterministic, varied, realistic, and fast enough for 100k items."""

from __future__ import annotations

from collections import Counter

from cctui.core.records import Schema
from cctui.core.seed import generate, seed_store
from cctui.macros.samples import sample_macro_dicts
from cctui.store import open_store


def test_same_seed_same_data_and_different_seed_differs(monkeypatch):
    monkeypatch.setenv("CCTUI_NOW", "2026-11-28T22:15:00Z")
    assert generate(300, seed=3) == generate(300, seed=3)
    assert generate(300, seed=3) != generate(300, seed=4)


def test_data_is_varied_and_valid(monkeypatch):
    monkeypatch.setenv("CCTUI_NOW", "2026-11-28T22:15:00Z")
    items, users = generate(4000, seed=1)
    assert len(users) == 200
    schema = Schema()
    for item in items[:500]:
        assert schema.feedback(item) == item  # already normalised
    types = Counter(item["type"] for item in items)
    assert types["Bug Report"] > types["Feature Request"] > types["Praise"] > 0 and types["Discussion"] > 0
    assert len(Counter(item["status"] for item in items)) == 6
    assert len(Counter(item["severity"] for item in items)) == 4
    text = "".join(item["title"] + item["description"] for item in items)
    for sample in ("é", "検", "ال", "ע", "🚀", '"', "\\", "\n"):
        assert sample in text, sample
    assert sum(len(item["description"]) >= 10_000 for item in items) >= 2
    titles = sorted(len(item["title"]) for item in items)
    assert titles[0] < 25 and titles[-1] > 80
    votes = sorted(item["votes"] for item in items)
    assert votes[len(votes) // 2] <= 2 and votes[-1] > 50  # skewed: most few, some many
    for item in items:
        assert "2026-05-01" < item["created"] <= item["modified"] <= "2026-11-28T22:15:00Z"
    user_ids = {user["id"] for user in users}
    assert sum(item["submitter"] in user_ids for item in items) > 0.9 * len(items)
    assert all(user["email"] and user["name"] and user["joined"] for user in users)


def test_seed_store_adds_users_items_and_links_them(data_dir):
    store = open_store(data_dir)
    store.users_add([{"name": "Existing"}])
    summary = seed_store(store, 200, seed=2, macros=sample_macro_dicts("http://127.0.0.1:9"))
    assert summary["feedback"] == 200 and summary["users"] == 10
    assert summary["macros"] == len(store.macros_all()) == 6
    assert all(m["url"].startswith("http://127.0.0.1:9/") for m in store.macros_all())
    assert sum(summary["by_type"].values()) == 200
    user_ids = {user["id"] for user in store.users_all()}
    assert "USR-0011" in user_ids
    submitters = {item["submitter"] for item in store.feedback_all() if item["submitter"].startswith("USR-")}
    assert submitters <= user_ids and "USR-0001" not in submitters  # USR-0001 was already taken


def test_a_few_very_long_descriptions_at_every_size_from_50(monkeypatch):
    """README: 'a few 10 KB descriptions': not only in data sets of 2,000 items or more."""
    monkeypatch.setenv("CCTUI_NOW", "2026-11-28T22:15:00Z")

    def long_ones(count: int, seed: int) -> list[int]:
        items, _ = generate(count, seed=seed)
        return [n for n, item in enumerate(items) if len(item["description"]) >= 10_000]

    for count in (50, 60, 200, 1000, 3000):
        found = long_ones(count, 7)
        assert 3 <= len(found) <= max(3, count // 100), (count, found)
        assert found == long_ones(count, 7)  # deterministic
    assert long_ones(1000, 7) != long_ones(1000, 8)  # where they fall depends on the seed
    assert long_ones(49, 7) == [] and long_ones(0, 7) == []
    short = [len(item["description"]) for item in generate(1000, seed=7)[0]]
    assert sorted(short)[-8] < 1_000  # the rest stay short: a handful of logs, not many


def test_long_descriptions_leave_the_rest_of_the_data_unchanged(monkeypatch):
    """The long ones are picked by a generator of their own: the other fields of every
    item and the descriptions' opening lines are what the main generator made."""
    monkeypatch.setenv("CCTUI_NOW", "2026-11-28T22:15:00Z")
    import cctui.core.seed as seed_module

    items, users = generate(500, seed=5)
    monkeypatch.setattr(seed_module, "_long_positions", lambda count, seed: frozenset())
    plain, plain_users = generate(500, seed=5)
    assert users == plain_users
    for item, other in zip(items, plain, strict=True):
        assert {k: v for k, v in item.items() if k != "description"} == \
               {k: v for k, v in other.items() if k != "description"}
        assert item["description"].startswith(other["description"])
