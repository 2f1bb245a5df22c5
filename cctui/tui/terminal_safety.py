"""Keep record text from talking to the terminal.

Feedback, log entries and receivers' answers are written by other people: a title may
hold ``ESC [2J`` (clear the screen), ``ESC ]0;...BEL`` (set the window title), a carriage
return or a tab. Textual passes such characters through to the terminal (its ``Content``
strips only a few of them), where they move the cursor, clear the screen or retitle the
window. :class:`ControlCodeFilter` is a line filter: every line of every widget passes
through it on its way to the terminal, so no screen has to remember to clean its text.

Rich measures these characters as zero cells wide, so removing them keeps every layout
exactly as measured; what is left of a sequence (``[2J``) shows as plain text.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from cctui.core.terminal_text import CONTROL_CODES  # one pattern for the TUI and the CLI


class ControlCodeFilter(LineFilter):
    """Removes control characters from the text of every segment (not from Textual's own
    control segments, which carry none in a widget's lines anyway)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        search = CONTROL_CODES.search
        if not search("".join([segment.text for segment in segments])):
            return segments  # the usual case: one scan of the line, no copy
        return [Segment(CONTROL_CODES.sub("", segment.text), segment.style) if not segment.control
                and search(segment.text) else segment for segment in segments]
