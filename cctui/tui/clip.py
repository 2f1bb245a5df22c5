"""Text too long to lay out on the event loop is shown cut, with a note saying so.

Textual wraps a ``Static``'s whole text on the event loop when it lays it out: a 5 MB
description (the importer takes any length) froze every key for seconds. Screens show at
most :data:`SHOWN_CHARS` of one field or body; exports and ``--json`` keep all of it.
"""

from __future__ import annotations

#: Characters of one field or body that a screen lays out.
SHOWN_CHARS = 20_000


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text``, or its first ``limit`` characters and a line saying how many are left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… {len(text) - limit:,} more characters not shown here (`cctui export` has them all)."
