"""Themes as TOML files: the ones shipped in ``cctui.themes`` plus the user's own.

A theme file holds the fields of :class:`textual.theme.Theme` (``name``, ``primary``,
``background``, ``dark``, ...) and an optional ``[variables]`` table. Shipped themes are
read with ``importlib.resources`` so they work from a wheel; user themes come from the
config dir's ``themes/*.toml``. No Textual app is needed to load them, only to register.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from importlib.resources import files
from pathlib import Path

from textual.theme import Theme

from cctui.errors import InputError

#: The theme used when neither ``--theme`` nor the config names one.
DEFAULT_THEME = "cctui-dusk"

_THEME_FIELDS = {f.name for f in fields(Theme)}


def parse_theme(text: str, *, where: str) -> Theme:
    """A :class:`Theme` from TOML ``text``; :class:`InputError` names ``where`` and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({exc}).") from None
    for key in ("name", "primary"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise InputError(f"{where}: key {key!r} is missing (a theme needs a name and a primary colour).")
    unknown = sorted(set(data) - _THEME_FIELDS)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_THEME_FIELDS))}).")
    if not isinstance(data.get("variables", {}), dict):
        raise InputError(f"{where}: 'variables' must be a table of name = colour.")
    data["variables"] = {str(k): str(v) for k, v in data.get("variables", {}).items()}
    theme = Theme(**data)
    try:
        theme.to_color_system()  # parse every colour now, so a typo names this file
    except Exception as exc:  # Textual raises ColorParseError and friends
        raise InputError(f"{where}: {exc}") from None
    return theme


def mark_background(theme: Theme) -> str:
    """The background of a marked row: the surface with a hint of ``secondary``.

    The hint is kept dark (light in a light theme) so that in 16 colours it becomes the
    terminal's black or grey (white in a light theme), never a colour a status is
    written in; marked rows are also underlined, so they stay distinct where the hint
    disappears altogether. ANSI themes get no hint: any ANSI colour behind the row would
    hide the status written in that colour (magenta "In Progress" on a magenta mark).
    """
    from textual.color import Color

    colours = theme.to_color_system().generate()
    surface = colours["surface"]
    if theme.ansi:
        return surface
    try:
        return Color.parse(surface).blend(Color.parse(colours["secondary"]), 0.14).hex
    except Exception:  # a user theme with an odd colour: no hint rather than no app
        return surface


def table_muted(theme: Theme) -> str:
    """Dim text in the record table (dates, "Won't Fix", low severity) as a plain colour:
    Textual's ``$text-muted`` is an "auto" colour, which a line-API widget's partial style
    cannot resolve (it came out white on the light theme's white)."""
    from textual.color import Color

    colours = theme.to_color_system().generate()
    if theme.ansi:
        return "ansi_bright_black"
    try:
        return Color.parse(colours["surface"]).blend(Color.parse(colours["foreground"]), 0.62).hex
    except Exception:  # an odd user colour: plain text rather than no app
        return colours["foreground"]


def builtin_themes() -> list[Theme]:
    """The themes that ship inside the package (``themes/*.toml``)."""
    themes = []
    for entry in sorted(files("cctui.themes").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            themes.append(parse_theme(entry.read_text(encoding="utf-8"), where=f"theme {entry.name}"))
    return themes


def user_themes(directory: Path) -> tuple[list[Theme], list[str]]:
    """Themes in ``directory/*.toml`` and, separately, one error sentence per bad file.

    A broken user theme must not stop the app from starting, so errors are returned for
    the caller to show rather than raised.
    """
    themes: list[Theme] = []
    errors: list[str] = []
    if not directory.is_dir():
        return themes, errors
    for path in sorted(directory.glob("*.toml")):
        try:
            themes.append(parse_theme(path.read_text(encoding="utf-8"), where=str(path)))
        except (InputError, OSError, UnicodeDecodeError) as exc:
            errors.append(str(exc))
    return themes, errors
