"""The user's ``[keymap]``: binding ids to keys, checked against the bindings that exist.

Every :class:`~textual.binding.Binding` in cctui has an ``id`` (``mark``, ``filter``,
``screen-macros``, ...). The config file remaps them::

    [keymap]
    mark = "x"
    filter = "f,slash"

A key string may list several keys separated by commas. An unknown id is reported (it is
probably a typo) but does not stop the app.

Most screens load on first use (a cold start does not pay for them), so the ids their
classes declare are listed here, in :data:`LAZY_BINDING_IDS`, for the check at start;
``tests/tui/test_keymap_registry.py`` keeps that list equal to the classes' bindings.
"""

from __future__ import annotations

from importlib import import_module
from typing import Iterable, Mapping

from textual.binding import Binding
from textual.dom import DOMNode


#: ``"module:Class"`` of each screen or widget that loads on first use -> the binding ids
#: it declares (with its bases'). Add a class here when it gains bindings with ids.
LAZY_BINDING_IDS: dict[str, frozenset[str]] = {
    "cctui.tui.screens.detail:DetailScreen": frozenset({
        "detail-category-next", "detail-category-prev", "detail-close", "detail-log",
        "detail-run-macro", "detail-scroll-down", "detail-scroll-up", "detail-severity-next",
        "detail-severity-prev", "detail-status-next", "detail-status-prev"}),
    "cctui.tui.screens.help:HelpScreen": frozenset({"help-close", "help-scroll-down", "help-scroll-up"}),
    "cctui.tui.screens.macros:MacrosScreen": frozenset({
        "macros.edit", "macros.log", "macros.new", "macros.pause", "macros.reload", "macros.remove"}),
    "cctui.tui.screens.macros:PresetPicker": frozenset({"macros.preset.cancel"}),
    "cctui.tui.widgets.macro_form:MacroFormScreen": frozenset({
        "macros.form.add_header", "macros.form.back", "macros.form.preview",
        "macros.form.remove_header", "macros.form.save", "macros.form.tag", "macros.form.test"}),
    "cctui.tui.widgets.macro_form:TagPicker": frozenset({"macros.tags.cancel"}),
    "cctui.tui.widgets.macro_form:Confirm": frozenset({"macros.confirm.no", "macros.confirm.yes"}),
    "cctui.tui.screens.bulk:MacroPicker": frozenset({"bulk.picker.cancel", "bulk.picker.down", "bulk.picker.up"}),
    "cctui.tui.screens.bulk:ConfirmRun": frozenset({"bulk.confirm.no", "bulk.confirm.yes"}),
    "cctui.tui.screens.dispatch:DispatchScreen": frozenset({
        "dispatch.cancel", "dispatch.log", "dispatch.next", "dispatch.pause", "dispatch.previous",
        "dispatch.reload", "dispatch.retry"}),
    "cctui.tui.screens.logs:LogsScreen": frozenset({
        "logs.curl", "logs.curl_secrets", "logs.filter", "logs.filter_close", "logs.record",
        "logs.reload", "logs.retry", "logs.retry_all"}),
    "cctui.tui.widgets.log_table:LogTable": frozenset({
        "logs.table.down", "logs.table.end", "logs.table.home", "logs.table.open",
        "logs.table.pagedown", "logs.table.pageup", "logs.table.up"}),
    "cctui.tui.widgets.log_detail:LogDetailScreen": frozenset({
        "logs.detail.back", "logs.detail.curl", "logs.detail.curl_secrets", "logs.detail.record",
        "logs.detail.retry"}),
    "cctui.tui.screens.logs:RevealConfirm": frozenset({"logs.reveal.no", "logs.reveal.yes"}),
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
    for binding_id, keys in keymap.items():
        if not isinstance(keys, str) or not keys.strip():
            problems.append(f"config [keymap] {binding_id!r}: the value must be a key such as \"x\" or \"ctrl+x\".")
        elif binding_id not in known:
            problems.append(
                f"config [keymap] {binding_id!r}: no binding has that id (press ? to see the ids)."
            )
        else:
            usable[binding_id] = keys.replace(" ", "")
    return usable, problems
