"""Record validation: what a field may hold, what is read-only, and how ids are typed."""

from __future__ import annotations

import pytest

from cctui.core.records import Schema, normalize_id
from cctui.errors import InputError

SCHEMA = Schema()


@pytest.mark.parametrize("typed", ["bug-2", "BUG-2", "BUG-0002", " bug-0002 ", "Bug-00002"])
def test_a_typed_id_in_any_case_and_padding_is_the_stored_id(typed):
    assert normalize_id(typed) == "BUG-0002"


def test_normalize_id_keeps_wide_numbers_and_leaves_non_ids_alone():
    assert normalize_id("idea-12345") == "IDEA-12345"
    assert normalize_id("usr-1") == "USR-0001"
    assert normalize_id("nonsense") == "NONSENSE"
    assert normalize_id("BUG-") == "BUG-"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("title", ["a"], "field 'title': must be text, got a list"),
        ("description", {"a": 1}, "field 'description': must be text, got an object"),
        ("steps", True, "field 'steps': must be text, got true/false"),
        ("category", ["ui"], "field 'category': must be text, got a list"),
        ("submitter", {"id": 1}, "field 'submitter': must be text, got an object"),
        ("status", ["New"], "field 'status': must be text, got a list"),
        ("severity", {"x": 1}, "field 'severity': must be text, got an object"),
        ("type", ["bug"], "field 'type': must be text, got a list"),
        ("created", ["2026-01-01"], "field 'created': must be text, got a list"),
        ("votes", ["1"], "field 'votes': expected a whole number, got a list"),
        ("votes", -1, "field 'votes': expected 0 or more, got -1"),
        ("votes", "-5", "field 'votes': expected 0 or more, got -5"),
        ("jira_key", ["PRJ-1"], "field 'jira_key': must be text, a number, true/false or null, got a list"),
        ("meta", {"a": 1}, "field 'meta': must be text, a number, true/false or null, got an object"),
        ("ratio", float("nan"), "field 'ratio': must be a finite number"),
    ],
)
def test_new_items_refuse_values_that_would_be_stored_as_a_python_repr(field, value, message):
    raw = {"type": "bug", "title": "t", field: value}
    with pytest.raises(InputError) as info:
        SCHEMA.feedback(raw, where="x.json:3")
    assert str(info.value).startswith(f"x.json:3: {message}")
    assert "{'" not in str(info.value) and "['" not in str(info.value)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"title": ["a"]}, "field 'title': must be text, got a list"),
        ({"description": {"a": 1}}, "field 'description': must be text, got an object"),
        ({"status": None}, "field 'status' cannot be empty"),
        ({"type": ""}, "field 'type' cannot be empty"),
        ({"votes": -2}, "field 'votes': expected 0 or more, got -2"),
        ({"jira_key": {"key": "PRJ-1"}}, "field 'jira_key': must be text, a number, true/false or null, got an object"),
        ({"labels": []}, "field 'labels': must be text, a number, true/false or null, got a list"),
    ],
)
def test_changes_refuse_the_same_values(changes, message):
    with pytest.raises(InputError) as info:
        SCHEMA.feedback_changes(changes, where="POST /records/BUG-0002")
    assert str(info.value).startswith(f"POST /records/BUG-0002: {message}")


def test_numbers_become_text_in_text_fields_and_scalars_stay_as_they_are_in_extra_fields():
    item = SCHEMA.feedback({"type": "bug", "title": 42, "description": 1.5, "category": 7,
                            "flag": True, "count": 3, "score": 0.5, "empty": None, "votes": 2.0})
    assert (item["title"], item["description"], item["category"]) == ("42", "1.5", "7")
    assert (item["flag"], item["count"], item["score"], item["empty"], item["votes"]) == (True, 3, 0.5, None, 2)
    changes = SCHEMA.feedback_changes({"title": 7, "steps": None, "note": False, "votes": "4"})
    assert changes == {"title": "7", "steps": None, "note": False, "votes": 4}


def test_read_only_fields_are_kept_on_import_and_refused_on_submit():
    imported = SCHEMA.feedback({"id": "BUG-0009", "type": "bug", "title": "old",
                                "created": "2020-01-01T00:00:00Z"})
    assert imported["created"] == "2020-01-01T00:00:00Z" and "id" not in imported
    for field in ("id", "created", "modified"):
        with pytest.raises(InputError) as info:
            SCHEMA.feedback({"type": "bug", "title": "t", field: "2020-01-01"}, where="feedback add",
                            allow_read_only=False)
        assert str(info.value).startswith(f"feedback add: field {field!r} is read-only")


def test_users_refuse_lists_and_objects_too():
    with pytest.raises(InputError, match="field 'email': must be text, got a list"):
        SCHEMA.user({"name": "Zoë", "email": ["a@b"]})
    with pytest.raises(InputError, match="field 'prefs': must be text, a number"):
        SCHEMA.user({"name": "Zoë", "prefs": {"dark": True}})
    assert SCHEMA.user({"name": 7, "company": 3, "beta": True}) == {
        "name": "7", "email": "", "role": "", "company": "3", "beta": True}
