"""The user's ``[keymap]``: binding ids to keys, checked against the bindings that exist.

Every :class:`~textual.binding.Binding` in cctui has an ``id`` (``mark``, ``filter``,
``screen-macros``, ...). The config file remaps them::

    [keymap]
    mark = "x"
    filter = "f,slash"

A key string may list several keys separated by commas. An unknown id is reported (it is
probably a typo) but does not stop the app.

Most screens load on first use (a cold start does not pay for them), so the ids their
classes declare come from :mod:`cctui.tui.lazy_bindings`, a file generated from the
classes themselves (``python -m cctui.tui.keys`` rewrites it; a test fails when it is out
of date), for the check at start.

Binding ids are kebab-case (``run-macro``, ``logs-page-down``). The dotted ids of cctui
0.1 (``macros.new``, ``logs.table.pagedown``) still work in ``[keymap]``, with a one-line
warning naming the new id (:data:`RENAMED_IDS`).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterable, Mapping
from importlib import import_module
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode

from cctui.tui.lazy_bindings import LAZY_BINDING_IDS

#: The ids of cctui 0.1 -> today's; ``[keymap]`` accepts the old ones with a warning.
RENAMED_IDS: dict[str, str] = {
    "macros.edit": "macros-edit", "macros.new": "macros-new", "macros.log": "macros-log",
    "macros.pause": "macros-pause", "macros.remove": "macros-remove", "macros.reload": "macros-reload",
    "macros.preset.cancel": "preset-cancel", "macros.tags.cancel": "tag-cancel",
    "macros.form.save": "form-save", "macros.form.tag": "form-tag", "macros.form.test": "form-test-send",
    "macros.form.add_header": "form-add-header", "macros.form.remove_header": "form-remove-header",
    "macros.form.preview": "form-preview", "macros.form.back": "form-back",
    "macros.confirm.yes": "confirm-yes", "macros.confirm.no": "confirm-no",
    "bulk.confirm.yes": "confirm-yes", "bulk.confirm.no": "confirm-no",
    "logs.reveal.yes": "confirm-yes", "logs.reveal.no": "confirm-no",
    "bulk.picker.cancel": "picker-cancel", "bulk.picker.down": "picker-down", "bulk.picker.up": "picker-up",
    "dispatch.next": "dispatch-next", "dispatch.previous": "dispatch-previous",
    "dispatch.cancel": "dispatch-cancel", "dispatch.pause": "dispatch-pause",
    "dispatch.retry": "dispatch-retry", "dispatch.log": "dispatch-log", "dispatch.reload": "dispatch-reload",
    "logs.filter": "logs-filter", "logs.filter_close": "logs-filter-close", "logs.retry": "logs-retry",
    "logs.retry_all": "logs-retry-all", "logs.curl": "logs-curl", "logs.curl_secrets": "logs-curl-secrets",
    "logs.record": "logs-record", "logs.reload": "logs-reload",
    "logs.table.down": "logs-down", "logs.table.up": "logs-up", "logs.table.pagedown": "logs-page-down",
    "logs.table.pageup": "logs-page-up", "logs.table.home": "logs-home", "logs.table.end": "logs-end",
    "logs.table.open": "logs-open",
    "logs.detail.back": "log-detail-back", "logs.detail.retry": "log-detail-retry",
    "logs.detail.curl": "log-detail-curl", "logs.detail.curl_secrets": "log-detail-curl-secrets",
    "logs.detail.record": "log-detail-record",
}


def lazy_keymap_classes() -> list[type[DOMNode]]:
    """The classes of :data:`LAZY_BINDING_IDS`, imported (tests and tools; not at start)."""
    classes = []
    for path in LAZY_BINDING_IDS:
        module, name = path.split(":")
        classes.append(getattr(import_module(module), name))
    return classes


def binding_ids(classes: Iterable[type[DOMNode]]) -> dict[str, Binding]:
    """Every binding with an id declared on ``classes`` (and their bases), by id."""
    found: dict[str, Binding] = {}
    for cls in classes:
        for klass in cls.__mro__:
            for binding in klass.__dict__.get("BINDINGS", []):
                if isinstance(binding, Binding) and binding.id:
                    found.setdefault(binding.id, binding)
    return found


def check_keymap(keymap: Mapping[str, object], known: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """The usable part of ``keymap`` and one sentence per entry that was left out."""
    known = set(known)
    usable: dict[str, str] = {}
    problems: list[str] = []
    renamed: dict[str, object] = {}  # checked below, like the others
    for binding_id, keys in keymap.items():
        new_id = RENAMED_IDS.get(binding_id)
        if new_id is not None and new_id in known:
            problems.append(f"config [keymap] {binding_id!r} is now called {new_id!r}; "
                            "the old name still works, but rename it.")
            if new_id not in keymap:  # a new-style entry for the same binding wins
                renamed[new_id] = keys
            continue
        if not isinstance(keys, str) or not keys.strip():
            problems.append(f"config [keymap] {binding_id!r}: the value must be a key such as \"x\" or \"ctrl+x\".")
        elif binding_id not in known:
            problems.append(
                f"config [keymap] {binding_id!r}: no binding has that id (press ? to see the ids)."
            )
        else:
            usable[binding_id] = keys.replace(" ", "")
    for binding_id, keys in renamed.items():
        if not isinstance(keys, str) or not keys.strip():
            problems.append(f"config [keymap] {binding_id!r}: the value must be a key such as \"x\" or \"ctrl+x\".")
        elif binding_id in usable and usable[binding_id] != keys.replace(" ", ""):
            # Two old ids for one binding (the three confirmations are one screen now).
            problems.append(f"config [keymap] {binding_id!r}: two old names give it different keys; "
                            f"using {usable[binding_id]!r}.")
        else:
            usable[binding_id] = keys.replace(" ", "")
    return usable, problems


# -- the generated list of lazily loaded classes' ids -------------------------------------
#: Classes whose bindings are known at start because they are imported at start (the app
#: module's own imports); every other class with binding ids belongs in the generated file.
EAGER_MODULES = ("cctui.tui.app", "cctui.tui.screens.feedback", "cctui.tui.widgets.record_table")


def classes_with_binding_ids() -> dict[str, type[DOMNode]]:
    """``"module:Class"`` -> class for every class under :mod:`cctui.tui` that declares
    bindings with ids itself (imports every module: for tools and tests, not at start)."""
    import inspect
    import pkgutil

    import cctui.tui

    found: dict[str, type[DOMNode]] = {}
    for info in sorted(pkgutil.walk_packages(cctui.tui.__path__, "cctui.tui."), key=lambda i: i.name):
        module = import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__ == module.__name__ and any(
                    isinstance(b, Binding) and b.id for b in cls.__dict__.get("BINDINGS", [])):
                found[f"{module.__name__}:{cls.__name__}"] = cls
    return found


def render_lazy_bindings() -> str:
    """The text of ``lazy_bindings.py`` as the classes say it should be."""
    lines = ['"""Binding ids of the TUI classes that load on first use, for the ``[keymap]`` check',
             "at start. GENERATED by ``python -m cctui.tui.keys`` from the classes: do not edit.",
             '"""', "", "LAZY_BINDING_IDS: dict[str, frozenset[str]] = {"]
    for path, cls in classes_with_binding_ids().items():
        if path.split(":")[0] in EAGER_MODULES:
            continue
        ids = ", ".join(f'"{i}"' for i in sorted(binding_ids([cls])))
        line = f'    "{path}": frozenset({{{ids}}}),'
        if len(line) <= 100:
            lines.append(line)
        else:  # one wrapped set, ids kept whole
            lines.append(f'    "{path}": frozenset({{')
            lines.extend(textwrap.wrap(ids, 92, initial_indent=" " * 8, subsequent_indent=" " * 8,
                                       break_long_words=False, break_on_hyphens=False))
            lines.append("    }),")
    lines.append("}")
    return "\n".join(lines) + "\n"


LAZY_BINDINGS_FILE = Path(__file__).with_name("lazy_bindings.py")

if __name__ == "__main__":  # python -m cctui.tui.keys: rewrite lazy_bindings.py
    LAZY_BINDINGS_FILE.write_text(render_lazy_bindings(), encoding="utf-8")
    print(f"wrote {LAZY_BINDINGS_FILE}", file=sys.stderr)
