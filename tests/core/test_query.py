"""The filter language: parsing, matching, errors and sorting."""

from __future__ import annotations

import pytest

from cctui.core.query import compile_query, fields_in, filter_records, sort_key, sort_records
from cctui.core.records import FeedbackType, Schema
from cctui.errors import QueryError

RECORDS = [
    {"id": "BUG-0001", "type": "Bug Report", "title": "Crash on save", "description": "Every time.",
     "status": "New", "severity": "Critical", "category": "Editor", "votes": 12,
     "created": "2026-11-01T08:00:00Z", "submitter": "USR-0001", "jira_key": "PRJ-1"},
    {"id": "BUG-0002", "type": "Bug Report", "title": "Typo in «Paramètres»",
     "description": "C:\\Users\\Zoë\\ path \"quoted\"", "status": "In Progress", "severity": "Low",
     "category": "UI", "votes": 0, "created": "2026-10-31T23:59:59Z", "submitter": "a@b.org"},
    {"id": "IDEA-0001", "type": "Feature Request", "title": "Dark mode 🌙", "description":
     "النص العربي\nעברית", "status": "Won't Fix", "severity": "Medium", "category": "UI",
     "votes": 5, "created": "2026-11-15T12:00:00Z", "submitter": "USR-0002", "jira_key": ""},
    {"id": "PRAISE-0001", "type": "Praise", "title": "検索 is fast", "description": "",
     "status": "Closed", "severity": "Low", "category": "Search", "votes": 1,
     "created": "2026-09-01T00:00:00Z", "submitter": "USR-0001"},
    {"id": "BUG-10000", "type": "Bug Report", "title": "crash, then hang", "status": "New",
     "severity": "High", "votes": 6, "created": "2026-11-02T00:00:00Z"},
]


def ids(text: str, records=RECORDS) -> list[str]:
    return [r["id"] for r in compile_query(text).filter(records)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ["BUG-0001", "BUG-0002", "IDEA-0001", "PRAISE-0001", "BUG-10000"]),
        ("status:new", ["BUG-0001", "BUG-10000"]),
        ("STATUS:NEW", ["BUG-0001", "BUG-10000"]),
        ("status:\"in progress\"", ["BUG-0002"]),
        ("status:in-progress", ["BUG-0002"]),
        ("status:wontfix", ["IDEA-0001"]),
        ("severity:high,critical", ["BUG-0001", "BUG-10000"]),
        ("-category:ui", ["BUG-0001", "PRAISE-0001", "BUG-10000"]),
        ("type:bug", ["BUG-0001", "BUG-0002", "BUG-10000"]),
        ("type:idea", ["IDEA-0001"]),
        ("type:\"feature request\"", ["IDEA-0001"]),
        ("type:praise,idea", ["IDEA-0001", "PRAISE-0001"]),
        ("crash", ["BUG-0001", "BUG-10000"]),
        ("CRASH", ["BUG-0001", "BUG-10000"]),
        ("\"crash on save\"", ["BUG-0001"]),
        ("-crash", ["BUG-0002", "IDEA-0001", "PRAISE-0001"]),
        ("-\"crash on save\"", ["BUG-0002", "IDEA-0001", "PRAISE-0001", "BUG-10000"]),
        ("crash save", ["BUG-0001"]),
        ("\"crash, then\"", ["BUG-10000"]),
        ("votes:>5", ["BUG-0001", "BUG-10000"]),
        ("votes:>=5", ["BUG-0001", "IDEA-0001", "BUG-10000"]),
        ("votes:<1", ["BUG-0002"]),
        ("votes:<=1", ["BUG-0002", "PRAISE-0001"]),
        ("votes:5", ["IDEA-0001"]),
        ("votes:0,1", ["BUG-0002", "PRAISE-0001"]),
        ("created:>=2026-11-01", ["BUG-0001", "IDEA-0001", "BUG-10000"]),
        ("created:>2026-11-01", ["IDEA-0001", "BUG-10000"]),
        ("created:<2026-11-01", ["BUG-0002", "PRAISE-0001"]),
        ("created:<=2026-11-01", ["BUG-0001", "BUG-0002", "PRAISE-0001"]),
        ("created:2026-11-01", ["BUG-0001"]),
        ("created:>2026-11-01T08:00:00Z", ["IDEA-0001", "BUG-10000"]),
        ("created:>=2026-11-01T09:00:00+01:00", ["BUG-0001", "IDEA-0001", "BUG-10000"]),
        ("id:BUG-0001", ["BUG-0001"]),
        ("id:bug-1", ["BUG-0001"]),
        ("id:bug-10000", ["BUG-10000"]),
        ("id:BUG-*", ["BUG-0001", "BUG-0002", "BUG-10000"]),
        ("submitter:*@b.org", ["BUG-0002"]),
        ("jira_key:prj-1", ["BUG-0001"]),
        ("jira_key:\"\"", ["BUG-0002", "IDEA-0001", "PRAISE-0001", "BUG-10000"]),
        ("-jira_key:\"\"", ["BUG-0001"]),
        ("title:typo", ["BUG-0002"]),
        ("zoë", ["BUG-0002"]),
        ("ZOË", ["BUG-0002"]),
        ("\"C:\\Users\"", ["BUG-0002"]),
        ("\"\\\"quoted\\\"\"", ["BUG-0002"]),
        ("🌙", ["IDEA-0001"]),
        ("العربي", ["IDEA-0001"]),
        ("עברית", ["IDEA-0001"]),
        ("検索", ["PRAISE-0001"]),
        ("«paramètres»", ["BUG-0002"]),
        ("status:new severity:high,critical -category:ui crash votes:>5 created:>=2026-11-01 type:bug",
         ["BUG-0001", "BUG-10000"]),
        ("  status:new   \t votes:>10 ", ["BUG-0001"]),
        ("12:30", []),
    ],
)
def test_matches(text, expected):
    assert ids(text) == expected


