"""The keymap check at start knows every binding id without importing screens 2-4 (from a
file generated from the classes), ids are kebab-case, the old dotted ids still work with
a warning, and a cold start imports neither those screens nor croniter before the first
frame."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys

import cctui.tui
from cctui.tui.keys import (
    LAZY_BINDING_IDS,
    LAZY_BINDINGS_FILE,
    RENAMED_IDS,
    binding_ids,
    check_keymap,
    classes_with_binding_ids,
    lazy_keymap_classes,
    render_lazy_bindings,
)

KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def test_lazy_binding_ids_match_the_classes():
    for path, cls in zip(LAZY_BINDING_IDS, lazy_keymap_classes(), strict=True):
        assert set(binding_ids([cls])) == LAZY_BINDING_IDS[path], path


def test_the_lazy_binding_file_is_generated_from_the_classes():
    assert LAZY_BINDINGS_FILE.read_text(encoding="utf-8") == render_lazy_bindings(), \
        "cctui/tui/lazy_bindings.py is out of date: run `python -m cctui.tui.keys`"


def test_every_binding_id_is_kebab_case_and_unique():
    from cctui.tui.app import CctuiApp

    seen: dict[str, str] = {}
    for path, cls in {"cctui.tui.app:CctuiApp": CctuiApp, **classes_with_binding_ids()}.items():
        for binding in cls.__dict__.get("BINDINGS", []):
            if getattr(binding, "id", None):
                assert KEBAB.match(binding.id), f"{path}: {binding.id!r} is not kebab-case"
                assert binding.id not in seen, f"{binding.id!r} in {path} and {seen.get(binding.id)}"
                seen[binding.id] = path


def test_old_ids_are_aliases_with_a_warning():
    from cctui.tui.app import KEYMAP_CLASSES, CctuiApp

    known = set(binding_ids([CctuiApp, *KEYMAP_CLASSES])) | set().union(*LAZY_BINDING_IDS.values())
    assert set(RENAMED_IDS.values()) <= known  # every alias points at a binding that exists
    usable, problems = check_keymap({"macros.new": "a", "logs.table.pagedown": "ctrl+f", "mark": "x"}, known)
    assert usable == {"macros-new": "a", "logs-page-down": "ctrl+f", "mark": "x"}
    assert problems == [
        "config [keymap] 'macros.new' is now called 'macros-new'; the old name still works, but rename it.",
        "config [keymap] 'logs.table.pagedown' is now called 'logs-page-down'; the old name still works, "
        "but rename it.",
    ]


def test_a_new_id_wins_over_its_old_name():
    usable, problems = check_keymap({"macros.new": "a", "macros-new": "b"}, {"macros-new"})
    assert usable == {"macros-new": "b"} and len(problems) == 1


def test_every_class_with_binding_ids_is_checked_at_start():
    from cctui.tui.app import KEYMAP_CLASSES, CctuiApp

    checked = {CctuiApp, *KEYMAP_CLASSES, *lazy_keymap_classes()}
    for info in pkgutil.walk_packages(cctui.tui.__path__, "cctui.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            own = [b for b in cls.__dict__.get("BINDINGS", []) if getattr(b, "id", None)]
            if own:
                assert any(issubclass(c, cls) for c in checked), f"{cls.__module__}:{cls.__name__}"


def test_the_tui_path_imports_no_lazy_screen_before_it_runs():
    code = (
        "import sys\n"
        "from cctui.cli import cli\n"
        "import cctui.cli.tui, cctui.tui.app, cctui.automation.triggers\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    lazy = {path.split(":")[0] for path in LAZY_BINDING_IDS}
    unwanted = lazy | {"cctui.tui.commands_macros", "cctui.automation.schedules", "croniter",
                       "cctui.delivery", "jinja2", "httpx", "aiohttp", "textual.widgets._text_area",
                       "textual.widgets._data_table"}
    assert not loaded & unwanted


def test_docs_list_every_binding_id():
    from pathlib import Path

    from cctui.tui.app import KEYMAP_CLASSES, CctuiApp

    docs = (Path(__file__).parents[2] / "docs" / "tui.md").read_text(encoding="utf-8")
    ids = set(binding_ids([CctuiApp, *KEYMAP_CLASSES])) | set().union(*LAZY_BINDING_IDS.values())
    missing = sorted(i for i in ids if f"`{i}`" not in docs)
    assert not missing, f"docs/tui.md does not list {missing}"
