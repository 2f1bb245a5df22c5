"""Import parsing: every malformed file names its line; good files give every row."""

from __future__ import annotations

import json

import pytest

from cctui.core.importer import import_file, parse_file
from cctui.errors import InputError
from cctui.store import open_store


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


GOOD_CSV = (
    "title,type,description,severity,votes,jira_key\r\n"
    "Crash on save,bug,\"multi\nline, with \"\"quotes\"\"\",high,3,PRJ-1\r\n"
    "\r\n"
    "Dark mode 🌙,idea,النص العربي — עברית,,,\r\n"
    "C:\\Users\\Zoë,,backslash,low,0,\r\n"
)


def test_good_csv_with_bom_imports_every_row(tmp_path):
    path = write(tmp_path, "good.csv", b"\xef\xbb\xbf" + GOOD_CSV.encode("utf-8"))
    items = parse_file(path, default_type="praise")
    assert [i["title"] for i in items] == ["Crash on save", "Dark mode 🌙", "C:\\Users\\Zoë"]
    assert items[0]["description"] == 'multi\nline, with "quotes"'
    assert items[0]["severity"] == "High" and items[0]["votes"] == 3 and items[0]["jira_key"] == "PRJ-1"
    assert items[1]["type"] == "Feature Request" and "jira_key" not in items[1]
    assert items[2]["type"] == "Praise"


