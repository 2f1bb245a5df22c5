"""Text from records, on its way to a terminal, without the characters that command it.

Feedback, users and log entries are written by other people: a title may hold ``ESC [2J``
(clear the screen), ``ESC ]0;...BEL`` (set the window title), a BEL, a carriage return
that lets the rest of a line overwrite what came before, or a bidi override that reorders
the line. The TUI drops them from every line it draws (``cctui.tui.terminal_safety``);
the CLI's human-readable output passes through :func:`printable`. Both use the one
pattern here. ``--json`` output and exports keep every value exactly as stored.
"""

from __future__ import annotations

import re

#: C0 controls (tab and newline included: a cell is one line), DEL, C1 controls, and the
#: bidi embedding/override/isolate controls (a terminal that does bidi would reorder the
#: rest of the line, other columns included).
CONTROL_CODES = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

#: The same, but newline and tab stay: multi-line text (a rendered body, a TOML file)
#: keeps its shape; neither can rewrite what is already on the screen.
CONTROL_CODES_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, lines: bool = True) -> str:
    """``text`` without control characters; with ``lines`` newlines and tabs stay."""
    pattern = CONTROL_CODES_BUT_LINES if lines else CONTROL_CODES
    return pattern.sub("", text) if pattern.search(text) else text
