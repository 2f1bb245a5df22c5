"""The keymap check at start knows every binding id without importing screens 2-4, and a
cold start imports neither those screens nor croniter before the first frame."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import cctui.tui
from cctui.tui.keys import LAZY_BINDING_IDS, binding_ids, lazy_keymap_classes


def test_lazy_binding_ids_match_the_classes():
    for path, cls in zip(LAZY_BINDING_IDS, lazy_keymap_classes()):
        assert set(binding_ids([cls])) == LAZY_BINDING_IDS[path], path


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
    unwanted = lazy | {"cctui.tui.commands_part2", "cctui.automation.schedules", "croniter",
                       "cctui.delivery", "jinja2", "httpx", "aiohttp", "textual.widgets._text_area",
                       "textual.widgets._data_table"}
    assert not loaded & unwanted