def test_call_and_filter_agree():
    for text in ("status:new", "-crash", "votes:>=5 -type:idea", "created:<=2026-11-01"):
        query = compile_query(text)
        assert [r for r in RECORDS if query(r)] == query.filter(RECORDS)


@pytest.mark.parametrize(
    "text, named",
    [
        ("status:", "status:"),
        ("votes:>abc", "votes:>abc"),
        ("votes:>", "votes:>"),
        ("created:>=yesterday", "created:>=yesterday"),
        ("\"crash on save", "\"crash on save"),
        ("title:\"unclosed", "title:\"unclosed"),
        ("status:new,", "status:new,"),
        ("-", "-"),
        ("votes:>1,2", "votes:>1,2"),
        # well-formed, but they could never match what was meant: typos must not pass silently
        (":new", ":new"),
        ("votes:abc", "votes:abc"),
        ("title:>5", "title:>5"),
        ("status:>new", "status:>new"),
        ("created:yesterday", "created:yesterday"),
        ("status:bogus", "status:bogus"),
        ("severity:high,urgent", "severity:high,urgent"),
        ("type:question", "type:question"),
    ],
)
def test_malformed_terms_name_the_term(text, named):
    with pytest.raises(QueryError) as info:
        compile_query(f"type:bug {text}")
    assert repr(named) in str(info.value)


def test_unknown_field_is_an_error_when_fields_are_known():
    with pytest.raises(QueryError, match="unknown field 'colour'"):
        compile_query("colour:red", known_fields={"jira_key"})
    compile_query("jira_key:X", known_fields={"jira_key"})
    compile_query("status:new", known_fields=set())
    # Without known fields (a trigger's filter) any well-formed field name is accepted.
    compile_query("colour:red")


def test_filter_records_knows_fields_from_the_data():
    assert [r["id"] for r in filter_records(RECORDS, "jira_key:PRJ-1")] == ["BUG-0001"]
    with pytest.raises(QueryError, match="platform"):
        filter_records(RECORDS, "platform:linux")


def test_negation_partitions_every_record():
    for text in ("status:new", "crash", "votes:>5", "created:>=2026-11-01", "jira_key:\"\"",
                 "type:bug,idea", "id:BUG-*"):
        yes = {r["id"] for r in compile_query(text).filter(RECORDS)}
        no = {r["id"] for r in compile_query("-" + text).filter(RECORDS)}
        assert yes.isdisjoint(no) and len(yes) + len(no) == len(RECORDS), text


def test_configured_types():
    schema = Schema(types=(FeedbackType("Issue", "ISS"), FeedbackType("Kudos", "KUD")))
    records = [{"type": "Issue"}, {"type": "Kudos"}]
    assert compile_query("type:iss", schema).filter(records) == [{"type": "Issue"}]


def test_query_properties():
    assert compile_query("").is_empty and compile_query("  ").is_empty
    query = compile_query("status:new")
    assert not query.is_empty and query.text == "status:new"


def test_text_search_sees_replaced_records():
    query = compile_query("needle")
    record = {"title": "no", "description": ""}
    assert not query(record)
    changed = {**record, "title": "a needle"}
    assert query(changed)


def test_unhashable_and_odd_values():
    records = [{"tags": ["a", "b"], "votes": "7", "flag": True}, {"votes": None}]
    assert compile_query("votes:>5").filter(records) == records[:1]
    assert compile_query("flag:true").filter(records) == records[:1]
    assert compile_query("-tags:x").filter(records) == records


def test_sorting():
    by_votes = sort_records(RECORDS + [{"id": "X-1"}], "votes")
    assert [r.get("votes") for r in by_votes] == [0, 1, 5, 6, 12, None]
    assert [r.get("votes") for r in sort_records(RECORDS + [{"id": "X-1"}], "votes", descending=True)] == [
        12, 6, 5, 1, 0, None]
    assert [r["id"] for r in sorted(RECORDS, key=sort_key("id"))] == [
        "BUG-0001", "BUG-0002", "BUG-10000", "IDEA-0001", "PRAISE-0001"]
    titles = [r["title"] for r in sorted(RECORDS, key=sort_key("title"))]
    assert titles.index("crash, then hang") < titles.index("Dark mode 🌙")
    created = [r["created"] for r in sorted(RECORDS, key=sort_key("created"))]
    assert created == sorted(created)


def test_fields_in():
    assert {"jira_key", "votes", "id"} <= fields_in(RECORDS)


@pytest.mark.parametrize(
    "text", ["status:in-progress", "status:wontfix", "type:bug,idea", "created:2026-11-01",
             "modified:2026-11-01T10:00:00Z", "votes:5", "status:in*", "severity:\"\""],
)
def test_values_of_the_right_kind_are_accepted(text):
    assert not compile_query(text).is_empty
