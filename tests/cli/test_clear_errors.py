"""Hostile files, numbers, ids, queries and data directories: one sentence, never a traceback.

Each case goes through the real entry point (``cctui.cli.main``); the permission cases
run the real command in a subprocess as an unprivileged user (root ignores file modes).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

DEEP = 100_000
BIG = "9" * 5000


def one_sentence(result, *fragments: str) -> str:
    assert "Traceback" not in result.err and "Error:" not in result.err.split("cctui:")[0]
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def seeded(cctui):
    assert cctui("feedback", "add", "--type", "bug", "--title", "Crash").code == 0  # BUG-0001
    assert cctui("macro", "add", "--preset", "generic", "--name", "g", "--url", "http://127.0.0.1:9/").code == 0
    return cctui


# -- deeply nested JSON ---------------------------------------------------------------------

def test_import_of_deeply_nested_json(seeded, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('[{"type": "bug", "title": "x", "extra": ' + "[" * DEEP + "]" * DEEP + "}]")
    result = seeded("import", str(path))
    assert result.code == 2
    one_sentence(result, f"{path}:1:", "nests lists or objects too deeply")
    assert len(seeded("feedback", "list", "--json").out.splitlines()) == 1


def test_import_of_deeply_nested_jsonl(seeded, tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"type": "bug", "title": "ok"}\n{"x": ' + "[" * DEEP + "]" * DEEP + "}\n")
    result = seeded("import", str(path))
    assert result.code == 2
    one_sentence(result, f"{path}:2:", "too deeply")


def test_macro_file_of_deeply_nested_json(cctui, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"name": "deep", "url": "http://127.0.0.1:9/", "body": ' + "[" * DEEP + "]" * DEEP + "}")
    result = cctui("macro", "add", str(path))
    assert result.code == 2
    one_sentence(result, str(path), "too deeply")


def test_macro_file_of_deeply_nested_toml(cctui, tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text('name = "deep"\nurl = "http://127.0.0.1:9/"\nx = ' + "[" * 5000 + "]" * 5000 + "\n")
    result = cctui("macro", "add", str(path))
    assert result.code == 2
    one_sentence(result, str(path), "too deeply")


# -- 5,000-digit numbers and ids ------------------------------------------------------------

def test_import_of_a_5000_digit_json_number(seeded, tmp_path):
    path = tmp_path / "big.json"
    path.write_text('[\n{"type": "bug", "title": "x", "votes": ' + BIG + "}\n]")
    result = seeded("import", str(path))
    assert result.code == 2
    one_sentence(result, f"{path}:2:", "more than 4,300 digits")


def test_import_of_a_5000_digit_csv_number(seeded, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(f"type,title,votes\nbug,x,{BIG}\n")
    result = seeded("import", str(path))
    assert result.code == 2
    line = one_sentence(result, f"{path}:2:", "votes", "too large")
    assert len(line) < 300


def test_set_a_5000_digit_number(seeded):
    result = seeded("feedback", "set", "BUG-0001", f"votes={BIG}")
    assert result.code == 2
    assert len(one_sentence(result, "votes", "too large")) < 300


def test_a_number_past_64_bits_is_refused_before_it_reaches_the_store(seeded, tmp_path):
    path = tmp_path / "wide.json"
    path.write_text(f'[{{"type": "bug", "title": "x", "score": {2**64}}}]')
    result = seeded("import", str(path))
    assert result.code == 2
    one_sentence(result, f"{path}:1:", "score", "too large")


def test_set_on_a_5000_digit_id(seeded):
    result = seeded("feedback", "set", f"BUG-{BIG}", "status=New")
    assert result.code == 2
    assert len(one_sentence(result, "no such record")) < 300


def test_preview_of_a_5000_digit_id(seeded):
    result = seeded("macro", "preview", "g", "--item", f"BUG-{BIG}")
    assert result.code == 2
    assert len(one_sentence(result, "there is no feedback item")) < 300


def test_filter_on_a_5000_digit_id_matches_nothing(seeded):
    result = seeded("feedback", "list", "--filter", f"id:BUG-{BIG}", "--json")
    assert result.code == 0 and result.out == "" and "Traceback" not in result.err


def test_logs_status_of_5000_digits(seeded):
    result = seeded("logs", "--status", BIG)
    assert result.code == 2
    assert len(one_sentence(result, "expected a code (404)")) < 300


# -- unicode look-alikes --------------------------------------------------------------------

@pytest.mark.parametrize("field", ["ｓｔａｔｕｓ", "stätus"])
def test_a_unicode_field_name_in_a_filter_is_an_unknown_field(seeded, field):
    result = seeded("feedback", "list", "--filter", f"{field}:new")
    assert result.code == 2
    one_sentence(result, f"unknown field {field!r}")


@pytest.mark.parametrize("record_id", ["BUG-０００１", "BUG-٠٠٠١", "bug-１"])
def test_ids_take_ascii_digits_only(seeded, record_id):
    result = seeded("feedback", "set", record_id, "status=Closed")
    assert result.code == 2
    one_sentence(result, "no such record")
    assert json.loads(seeded("feedback", "list", "--json").out)["status"] != "Closed"


def test_numbers_take_ascii_digits_only(seeded):
    result = seeded("feedback", "set", "BUG-0001", "votes=４２")
    assert result.code == 2
    one_sentence(result, "votes", "expected a whole number")


# -- a huge query ---------------------------------------------------------------------------

def test_a_2500_term_query_is_refused_as_too_long(seeded):
    result = seeded("feedback", "list", "--filter", " ".join(f"-title:x{i}" for i in range(2500))[:9_999])
    assert result.code == 2
    one_sentence(result, "the query is too long (", " terms; at most 64)")
    result = seeded("feedback", "list", "--filter", "a" * 20_000)
    one_sentence(result, "(20,000 characters; at most 10,000)")


def test_repeated_terms_count_once(seeded):
    result = seeded("feedback", "list", "--filter", " ".join(["crash"] * 1500), "--json")
    assert result.code == 0 and json.loads(result.out)["title"] == "Crash"


# -- unusable data directories --------------------------------------------------------------

def test_lock_file_that_is_a_directory(seeded, data_dir):
    (data_dir / ".lock").unlink()
    (data_dir / ".lock").mkdir()
    result = seeded("feedback", "add", "--type", "bug", "--title", "Second")
    assert result.code == 2
    one_sentence(result, str(data_dir / ".lock"), "is a directory")


def test_data_dir_that_is_a_dangling_symlink(run, tmp_path):
    link = tmp_path / "data-link"
    link.symlink_to(tmp_path / "gone")
    result = run("--data-dir", str(link), "feedback", "list")
    assert result.code == 2
    one_sentence(result, str(link), "symbolic link", "does not exist")
    assert not (tmp_path / "gone").exists()


@pytest.mark.parametrize("name", ["records.journal", "meta.journal", ".lock"])
def test_store_file_that_is_a_dangling_symlink(seeded, data_dir, tmp_path, name):
    (data_dir / name).unlink()
    (data_dir / name).symlink_to(tmp_path / "missing" / name)
    result = seeded("feedback", "list")
    assert result.code == 2
    one_sentence(result, str(data_dir / name), "symbolic link", "does not exist")


def _without_dac_override() -> None:
    """Drop the capabilities that let root ignore file modes (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH) from the bounding set: the exec'd command then meets the modes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _demoted() -> dict:
    return {"preexec_fn": _without_dac_override} if os.geteuid() == 0 else {}


