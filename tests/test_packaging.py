"""A plain, non-editable install must carry everything the program reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    (built,) = out.glob("cctui-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_ships_every_theme_file(wheel):
    names = set(wheel.namelist())
    themes = sorted(p.name for p in (ROOT / "themes").glob("*.toml"))
    assert len(themes) >= 4
    for theme in themes:
        assert f"cctui/themes/{theme}" in names


def test_wheel_ships_every_preset(wheel):
    names = set(wheel.namelist())
    for preset in ("slack", "jira", "teams", "discord", "salesforce", "generic"):
        assert f"cctui/macros/presets/{preset}.toml" in names


def test_wheel_declares_the_console_script(wheel):
    entry_points = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))
    assert "cctui = cctui.cli:main" in wheel.read(entry_points).decode()