def test_good_json_and_jsonl(tmp_path):
    rows = [{"title": "one", "type": "bug", "votes": 2, "extra_flag": True, "extra_n": 1.5},
            {"title": "two \u2028 sep", "type": "Feature Request"}]
    assert len(parse_file(write(tmp_path, "a.json", json.dumps(rows, indent=2)))) == 2
    assert parse_file(write(tmp_path, "e.json", " [ ] ")) == []
    jsonl = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n  \n"
    items = parse_file(write(tmp_path, "a.jsonl", jsonl))
    assert [i["title"] for i in items] == ["one", "two \u2028 sep"]


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("q.csv", 'title,type\nok,bug\n"never closed,bug\nthird,bug\n', "q.csv:3: malformed CSV (a quoted field is never closed)"),
        ("q2.csv", 'title,type\n"a"b,bug\n', "q2.csv:2: malformed CSV"),
        ("w.csv", "title,type\nok,bug\ntoo,many,cells\n", "w.csv:3: expected 2 fields"),
        ("u.csv", b"title,type\nok,bug\nbad \xff byte,bug\n", "u.csv:3: invalid UTF-8 (byte 0xff at column 5)"),
        ("t.csv", "title,type\nok,bug\n,bug\n", "t.csv:3: field 'title' is missing or empty"),
        ("h.csv", "title,,type\n", "h.csv:1: column 2 of the header has no name"),
        ("hn.csv", "title,Bad Name,type\nok,x,bug\n", "hn.csv:1: column 2 of the header, 'Bad Name', is not a valid field name"),
        ("hd.csv", "title,type,Title\nok,bug,x\n", "hd.csv:1: the header names 'title' twice"),
        ("ht.csv", "name,type\nok,bug\n", "ht.csv:1: the header has no 'title' column"),
        ("hy.csv", "title,severity\nok,low\n", "hy.csv:1: the header has no 'type' column; add one or give --type"),
        ("hb.csv", "\n\ntitle,Bad Name\n", "hb.csv:3: column 2 of the header, 'Bad Name', is not a valid field name"),
        ("dj.json", '[\n {"title": "x", "type": "bug",\n  "description": {"a": 1}}\n]', "dj.json:2: field 'description': must be text, got an object"),
        ("xj.jsonl", '{"title": "x", "type": "bug", "labels": ["a"]}\n', "xj.jsonl:1: field 'labels': must be text, a number, true/false or null, got a list"),
        ("tj.jsonl", '{"title": ["x"], "type": "bug"}\n', "tj.jsonl:1: field 'title': must be text, got a list"),
        ("vj.jsonl", '{"title": "x", "type": "bug", "votes": -3}\n', "vj.jsonl:1: field 'votes': expected 0 or more, got -3"),
        ("vc.csv", "title,type,votes\nx,bug,-1\n", "vc.csv:2: field 'votes': expected 0 or more, got -1"),
        ("s.csv", "title,type\nok,bug\nx,nonsense\n", "s.csv:3: field 'type': unknown feedback type 'nonsense'"),
        ("v.csv", "title,type,status\nok,bug,Parked\n", "v.csv:2: field 'status': unknown status 'Parked'"),
        ("n.json", '{"title": "x"}', "n.json:1: expected a JSON list of objects, got an object"),
        ("o.json", '[\n {"title": "x", "type": "bug"},\n "string"\n]', "o.json:3: expected an object in the list, got a string"),
        ("b.json", '[\n {"title": "x", "type": "bug"},\n {"title": }\n]', "b.json:3: invalid JSON"),
        ("m.json", '[\n {"type": "bug"}\n]', "m.json:2: field 'title' is missing"),
        ("l.jsonl", '{"title": "x", "type": "bug"}\n\n[1, 2]\n', "l.jsonl:3: expected a JSON object, got a list"),
        ("j.jsonl", '{"title": "x", "type": "bug"}\n{"title": \n', "j.jsonl:2: invalid JSON"),
        ("x.txt", "title\n", "unsupported file type '.txt'"),
    ],
)
def test_bad_files_name_the_line(tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    with pytest.raises(InputError) as info:
        parse_file(path)
    assert expected in str(info.value)


def test_import_is_all_or_nothing(tmp_path, data_dir):
    store = open_store(data_dir)
    path = write(tmp_path, "half.jsonl", '{"title": "fine", "type": "bug"}\n{"type": "bug"}\n')
    with pytest.raises(InputError):
        import_file(store, path)
    assert store.feedback_count() == 0
    added = import_file(store, write(tmp_path, "ok.csv", GOOD_CSV), default_type="bug")
    assert [i["id"] for i in added] == ["BUG-0001", "IDEA-0001", "BUG-0002"]
    assert store.feedback_count() == 3


def test_numbers_in_text_fields_are_kept_as_text_and_scalars_in_extra_fields_as_they_are(tmp_path):
    rows = [{"title": 404, "type": "bug", "category": 7, "description": 1.5, "flag": False,
             "score": 2.5, "ticket": None, "votes": 3.0}]
    [item] = parse_file(write(tmp_path, "n.json", json.dumps(rows)))
    assert (item["title"], item["category"], item["description"]) == ("404", "7", "1.5")
    assert (item["flag"], item["score"], item["ticket"], item["votes"]) == (False, 2.5, None, 3)


def test_a_csv_cell_larger_than_the_csv_modules_default_limit_imports(tmp_path, data_dir):
    """An export of an item with a 200 KB description imports again (the default limit
    of Python's csv module is 128 KiB per field)."""
    import csv

    from cctui.core.exporter import export_feedback

    saved = csv.field_size_limit(128 * 1024)  # as in a fresh process, whatever ran before here
    try:
        _round_trip_a_200_kb_description(tmp_path, data_dir, export_feedback)
    finally:
        csv.field_size_limit(max(saved, csv.field_size_limit()))


def _round_trip_a_200_kb_description(tmp_path, data_dir, export_feedback):
    store = open_store(data_dir)
    description = ("pasted log line ✗ \"quoted\", C:\\tmp\n" * 6000)[:200_000]
    [item] = store.feedback_add([{"type": "Bug Report", "title": "huge", "description": description,
                                  "status": "New", "severity": "Low", "votes": 0}])
    path = tmp_path / "huge.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        export_feedback([item], "csv", out)
    assert len(path.read_bytes()) > 200_000
    [again] = parse_file(path)
    assert again["description"] == description and again["title"] == "huge"
    other = open_store(tmp_path / "other")
    [added] = import_file(other, path)
    assert added["description"] == description

