"""Run the real console entry point in-process, exit codes and all."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class Outcome:
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
