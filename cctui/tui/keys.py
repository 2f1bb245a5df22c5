"""The user's ``[keymap]``: binding ids to keys, checked against the bindings that exist.

Every :class:`~textual.binding.Binding` in cctui has an ``id`` (``mark``, ``filter``,
``screen-macros``, ...). The config file remaps them::

    [keymap]
    mark = "x"
    filter = "f,slash"

A key string may list several keys separated by commas. An unknown id is reported (it is
probably a typo) but does not stop the app.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from textual.binding import Binding
from textual.dom import DOMNode


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
