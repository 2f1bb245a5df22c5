"""The delivery log as a virtual table: only the visible lines are ever rendered.

A line-API ``ScrollView`` over a plain list of log entries (newest first), like the
record table, so a log of 100k attempts scrolls as fast as one of ten.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

#: (title, width) of each column; the last column takes what is left.
COLUMNS = (("when", 20), ("code", 5), ("macro", 18), ("record", 11), ("trigger", 9),
           ("try", 4), ("ms", 7), ("what happened", 0))
#: The same below ``NARROW`` columns (80x24): month-day time, shorter macro names.
NARROW = 110
NARROW_COLUMNS = (("when", 15), ("code", 5), ("macro", 14), ("record", 11), ("trigger", 9),
                  ("try", 4), ("ms", 6), ("what happened", 0))


def status_colour(entry: dict) -> str:
    code = int(entry.get("status_code") or 0)
    if entry.get("ok") or 200 <= code < 300:
        return "green"
    if entry.get("skipped"):
        return "bright_black"  # a dropped scheduled retry: nothing was sent, nothing failed
    if code == 429 or 300 <= code < 400 or entry.get("retry_at"):
        return "yellow"  # a retry follows: not a failure (yet)
    return "red"


def entry_summary(entry: dict) -> str:
    """The last column: the explanation's title, else the error text; and when a retry
    follows the attempt, when it is scheduled."""
    explanation = entry.get("explanation")
    if isinstance(explanation, dict):
        explanation = explanation.get("title")
    text = str(explanation or entry.get("error") or ("delivered" if entry.get("ok") else ""))
    if entry.get("retry_at") and not entry.get("ok"):
        text += f" · retry scheduled at {entry['retry_at']}"
    return text


def delivery_counts(entries: list[dict], states: dict[str, str] | None = None) -> Counter:
    """Deliveries among ``entries`` (newest first) by state: delivered, retrying, failed.
    ``states`` (``store.log_delivery_states``) overrides a delivery's state where its
    newest attempt is not among ``entries`` (a run's log: a later retry run sent it)."""
    from cctui.store.logs import delivery_state

    seen: set = set()
    counts: Counter = Counter()
    for entry in entries:
        key = entry.get("delivery_id") or entry.get("id")
        if key not in seen:
            seen.add(key)
            counts[(states or {}).get(str(key)) or delivery_state(entry)] += 1
    return counts


def entry_cells(entry: dict, *, narrow: bool = False) -> list[str]:
    started = str(entry.get("started_at", "")).replace("T", " ").rstrip("Z")
    if narrow:
        started = started[5:19]  # "11-28 22:46:21": the year is rarely news in a log
    code = int(entry.get("status_code") or 0)
    return [started, str(code) if code else "---", str(entry.get("macro", "")),
            str(entry.get("record_id", "")), str(entry.get("trigger", "")),
            str(entry.get("attempt", "")), f"{float(entry.get('duration_ms') or 0):.0f}",
            entry_summary(entry)]


def fit(text: str, width: int) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)


class LogTable(ScrollView, can_focus=True):
    """Attempts, one per line, colour-coded by status; a cursor picks one."""

    DEFAULT_CSS = "LogTable { height: 1fr; }"
    BINDINGS = [
        Binding("down,j", "move(1)", "Down", show=False, id="logs-down"),
        Binding("up,k", "move(-1)", "Up", show=False, id="logs-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="logs-page-down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="logs-page-up"),
        Binding("home,g", "jump(0)", "First", show=False, id="logs-home"),
        Binding("end,G", "jump(-1)", "Last", show=False, id="logs-end"),
        Binding("enter", "open", "Detail", id="logs-open"),
    ]

    cursor: reactive[int] = reactive(0)
    """Index of the highlighted entry in ``entries``."""

    class Opened(Message):
        """Enter was pressed on ``entry``."""

        def __init__(self, entry: dict) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, entries: list[dict] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries: list[dict] = entries or []
        self.placeholder = "Loading…"
        """What the table says when it has no entries (the screen says what to do)."""

    def set_entries(self, entries: list[dict]) -> None:
        """Show ``entries`` (already filtered and sorted newest first)."""
        self.entries = entries
        self.virtual_size = Size(self.size.width, len(entries) + 1)
        self.cursor = min(self.cursor, max(0, len(entries) - 1))
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.entries) + 1)

    @property
    def current(self) -> dict | None:
        if 0 <= self.cursor < len(self.entries):
            return self.entries[self.cursor]
        return None

    def watch_cursor(self, old: int, new: int) -> None:
        # The header takes line 0, so entry i sits on virtual line i + 1.
        visible_top = self.scroll_offset.y
        height = max(1, self.size.height - 1)
        if new < visible_top:
            self.scroll_to(y=new, animate=False)
        elif new >= visible_top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()

    def action_move(self, step: int) -> None:
        if self.entries:
            self.cursor = max(0, min(len(self.entries) - 1, self.cursor + step))

    def action_page(self, step: int) -> None:
        self.action_move(step * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        if self.entries:
            self.cursor = 0 if where == 0 else len(self.entries) - 1

    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(self.Opened(self.current))

    @property
    def narrow(self) -> bool:
        return self.size.width < NARROW

    def _columns(self) -> tuple[tuple[str, int], ...]:
        return NARROW_COLUMNS if self.narrow else COLUMNS

    def _widths(self) -> list[int]:
        widths = [w for _, w in self._columns()]
        widths[-1] = max(10, self.size.width - sum(widths[:-1]))
        return widths

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        widths = self._widths()
        if y == 0:  # the header stays put while the entries scroll under it
            text = "".join(fit(title, w) for (title, _), w in zip(self._columns(), widths, strict=True))
            return Strip([Segment(fit(text, width), Style(bold=True, reverse=True))])
        index = self.scroll_offset.y + y - 1
        if index >= len(self.entries):
            if not self.entries and y == 2:
                return Strip([Segment(fit(f"  {self.placeholder}", width), Style(dim=True))])
            return Strip.blank(width)
        entry = self.entries[index]
        cells = entry_cells(entry, narrow=self.narrow)
        selected = index == self.cursor
        base = Style(reverse=True) if selected and self.has_focus else (
            Style(bold=True) if selected else Style())
        colour = Style(color=status_colour(entry))
        segments = []
        for column, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            style = base + colour if column in (1, 7) else base
            segments.append(Segment(fit(cell, w), style))
        return Strip(segments).crop(0, width).extend_cell_length(width, base)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
