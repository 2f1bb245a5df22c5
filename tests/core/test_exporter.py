"""Export formats, atomic files and masking of log entries."""

from __future__ import annotations

import csv
import io
import json

import pytest

from cctui.core.exporter import atomic_output, export_feedback, export_logs
from cctui.errors import InputError
from cctui.macros.secrets import mask_log_entry

ITEMS = [
    {"id": "BUG-0001", "title": 'a, "b"\nc', "votes": 3, "jira_key": "X-1", "tags": ["a", "ü"]},
    {"id": "IDEA-0001", "title": "مرحبا 🌙", "votes": 0},
]


def test_formats():
    out = io.StringIO()
    assert export_feedback(ITEMS, "json", out) == 2
    assert json.loads(out.getvalue()) == ITEMS
    out = io.StringIO()
    export_feedback(ITEMS, "jsonl", out)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == ITEMS
    out = io.StringIO()
    export_feedback(ITEMS, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["title"] == 'a, "b"\nc' and rows[0]["tags"] == '["a", "ü"]'
    assert rows[1]["jira_key"] == "" and rows[1]["title"] == "مرحبا 🌙"
    assert list(rows[0])[:3] == ["id", "type", "title"]
    out = io.StringIO()
    export_feedback([], "json", out)
    assert json.loads(out.getvalue()) == []


def test_unknown_format():
    with pytest.raises(InputError, match="xml"):
        export_feedback(ITEMS, "xml", io.StringIO())


def test_atomic_output_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(path) as out:
            out.write("partial")
            raise RuntimeError("boom")
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]
    with atomic_output(path) as out:
        out.write("new")
    assert path.read_text() == "new"
    with pytest.raises(InputError, match="does not exist"):
        with atomic_output(tmp_path / "missing" / "x.csv"):
            pass


def test_log_entries_are_masked_again():
    entry = {
        "url": "https://u:pw@h/x?sig=abc&page=2",
        "request_headers": [["Authorization", "Bearer t0k"], ["Cookie", "s=1"], ["X-My-Token", "t"],
                            ["Accept", "text/plain"]],
        "response_headers": {"Set-Cookie": "id=9", "Content-Type": "json"},
    }
    masked = mask_log_entry(entry)
    text = json.dumps(masked)
    for secret in ("t0k", "s=1", '"t"', "id=9", "abc", "pw"):
        assert secret not in text, secret
    assert "text/plain" in text and "page=2" in text and "Bearer" in text
    assert entry["request_headers"][0][1] == "Bearer t0k"  # the input is untouched
    out = io.StringIO()
    export_logs([masked], "csv", out)
    assert "t0k" not in out.getvalue() and "Bearer" in out.getvalue()


FORMULAS = ["=HYPERLINK(\"http://x.example\",\"click\")", "+1+1", "-2+3", "@SUM(A1:A2)", "=cmd|' /C calc'!A0"]


def test_csv_export_neutralises_formulas_and_json_keeps_them(cli, tmp_path, data_dir):
    items = [{"type": "Bug Report", "title": title, "description": "plain = text, -not at start"}
             for title in FORMULAS]
    items[0].update(description="\tcmd", steps="\rcmd")  # titles are stripped; these are not
    source = tmp_path / "items.json"
    source.write_text(json.dumps(items), encoding="utf-8")
    assert cli("import", str(source)).exit_code == 0
    from cctui.store import open_store

    store = open_store(data_dir)
    store.log_append([{"id": "a-1", "macro": "m", "record_id": "BUG-0001", "attempt": 1, "status_code": 500,
                       "ok": False, "error": "-bad", "response_body": "=1+2", "duration_ms": -1}])
    store.close()
    out = {}
    for what in ("feedback", "logs"):
        for fmt in ("csv", "json", "jsonl"):
            path = tmp_path / f"{what}.{fmt}"
            result = cli("export", what, "--format", fmt, "-o", str(path))
            assert result.exit_code == 0, result.output
            out[what, fmt] = path.read_bytes().decode("utf-8")  # keep a bare CR as it is
    rows = list(csv.DictReader(io.StringIO(out["feedback", "csv"])))
    assert sorted(row["title"] for row in rows) == sorted("'" + title for title in FORMULAS)
    assert {row["description"] for row in rows} == {"plain = text, -not at start", "'\tcmd"}  # leading only
    assert {row["steps"] for row in rows} == {"", "'\rcmd"}
    (log,) = csv.DictReader(io.StringIO(out["logs", "csv"]))
    assert (log["response_body"], log["error"], log["duration_ms"]) == ("'=1+2", "'-bad", "-1")  # numbers stay
    # JSON and JSON Lines are data, not a sheet: values exactly as stored.
    assert sorted(i["title"] for i in json.loads(out["feedback", "json"])) == sorted(FORMULAS)
    assert {i.get("steps") for i in json.loads(out["feedback", "json"])} >= {"\rcmd"}
    assert sorted(json.loads(line)["title"] for line in out["feedback", "jsonl"].splitlines()) == sorted(FORMULAS)
    assert json.loads(out["logs", "json"])[0]["response_body"] == "=1+2"
    assert json.loads(out["logs", "jsonl"].splitlines()[0])["error"] == "-bad"


def test_a_neutralised_csv_export_imports_back_as_it_was(cli, tmp_path, data_dir):
    titles = [*FORMULAS, "'=already quoted", "''+twice", "'plain apostrophe", "a=b"]
    source = tmp_path / "items.json"
    source.write_text(json.dumps([{"type": "Bug Report", "title": t} for t in titles]), encoding="utf-8")
    assert cli("import", str(source)).exit_code == 0
    exported = tmp_path / "items.csv"
    assert cli("export", "feedback", "--format", "csv", "-o", str(exported)).exit_code == 0
    cells = {row["title"] for row in csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8")))}
    assert {"''=already quoted", "'''+twice", "'plain apostrophe", "a=b"} <= cells
    again = tmp_path / "again"
    result = cli("--data-dir", str(again), "import", str(exported))
    assert result.exit_code == 0, result.output
    back = cli("--data-dir", str(again), "export", "feedback", "--format", "jsonl").output
    assert sorted(json.loads(line)["title"] for line in back.splitlines()) == sorted(titles)
