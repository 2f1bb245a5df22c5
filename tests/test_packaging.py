"""A plain, non-editable install must carry everything the program reads at run time."""

from __future__ import annotations

import subprocess
import sys
import tomllib
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


def _setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_data_glob_matches_a_file():
    """A glob that matches nothing is a leftover that misleads the next reader."""
    config = _setuptools_config()
    dirs = config.get("package-dir", {})
    for package, globs in config["package-data"].items():
        base = ROOT / dirs.get(package, package.replace(".", "/"))
        for pattern in globs:
            assert list(base.glob(pattern)), f"package-data {package}: {pattern!r} matches nothing"


def test_wheel_ships_every_package_and_data_file(wheel):
    names = set(wheel.namelist())
    packages = {p.parent for p in (ROOT / "cctui").rglob("__init__.py")}
    for package in packages:
        assert f"{package.relative_to(ROOT).as_posix()}/__init__.py" in names
    data = [p for p in (ROOT / "cctui").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    for path in data:
        assert path.relative_to(ROOT).as_posix() in names
