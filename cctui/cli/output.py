"""Human-readable output: what the CLI prints for people, never as commands to the terminal.

Record fields (a title, a user's name, a rendered body, a receiver's words) are written by
other people and may hold BEL, ESC sequences, carriage returns or bidi overrides. Every
line printed for a person passes through :func:`cctui.core.terminal_text.printable`, the
same pattern the TUI filters its lines with. ``--json`` output is written as it is: JSON
escapes C0 characters itself, and scripts get every value exactly as stored.
"""

from __future__ import annotations

from typing import IO, Any

import click

from cctui.core.terminal_text import printable


def say(message: str = "", *, err: bool = False, nl: bool = True, file: IO[Any] | None = None) -> None:
    """``click.echo`` for people: control characters removed, newlines and tabs kept."""
    click.echo(printable(message), err=err, nl=nl, file=file)
