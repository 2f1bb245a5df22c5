"""The filter box and the status line under the table: ``1,234 of 100,000 · 3 marked``."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Static

from cctui.tui.widgets.table_model import count_text


class FilterBar(Vertical):
    """The query input, its inline error, and the always-visible counts."""

    DEFAULT_CSS = """
    FilterBar { height: auto; dock: bottom; background: $surface; }
    FilterBar > Input { height: 1; border: none; padding: 0 1; background: $surface; }
    FilterBar > Input:focus { background: $boost; }
    FilterBar > #filter-error { height: auto; color: $error; padding: 0 1; display: none; }
    FilterBar.-error > #filter-error { display: block; }
    FilterBar > #table-status { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    shown: reactive[int] = reactive(0)
    """Records matching the filter."""
    total: reactive[int] = reactive(0)
    """Records in the current table."""
    marked: reactive[int] = reactive(0)
    """Records marked."""
    sort_label: reactive[str] = reactive("")
    """e.g. ``Created ↓``."""
    section: reactive[str] = reactive("")
    """Name of the table shown (All feedback, Bug Report, Users)."""
    pending: reactive[bool] = reactive(True)
    """True until the first rows arrive (not ``loading``: that is Widget's spinner)."""
    error: reactive[str] = reactive("")
    """The last filter error (empty when the filter is good)."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ to filter: status:new severity:high,critical \"crash\"", id="filter-input", compact=True,
                    select_on_focus=False)
        yield Static("", id="filter-error", markup=False)
        yield Static("", id="table-status")

    def _update(self) -> None:
        if not self.is_mounted:
            return
        parts = ["Loading…" if self.pending else count_text(self.shown, self.total)]
        if self.section:
            parts.insert(0, self.section)
        parts.append(f"{self.marked:,} marked")
        if self.sort_label:
            parts.append(f"sort: {self.sort_label}")
        self.query_one("#table-status", Static).update("  ·  ".join(parts))

    def on_mount(self) -> None:
        self._update()

    watch_shown = watch_total = watch_marked = watch_sort_label = watch_pending = watch_section = _update

    def watch_error(self, error: str) -> None:
        self.set_class(bool(error), "-error")
        self.query_one("#filter-error", Static).update(f"⚠ {error}" if error else "")
