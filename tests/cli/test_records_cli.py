"""The record commands through the real CLI on temp data dirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]

CONTRACT_FIELDS = {"id", "type", "title", "status", "severity", "submitter", "created", "modified"}


@pytest.fixture
def seeded(cctui):
    result = cctui("seed", "--count", "1000", "--seed", "7")
    assert result.code == 0, result.err
    return cctui


def listed(cctui, *args: str) -> list[dict]:
    result = cctui("feedback", "list", "--json", *args)
    assert result.code == 0, result.err
    return json_lines(result.out)


def store_files(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_seed_then_list_json_has_the_contract_fields(seeded):
    items = listed(seeded)
    assert len(items) == 1000
    for item in items:
        assert CONTRACT_FIELDS <= item.keys()
    assert len({item["id"] for item in items}) == 1000
    assert {item["type"] for item in items} >= {"Bug Report", "Feature Request", "Praise", "Discussion"}
    users = json_lines(seeded("users", "list", "--json").out)
    assert len(users) == 50
    user_ids = {u["id"] for u in users}
    assert sum(item["submitter"] in user_ids for item in items) > 900


@pytest.mark.parametrize(
    "term",
    ["status:new", "severity:high,critical", "type:bug", "crash", '"on save"', "votes:>5",
     "votes:<=1", "created:>=2026-01-01", "category:ui", "platform:\"windows 11\"", "id:BUG-*",
     "modified:<2025-06-01"],
)
def test_a_filter_and_its_negation_partition_the_items(seeded, term):
    everything = {item["id"] for item in listed(seeded)}
    matching = {item["id"] for item in listed(seeded, "--filter", term)}
    rest = {item["id"] for item in listed(seeded, "--filter", f"-{term}")}
    assert matching.isdisjoint(rest)
    assert matching | rest == everything


def test_filters_select_what_they_say(seeded):
    items = listed(seeded, "--filter", "status:new severity:high,critical votes:>5 type:bug")
    assert items
    for item in items:
        assert item["status"] == "New" and item["severity"] in ("High", "Critical")
        assert item["votes"] > 5 and item["id"].startswith("BUG-")


@pytest.mark.parametrize("bad", ["status:", "votes:>abc", '"unclosed', "colour:red"])
def test_a_bad_filter_exits_2_naming_the_term(seeded, bad):
    result = seeded("feedback", "list", "--filter", f"status:new {bad}")
    assert result.code == 2
    assert repr(bad) in result.err and "Traceback" not in result.err
    assert result.out == ""


def test_human_list_shows_n_of_m(seeded):
    result = seeded("feedback", "list", "--filter", "type:praise")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split()[:5] == ["ID", "TYPE", "STATUS", "SEVERITY", "VOTES"]
    assert lines[-1].endswith("of 1,000") and len(lines) == int(lines[-1].split()[0]) + 2


def test_add_and_set(cctui):
    result = cctui("feedback", "add", "--type", "bug", "--title", "Crash «on» save 🚀",
                   "--field", "severity=high", "--field", "jira_key=PRJ-7")
    assert result.code == 0, result.err
    new_id = result.out.strip()
    assert new_id == "BUG-0001"
    assert cctui("feedback", "set", new_id, "status=in progress", "votes=4", "note=x=y").code == 0
    [item] = listed(cctui, "--filter", "jira_key:prj-7")
    assert item["status"] == "In Progress" and item["votes"] == 4 and item["note"] == "x=y"
    assert item["severity"] == "High" and item["title"] == "Crash «on» save 🚀"


@pytest.mark.parametrize(
    "args, named",
    [
        (("feedback", "set", "BUG-0001", "id=BUG-0002"), "'id' is read-only"),
        (("feedback", "set", "BUG-0001", "created=2026-01-01"), "'created' is read-only"),
        (("feedback", "set", "BUG-0001", "status=bogus"), "'status'"),
        (("feedback", "set", "BUG-0001", "votes=many"), "'votes'"),
        (("feedback", "set", "BUG-0001", "novalue"), "'novalue'"),
        (("feedback", "set", "BUG-0404", "status=new"), "BUG-0404"),
        (("feedback", "add", "--type", "nope", "--title", "x"), "'nope'"),
        (("feedback", "add", "--type", "bug", "--title", " "), "'title'"),
        (("feedback", "add", "--type", "bug", "--title", "x", "--field", "Bad Name=1"), "'Bad Name'"),
    ],
)
def test_bad_edits_exit_2_and_change_nothing(cctui, data_dir, args, named):
    assert cctui("feedback", "add", "--type", "bug", "--title", "first").code == 0
    before = store_files(data_dir)
    result = cctui(*args)
    assert result.code == 2, result
    assert named in result.err and "Traceback" not in result.err
    assert store_files(data_dir) == before


def test_every_command_has_help(cctui):
    for args in (("seed",), ("import",), ("export",), ("feedback",), ("feedback", "list"),
                 ("feedback", "add"), ("feedback", "set"), ("users", "list")):
        result = cctui(*args, "--help")
        assert result.code == 0 and "Usage:" in result.out, args


def test_export_round_trips_through_import(seeded, tmp_path, cctui, data_dir):
    for fmt in ("csv", "json", "jsonl"):
        path = tmp_path / f"new.{fmt}"
        result = seeded("export", "feedback", "--format", fmt, "--filter", "type:idea votes:>3",
                        "-o", str(path))
        assert result.code == 0, result.err
    expected = listed(seeded, "--filter", "type:idea votes:>3")
    assert len(json.loads((tmp_path / "new.json").read_text("utf-8"))) == len(expected)
    other = tmp_path / "other"
    for fmt in ("csv", "json", "jsonl"):
        from cctui.cli import main

        with pytest.raises(SystemExit) as info:
            main(["--data-dir", str(other / fmt), "import", str(tmp_path / f"new.{fmt}")])
        assert info.value.code in (0, None)
    for fmt in ("csv", "json", "jsonl"):
        from cctui.store import open_store

        got = open_store(other / fmt).feedback_all()
        strip = lambda r: {k: v for k, v in r.items() if k != "id" and v != ""}  # noqa: E731
        assert [strip(r) for r in got] == [strip(r) for r in expected], fmt


def test_export_to_stdout(seeded):
    result = seeded("export", "feedback", "--format", "json", "--filter", "status:escalated")
    assert result.code == 0
    items = json.loads(result.out)
    assert items and all(item["status"] == "Escalated" for item in items)
    result = seeded("export", "logs", "--format", "csv")
    assert result.code == 0 and result.out.startswith("id,delivery_id,")


def test_export_logs_masks_credential_headers(cctui, data_dir):
    from cctui.store import open_store

    store = open_store(data_dir)
    store.log_append([{
        "id": "att-1", "delivery_id": "del-1", "macro": "m", "record_id": "BUG-0001",
        "trigger": "manual", "attempt": 1, "method": "POST", "url": "https://h/x?token=s3cr3t",
        "status_code": 200, "ok": True, "error": None, "duration_ms": 3,
        "started_at": "2026-11-01T00:00:00Z", "response_body": "ok",
        "request_headers": [["Authorization", "Bearer s3cr3t"], ["X-Api-Key", "s3cr3t"],
                            ["Content-Type", "application/json"]],
    }])
    for fmt in ("csv", "json", "jsonl"):
        result = cctui("export", "logs", "--format", fmt)
        assert result.code == 0, result.err
        assert "s3cr3t" not in result.out and "application/json" in result.out
        assert "att-1" in result.out


def test_two_processes_editing_one_item_lose_nothing(cctui, data_dir):
    """Two real processes run ``feedback set`` in loops on the same item at once."""
    assert cctui("feedback", "add", "--type", "bug", "--title", "shared").code == 0
    rounds = 40
    script = (
        "import sys\n"
        "from cctui.cli import main\n"
        "data, field, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
        "for i in range(1, rounds + 1):\n"
        "    try:\n"
        "        main(['--data-dir', data, 'feedback', 'set', 'BUG-0001', f'{field}={i}',\n"
        "              f'title=shared by {field} {i}'])\n"
        "    except SystemExit as exc:\n"
        "        if exc.code not in (0, None):\n"
        "            sys.exit(f'{field} round {i}: exit {exc.code}')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(data_dir), field, str(rounds)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        for field in ("a_counter", "b_counter")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    [item] = listed(cctui, "--filter", "id:BUG-0001")
    assert item["a_counter"] == rounds and item["b_counter"] == rounds
    assert item["title"] in (f"shared by a_counter {rounds}", f"shared by b_counter {rounds}")
    # A fresh process loads the store too.
    proc = subprocess.run([sys.executable, "-m", "cctui", "--data-dir", str(data_dir), "feedback", "list",
                           "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and json_lines(proc.stdout)[0]["a_counter"] == rounds


BAD_IMPORTS = [
    ("quote.csv", b'title,type\nfine,bug\n"never closed,bug\nlast,bug\n', "quote.csv:3"),
    ("utf8.csv", b"title,type\nfine,bug\nbad \xc3\x28 byte,bug\n", "utf8.csv:3: invalid UTF-8"),
    ("title.csv", b"title,type,severity\nfine,bug,low\n,bug,high\n", "title.csv:3: field 'title'"),
    ("object.json", b'{"items": []}', "object.json:1: expected a JSON list"),
    ("lines.jsonl", b'{"title": "a", "type": "bug"}\n"just a string"\n', "lines.jsonl:2: expected a JSON object"),
]


@pytest.mark.parametrize("name, content, named", BAD_IMPORTS, ids=[b[0] for b in BAD_IMPORTS])
def test_a_bad_import_exits_2_naming_the_line_and_changes_nothing(cctui, data_dir, tmp_path, name, content, named):
    assert cctui("seed", "--count", "20").code == 0
    before = store_files(data_dir)
    listed_before = listed(cctui)
    path = tmp_path / name
    path.write_bytes(content)
    result = cctui("import", str(path))
    assert result.code == 2
    assert named in result.err and "Traceback" not in result.err
    assert store_files(data_dir) == before
    assert listed(cctui) == listed_before


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_a_good_import_adds_every_row(cctui, tmp_path, fmt):
    rows = [{"title": f"row {n} «ü» 🚀 \"q\" \\", "description": "line 1\nline 2", "votes": n,
             "jira_key": f"PRJ-{n}"} for n in range(25)]
    path = tmp_path / f"rows.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(rows), "utf-8")
    elif fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    else:
        import csv

        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    result = cctui("import", str(path), "--type", "idea")
    assert result.code == 0, result.err
    assert "Imported 25" in result.out
    items = listed(cctui)
    assert [(i["title"], i["description"], i["votes"], i["jira_key"]) for i in items] == [
        (r["title"], r["description"], r["votes"], r["jira_key"]) for r in rows]
    assert {i["type"] for i in items} == {"Feature Request"}
