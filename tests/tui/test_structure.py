"""The TUI follows Textual's grain: promises about its code that a reader can check.

Each test reads the source of every module under ``cctui/tui`` and names the file and
line that breaks the promise.
"""

from __future__ import annotations

import re
from pathlib import Path

import cctui.tui

TUI = Path(cctui.tui.__file__).parent


def _hits(pattern: str) -> list[str]:
    found = []
    for path in sorted(TUI.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(pattern, line):
                found.append(f"{path.relative_to(TUI.parent.parent)}:{number}: {line.strip()}")
    return found


def test_engine_events_are_matched_by_class_not_by_name():
    assert not _hits(r"type\(\s*(ev|event)\s*\)\.__name__"), "match on the classes of cctui.delivery.events"
    assert _hits(r"^\s*match event:"), "RunProgress.apply matches on the event's class"


def test_no_duck_typing_on_the_store_the_engine_or_the_app():
    assert not _hits(r"\b(getattr|hasattr)\(\s*(self\.)?(app\.)?(store|engine|app|dispatcher)\b")


def test_background_work_runs_on_textual_workers():
    """No raw threads and no reaching into Textual's private error path: background work
    is ``@work(thread=True)`` / ``run_worker``, results come back with ``post_message``."""
    assert not _hits(r"threading\.Thread\(|\bThread\("), "use a Textual thread worker"
    assert not _hits(r"_handle_exception"), "let the worker fail (exit_on_error) or post a message"


def test_every_screen_lives_in_screens():
    """Screens and modal screens are in cctui/tui/screens/, one confirmation for all."""
    import importlib
    import inspect
    import pkgutil

    from textual.screen import Screen

    misplaced, confirmations = [], []
    for info in pkgutil.walk_packages(cctui.tui.__path__, "cctui.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, Screen):
                continue
            if not info.name.startswith("cctui.tui.screens."):
                misplaced.append(f"{info.name}:{cls.__name__}")
            if "Confirm" in cls.__name__:
                confirmations.append(cls.__name__)
    assert misplaced == []
    assert confirmations == ["ConfirmScreen"]
