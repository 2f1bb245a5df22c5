"""Bad input at the edges of the CLI: data dirs, read-only fields, typed ids, export options,
and ``--help`` on every command of the tree."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import pytest


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _one_sentence(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- 1. a data directory that cannot be created -----------------------------------------------


def test_a_data_dir_under_a_file_is_bad_input_naming_the_directory_and_why(run, tmp_path):
    blocker = tmp_path / "somefile"
    blocker.write_text("not a directory")
    wanted = blocker / "sub"
    result = run("--data-dir", str(wanted), "feedback", "list")
    assert result.code == 2
    line = _one_sentence(result.err)
    assert str(wanted) in line and f"{blocker} is a file" in line
    assert blocker.read_text() == "not a directory"


def test_a_data_dir_from_the_environment_that_is_a_file_is_bad_input(run, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("CCTUI_DATA_DIR", str(blocker))
    result = run("feedback", "list")
    assert result.code == 2
    line = _one_sentence(result.err)
    assert str(blocker) in line and "not a directory" in line


@pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/proc/self").exists(),
                    reason="needs Linux /proc")
def test_a_data_dir_where_nothing_can_be_created_is_bad_input(run):
    result = run("--data-dir", "/proc/cctui-no-such-dir/x", "seed", "--count", "1")
    assert result.code == 2
    assert "/proc/cctui-no-such-dir/x" in _one_sentence(result.err)


# -- 4. read-only fields on submit, negative votes --------------------------------------------


@pytest.mark.parametrize("field", ["id", "created", "modified"])
def test_feedback_add_refuses_read_only_fields(cctui, field):
    result = cctui("feedback", "add", "--type", "bug", "--title", "t", "--field", f"{field}=2020-01-01")
    assert result.code == 2
    assert f"field {field!r} is read-only" in _one_sentence(result.err)
    assert cctui("feedback", "list", "--json").out == ""


def test_import_keeps_historical_created_dates(cctui, tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text('{"type": "bug", "title": "old", "created": "2020-01-01T00:00:00Z"}\n', "utf-8")
    assert cctui("import", str(path)).code == 0
    [item] = json_lines(cctui("feedback", "list", "--json").out)
    assert item["created"] == "2020-01-01T00:00:00Z"


@pytest.mark.parametrize("args", [
    ("feedback", "add", "--type", "bug", "--title", "t", "--field", "votes=-1"),
    ("feedback", "set", "BUG-0001", "votes=-3"),
])
def test_negative_votes_are_refused(cctui, args):
    assert cctui("feedback", "add", "--type", "bug", "--title", "first").code == 0
    result = cctui(*args)
    assert result.code == 2
    assert "field 'votes': expected 0 or more" in _one_sentence(result.err)
    [item] = json_lines(cctui("feedback", "list", "--json").out)
    assert item["votes"] == 0


# -- 5. ids as people type them ----------------------------------------------------------------


@pytest.fixture
def no_retries():
    """Failed deliveries fail at once (no backoff waits)."""
    Path(os.environ["CCTUI_CONFIG"]).write_text("[delivery]\nretry_schedule = []\n", "utf-8")


@pytest.mark.parametrize("typed", ["bug-2", "BUG-2", "bug-0002", "BUG-0002"])
def test_feedback_set_takes_an_id_in_any_case_and_padding(cctui, typed):
    for title in ("one", "two"):
        assert cctui("feedback", "add", "--type", "bug", "--title", title).code == 0
    result = cctui("feedback", "set", typed, "status=closed")
    assert result.code == 0, result.err
    assert result.out.strip() == "Updated BUG-0002: status."
    items = {i["id"]: i["status"] for i in json_lines(cctui("feedback", "list", "--json").out)}
    assert items == {"BUG-0001": "New", "BUG-0002": "Closed"}


def test_send_logs_retry_and_preview_take_ids_in_any_case_and_padding(cctui, no_retries):
    assert cctui("feedback", "add", "--type", "bug", "--title", "one").code == 0
    assert cctui("macro", "add", "--preset", "generic", "--name", "g",
                 "--url", "http://127.0.0.1:9/hook").code == 0
    preview = cctui("macro", "preview", "g", "--item", "bug-1", "--json")
    assert preview.code == 0, preview.err
    assert "BUG-0001" in json.loads(preview.out)["body"]
    sent = cctui("send", "g", "--item", "bug-1", "--json")  # nothing listens on port 9
    assert sent.code == 1, sent.err
    assert json_lines(sent.out)[0]["id"] == "BUG-0001"
    [attempt] = json_lines(cctui("logs", "--item", "bug-1", "--json").out)
    assert attempt["record_id"] == "BUG-0001"
    retried = cctui("retry", "--item", "Bug-01")
    assert "BUG-0001" in retried.out, retried
    assert [a["attempt"] for a in json_lines(cctui("logs", "--item", "BUG-1", "--json").out)] == [2, 1]


def test_an_unknown_id_is_named_in_its_stored_form(cctui):
    result = cctui("feedback", "set", "bug-7", "status=closed")
    assert result.code == 2
    assert "BUG-0007" in _one_sentence(result.err)


# -- 7. export options ---------------------------------------------------------------------------


def _log_entry(**fields) -> dict:
    entry = {
        "id": "att-1", "delivery_id": "del-1", "macro": "m", "record_id": "BUG-0001",
        "trigger": "manual", "attempt": 1, "method": "POST", "url": "https://h/x",
        "status_code": 500, "ok": False, "error": "boom", "duration_ms": 3,
        "started_at": "2026-11-01T00:00:00Z", "response_body": "", "request_headers": {},
    }
    return {**entry, **fields}


def test_export_logs_filter_on_an_unknown_field_is_an_error_naming_it(cctui, data_dir):
    from cctui.store import open_store

    store = open_store(data_dir)
    store.log_append([_log_entry(), _log_entry(id="att-2", status_code=200, ok=True, error=None)])
    store.close()
    result = cctui("export", "logs", "--filter", "nosuch:1")
    assert result.code == 2 and result.out == ""
    assert "'nosuch'" in _one_sentence(result.err)
    good = cctui("export", "logs", "--filter", "status_code:>=400 trigger:manual")
    assert good.code == 0, good.err
    assert [e["id"] for e in json_lines(good.out)] == ["att-1"]


def test_export_logs_filter_on_an_empty_log_still_checks_fields(cctui):
    assert cctui("export", "logs", "--filter", "status_code:>=400").code == 0
    result = cctui("export", "logs", "--filter", "colour:red")
    assert result.code == 2 and "'colour'" in result.err


def test_export_feedback_with_macro_is_a_usage_error(cctui, tmp_path):
    out = tmp_path / "x.jsonl"
    result = cctui("export", "feedback", "--macro", "x", "-o", str(out))
    assert result.code == 2
    assert "--macro" in result.err and "logs" in result.err and "Traceback" not in result.err
    assert not out.exists()


def test_export_help_does_not_say_filter_is_for_feedback_only(cctui):
    result = cctui("export", "--help")
    assert result.code == 0
    assert "feedback only" not in result.out and "log entries" in " ".join(result.out.split())


# -- 8. --help on every command -----------------------------------------------------------------


def _walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], path + (name,))


def test_every_command_in_the_tree_has_help(cctui):
    from cctui.cli import cli

    commands = list(_walk(cli))
    names = {path[0] for path, _ in commands if path}
    assert names >= {"feedback", "users", "macro", "send", "logs", "retry", "run-due", "receiver",
                     "listen", "serve", "demo", "seed", "import", "export"}
    assert {path for path, _ in commands if path[:1] == ("macro",)} >= {
        ("macro",), ("macro", "add"), ("macro", "list"), ("macro", "show"), ("macro", "remove"),
        ("macro", "preview")}
    for path, command in commands:
        result = cctui(*path, "--help")
        assert result.code == 0, (path, result)
        assert result.out.startswith("Usage: cctui"), (path, result.out[:200])
        assert " ".join(path) in result.out.splitlines()[0], path
        if command.help:
            first = command.help.strip().split("\n")[0].split()[0]
            assert first in result.out, path


def test_on_success_refuses_lists_and_objects_as_the_other_entry_points_do(cctui, tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(
        'name = "m"\nurl = "http://127.0.0.1:9/x"\nbody = "{}"\n'
        '[on_success]\nstatus = "Escalated"\nlabels = ["a", "b"]\n', "utf-8")
    result = cctui("macro", "add", str(path))
    assert result.code == 2
    assert "field 'labels': must be text, a number, true/false or null, got a list" in _one_sentence(result.err)
    path.write_text(path.read_text("utf-8").replace('labels = ["a", "b"]', "escalated = true"), "utf-8")
    assert cctui("macro", "add", str(path)).code == 0