@pytest.fixture
def shared_dir(tmp_path):
    path = tmp_path / "shared"
    path.mkdir()
    yield path
    for root, _dirs, _files in os.walk(path):
        os.chmod(root, 0o755)
    shutil.rmtree(path)


def _cli(shared_dir: Path, data: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CCTUI_CONFIG": str(shared_dir / "config.toml"), "HOME": str(shared_dir)}
    return subprocess.run([sys.executable, "-m", "cctui", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=env, timeout=60, **_demoted())


def _make_data(shared_dir: Path) -> Path:
    data = shared_dir / "data"
    made = _cli(shared_dir, data, "feedback", "add", "--type", "bug", "--title", "Crash")
    assert made.returncode == 0, made.stderr
    return data


def test_read_only_data_dir(shared_dir):
    data = _make_data(shared_dir)
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    for path in [data, *data.iterdir()]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
    result = _cli(shared_dir, data, "feedback", "add", "--type", "bug", "--title", "Second")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert str(data) in result.stderr and "permission denied" in result.stderr
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == before
    listed = _cli(shared_dir, data, "feedback", "list", "--json")
    assert listed.returncode == 0 and "Crash" in listed.stdout  # reading still works


def test_permission_denied_data_dir(shared_dir):
    data = _make_data(shared_dir)
    data.chmod(0o000)
    result = _cli(shared_dir, data, "feedback", "list")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert f"cctui: {data}: permission denied" in result.stderr
