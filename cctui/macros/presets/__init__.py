"""Ready-made macros for common targets, shipped as TOML data files in this package.

Each ``<kind>.toml`` holds every macro key except ``name`` and ``url``, which
:func:`preset` fills in.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from cctui.errors import MacroError

if TYPE_CHECKING:
    from cctui.macros.model import Macro

KINDS = ("slack", "jira", "teams", "discord", "salesforce", "generic")


@cache
def preset_data(kind: str) -> dict[str, Any]:
    """The preset's keys as read from its TOML file (a fresh copy is made by callers)."""
    if kind not in KINDS:
        raise MacroError(f"unknown preset {kind!r} (known: {', '.join(KINDS)}).")
    text = resources.files(__name__).joinpath(f"{kind}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def preset(kind: str, *, name: str, url: str, **overrides: Any) -> Macro:
    """A :class:`~cctui.macros.Macro` from preset ``kind`` with the given name and URL.

    ``overrides`` replace any other key (``feedback_type``, ``headers``, ...).
    """
    from cctui.macros.model import Macro

    data = {**preset_data(str(kind).strip().lower()), "name": name, "url": url, **overrides}
    return Macro.from_dict(data, where=f"preset {kind}")
