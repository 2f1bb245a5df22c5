"""Fixtures shared by every area: temp data dirs, an isolated config, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's config or data."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CCTUI_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("CCTUI_DATA_DIR", str(home / "data"))
    monkeypatch.delenv("CCTUI_NOW", raising=False)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)  # as cctui makes it: a looser one gets a warning on stderr
    return path


@pytest.fixture
def cli(data_dir):
    """Invoke the real CLI in-process: ``cli("feedback", "list", "--json")``."""
    from cctui.cli import cli as root

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict | None = None):
        return runner.invoke(root, ["--data-dir", str(data_dir), *args], input=input, env=env)

    return invoke


@pytest.fixture
def cctui_proc(data_dir):
    """Run ``cctui`` as a real subprocess: ``cctui_proc("seed", "--count", "10")``."""

    def run(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None):
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "cctui", "--data-dir", str(data_dir), *args],
            capture_output=True, text=True, timeout=timeout, env=full_env, input=input,
        )

    return run


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Outcome(NamedTuple):
    """A command's exit code, stdout and stderr (unpacks as a tuple too)."""

    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys):
    """``run(*argv)`` -> Outcome(code, out, err), via ``cctui.cli.main`` with no preset
    --data-dir (so user errors become exit codes exactly as for the installed command)."""
    from cctui.cli import main

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def cctui(data_dir, run):
    """``cctui("feedback", "list")``: ``run`` on this test's data directory."""
    return lambda *args: run("--data-dir", str(data_dir), *args)


@pytest.fixture
def run_cli(cctui, monkeypatch):
    """``run_cli(*args, env={...})``: ``cctui`` with environment variables set first."""

    def invoke(*args: str, env: dict | None = None) -> Outcome:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        return cctui(*args)

    return invoke
