"""A table of records that paints only the rows on screen (Textual's line API).

Textual's DataTable lays out every row as widget state, which at 100k rows takes seconds.
This widget keeps the rows as the plain list of dicts it is given and renders one
:class:`~textual.strip.Strip` per visible line, so its cost depends on the terminal's
height, not on the number of records. Filtering, sorting and the mark set live outside
(the screen owns them); the table only draws them and moves a cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cctui.tui.widgets.table_model import MARK_WIDTH, Column, fit_columns, format_cell

_STATUS_CLASSES = {
    "new": "new", "triaged": "triaged", "in progress": "progress", "escalated": "escalated",
    "closed": "closed", "won't fix": "wontfix",
}
_SEVERITY_CLASSES = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}


class RecordTable(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows of records with a sticky header, a cursor and marked rows."""

    BINDINGS = [
        Binding("down,j", "cursor_down", "Down", show=False, id="cursor-down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="cursor-up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="page-down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="page-up"),
        Binding("home,g", "cursor_first", "First", show=False, id="cursor-first"),
        Binding("end,G", "cursor_last", "Last", show=False, id="cursor-last"),
        Binding("enter", "open", "Open", id="open"),
    ]

    COMPONENT_CLASSES = {
        "record-table--header", "record-table--cursor", "record-table--marked",
        "record-table--mark-sign", "record-table--id", "record-table--dim",
        "record-table--status-new", "record-table--status-triaged",
        "record-table--status-progress", "record-table--status-escalated",
        "record-table--status-closed", "record-table--status-wontfix",
        "record-table--severity-critical", "record-table--severity-high",
        "record-table--severity-medium", "record-table--severity-low",
    }

    DEFAULT_CSS = """
    RecordTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        background: $surface;
    }
    RecordTable > .record-table--header { background: $panel; color: $foreground; text-style: bold; }
    RecordTable > .record-table--cursor { background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground; }
    RecordTable:focus > .record-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    RecordTable > .record-table--marked { background: $mark-background; text-style: bold underline; }
    RecordTable > .record-table--mark-sign { color: $foreground; text-style: bold not underline; }
    RecordTable > .record-table--id { color: $primary; }
    RecordTable > .record-table--dim { color: $table-muted; }
    RecordTable > .record-table--status-new { color: $accent; text-style: bold; }
    RecordTable > .record-table--status-triaged { color: $primary; }
    RecordTable > .record-table--status-progress { color: $secondary; }
    RecordTable > .record-table--status-escalated { color: $warning; text-style: bold; }
    RecordTable > .record-table--status-closed { color: $success; }
    RecordTable > .record-table--status-wontfix { color: $table-muted; }
    RecordTable > .record-table--severity-critical { color: $error; text-style: bold; }
    RecordTable > .record-table--severity-high { color: $warning; }
    RecordTable > .record-table--severity-medium { color: $foreground; }
    RecordTable > .record-table--severity-low { color: $table-muted; }
    """

    cursor_row: reactive[int] = reactive(0, always_update=False)
    """Index (into the current rows) of the highlighted row."""

    class _RowMessage(Message):
        """A message about one row: the table it came from and the row's record id."""

        def __init__(self, table: RecordTable, record_id: str | None) -> None:
            super().__init__()
            self.table = table
            self.record_id = record_id

        @property
        def control(self) -> RecordTable:
            return self.table

    class CursorMoved(_RowMessage):
        """The highlighted record changed (``record_id`` is None when the table is empty)."""

    class Opened(_RowMessage):
        """The user asked to open the highlighted record."""

    def __init__(self, columns: Sequence[Column], *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._columns: tuple[Column, ...] = tuple(columns)
        self._rows: list[dict] = []
        self._fitted: tuple[int, list[tuple[Column, int]]] | None = None
        self.marks: set[str] = set()
        """Ids of marked records; the screen owns and mutates this set, then refreshes."""
        self.sort_field: str | None = None
        self.sort_descending = False
        self.placeholder = "Loading…"
        """What the table says when it has no rows."""
        self._held: list[events.Key] | None = None  # keys kept while holding (see hold_keys)
        self._replaying = False

    @property
    def visible_columns(self) -> tuple[Column, ...]:
        """The columns on screen at the current width (narrow terminals drop some)."""
        width = self.scrollable_content_region.width or self.size.width
        return tuple(column for column, _ in self._layout(width)) if width else self._columns

    # -- data ------------------------------------------------------------------------
    @property
    def rows(self) -> list[dict]:
        """The rows shown, in order (read-only)."""
        return self._rows

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    def set_rows(self, rows: list[dict], columns: Sequence[Column] | None = None, *, keep_id: str | None = None,
                 cursor: int | None = None) -> None:
        """Show ``rows`` (no copy is made), keeping the cursor on ``keep_id`` if it is there.

        ``cursor``: the row for the cursor, already found off the event loop (then
        ``keep_id`` is not searched).
        """
        if columns is not None and tuple(columns) != self._columns:
            self._columns = tuple(columns)
            self._fitted = None
        self._rows = rows
        index = 0
        if cursor is not None:
            index = cursor
        elif keep_id is not None:
            # A linear scan of every row is what the screen avoids when it can.
            fallback = min(self.cursor_row, max(0, len(rows) - 1))
            index = next((i for i, r in enumerate(rows) if r.get("id") == keep_id), fallback)
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        self.set_reactive(RecordTable.cursor_row, min(index, max(0, len(rows) - 1)))
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.CursorMoved(self, self.current_id))

    @property
    def current_record(self) -> dict | None:
        if 0 <= self.cursor_row < len(self._rows):
            return self._rows[self.cursor_row]
        return None

    @property
    def current_id(self) -> str | None:
        record = self.current_record
        return None if record is None else record.get("id")

    # -- type-ahead --------------------------------------------------------------------
    def hold_keys(self) -> None:
        """From now on keep the keys that reach the table, unhandled, until
        :meth:`release_keys`: the screen holds them while the rows they are meant for are
        still being computed, so they do not act on the rows about to be replaced."""
        if self._held is None:
            self._held = []

    @property
    def held_keys(self) -> tuple[events.Key, ...]:
        """The keys held so far, oldest first (empty when not holding)."""
        return tuple(self._held or ())

    @property
    def holding(self) -> bool:
        """True while keys reaching the table are held (not while they are replayed)."""
        return self._held is not None and not self._replaying

    def take_held_keys(self) -> list[events.Key]:
        """The keys held so far, oldest first; the table goes on holding."""
        held = self._held or []
        if self._held is not None:
            self._held = []
        return held

    def release_keys(self) -> list[events.Key]:
        """Stop holding; the keys held and not yet taken, oldest first."""
        held, self._held = self._held or [], None
        return held

    async def replay_keys(self) -> list[events.Key]:
        """Handle the held keys now, oldest first, as the app would have (priority
        bindings, then those of the table, its screen and the app), then stop holding.

        Keys that arrive meanwhile are held and replayed after them, so the order stays as
        typed. Once a key takes the focus from the table (``/``, a screen opened by ``?``),
        the rest are handed to the app again, to go where the focus is now. If the table
        has lost the focus before the first key (a click elsewhere), none is applied: the
        keys are returned (dropped), else an empty list.
        """
        app = self.app
        if app.focused is not self:
            return self.release_keys()
        self._replaying = True
        try:
            while keys := self.take_held_keys():
                for index, event in enumerate(keys):
                    if app.focused is not self:
                        for key in keys[index:] + self.release_keys():
                            again = events.Key(key.key, key.character)
                            # From the app, as the driver sends them: a key made here would
                            # count this screen as its sender and stop bubbling there.
                            again.set_sender(app)
                            app.post_message(again)
                        return []
                    # App._check_bindings is what the app runs on every key it reads; replaying
                    # through it keeps remapped keys (keymap) and check_action working.
                    if not await app._check_bindings(event.key, priority=True):
                        await app._check_bindings(event.key)
            self.release_keys()
        finally:
            self._replaying = False
        return []

    def on_key(self, event: events.Key) -> None:
        if self._held is not None:
            # Neither the table's bindings nor the screen's and app's (the key does not
            # bubble) see it now; the screen replays it through them later.
            event.prevent_default()
            event.stop()
            self._held.append(event)

    # -- cursor ----------------------------------------------------------------------
    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, len(self._rows) - 1)) if self._rows else 0

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.CursorMoved(self, self.current_id))

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def _scroll_cursor_into_view(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        self.cursor_row += 1

    def action_cursor_up(self) -> None:
        self.cursor_row -= 1

    def action_page_down(self) -> None:
        self.cursor_row += self._page

    def action_page_up(self) -> None:
        self.cursor_row -= self._page

    def action_cursor_first(self) -> None:
        self.cursor_row = 0

    def action_cursor_last(self) -> None:
        self.cursor_row = len(self._rows) - 1

    def action_open(self) -> None:
        if self.current_id:
            self.post_message(self.Opened(self, self.current_id))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= index < len(self._rows):
            self.cursor_row = index
            if event.chain == 2:
                self.action_open()

    def on_resize(self, event: events.Resize) -> None:
        self._fitted = None
        self.virtual_size = Size(event.size.width, len(self._rows) + 1)
        self._scroll_cursor_into_view()

    # -- painting --------------------------------------------------------------------
    def _layout(self, width: int) -> list[tuple[Column, int]]:
        if self._fitted is None or self._fitted[0] != width:
            self._fitted = (width, fit_columns(self._columns, width))
        return self._fitted[1]

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"record-table--{name}", partial=True)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._header_strip(width, base)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._rows):
            if not self._rows and y == 2:
                text = set_cell_size(f"  {self.placeholder}", width)
                return Strip([Segment(text, base + self._style("dim"))], width)
            return Strip.blank(width, base)
        return self._row_strip(self._rows[index], index, width, base)

    def _header_strip(self, width: int, base: Style) -> Strip:
        style = base + self._style("header")
        segments = [Segment(" " * MARK_WIDTH, style)]
        for i, (column, cells) in enumerate(self._layout(width)):
            label = column.label
            if column.key == self.sort_field:
                arrow = " ↓" if self.sort_descending else " ↑"
                label = set_cell_size(label, max(0, cells - 2)).rstrip() + arrow
            sep = " " if i else ""
            segments.append(Segment(sep + set_cell_size(label, cells), style))
        return _fill(segments, width, style)

    def _row_strip(self, record: dict, index: int, width: int, base: Style) -> Strip:
        marked = record.get("id") in self.marks
        row_style = base
        if marked:
            row_style += self._style("marked")
        cursor = index == self.cursor_row
        cursor_style = self._style("cursor") if cursor else None
        sign = "● " if marked else "  "
        sign_style = row_style + self._style("mark-sign")
        segments = [Segment(sign, sign_style + cursor_style if cursor_style else sign_style)]
        for i, (column, cells) in enumerate(self._layout(width)):
            text = set_cell_size(format_cell(record.get(column.key), column.kind), cells)
            if column.kind == "number":
                text = _right(format_cell(record.get(column.key), column.kind), cells)
            style = row_style + self._cell_style(column.kind, record.get(column.key))
            if cursor_style:
                style += cursor_style
            if i:
                segments.append(Segment(" ", row_style + cursor_style if cursor_style else row_style))
            segments.append(Segment(text, style))
        return _fill(segments, width, row_style + cursor_style if cursor_style else row_style)

    def _cell_style(self, kind: str, value: Any) -> Style:
        if kind == "status":
            name = _STATUS_CLASSES.get(str(value).lower())
            return self._style(f"status-{name}") if name else Style()
        if kind == "severity":
            name = _SEVERITY_CLASSES.get(str(value).lower())
            return self._style(f"severity-{name}") if name else Style()
        if kind == "id":
            return self._style("id")
        if kind == "date":
            return self._style("dim")
        return Style()

    def notify_style_update(self) -> None:
        # A theme switch changes every component style: repaint.
        super().notify_style_update()
        self.refresh()


def _right(text: str, cells: int) -> str:
    text = set_cell_size(text, cells) if cell_len(text) > cells else text
    return " " * (cells - cell_len(text)) + text


def _fill(segments: list[Segment], width: int, style: Style) -> Strip:
    strip = Strip(segments)
    if strip.cell_length < width:
        strip = Strip(segments + [Segment(" " * (width - strip.cell_length), style)])
    return strip.crop(0, width)
