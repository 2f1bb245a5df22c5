"""The data dir is created 0700 and every file in it 0600, whatever the umask (the macro
journal may hold literal credentials); an existing looser data dir gets one warning line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cctui.delivery.receiver import serve_in_background


@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # the usual umask; subprocesses inherit it
    yield
    os.umask(old)


@pytest.fixture
def receiver_url():
    url, stop = serve_in_background()
    yield url
    stop()


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root.parent)): stat.S_IMODE(p.stat().st_mode)
            for p in [root, *root.rglob("*")]}


def test_a_new_data_dir_is_private_and_so_is_every_file(tmp_path, umask_022, receiver_url):
    from click.testing import CliRunner

    from cctui.cli import cli as root

    data = tmp_path / "nested" / "data"  # cctui creates it (and its parent)

    def cctui(*args: str) -> None:
        result = CliRunner().invoke(root, ["--data-dir", str(data), *args])
        assert result.exit_code == 0, result.output
        assert "warning" not in result.output

    macro = tmp_path / "m.toml"
    macro.write_text(f'name = "m"\nurl = "{receiver_url}/hook?token=lit3ral-tok"\nbody = "x"\nformat = "text"\n')
    cctui("seed", "--count", "1200", "--seed", "1")  # a bulk write: a snapshot, not a journal line
    cctui("macro", "add", str(macro))
    cctui("send", "m", "--item", "BUG-0001", "--item", "BUG-0002")
    cctui("feedback", "set", "BUG-0001", "status=Closed")
    cctui("export", "logs", "--format", "json", "-o", str(tmp_path / "logs.json"))
    found = modes(data)
    assert {"data/records.json", "data/records.journal", "data/meta.journal", "data/.lock",
            "data/logs", "data/logs/seg-000001.jsonl"} <= set(found), found
    wrong = {path: oct(mode) for path, mode in found.items()
             if mode != (0o700 if (data.parent / path).is_dir() else 0o600)}
    assert wrong == {}
    assert stat.S_IMODE(data.parent.stat().st_mode) == 0o755  # parents as the umask says


def test_a_looser_existing_data_dir_gets_one_warning_line(tmp_path, cctui_proc, data_dir):
    data_dir.chmod(0o755)
    result = cctui_proc("feedback", "list", "--json")
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr == (f"cctui: warning: the data directory {data_dir} is open to other users "
                             f"(mode 0755) and may hold credentials; `chmod 700 {data_dir}` fixes it.\n")
    data_dir.chmod(0o700)
    assert cctui_proc("feedback", "list", "--json").stderr == ""
