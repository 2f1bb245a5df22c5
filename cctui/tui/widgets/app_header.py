"""The one-line header: where the data lives and how much of it there is."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget


class AppHeader(Widget):
    """``cctui · Feedback   ~/data   100,000 feedback · 200 users``."""

    DEFAULT_CSS = """
    AppHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    screen_title: reactive[str] = reactive("")
    """Name of the screen shown."""
    data_dir: reactive[str] = reactive("")
    """The data directory, as given."""
    counts: reactive[str] = reactive("")
    """Record counts, e.g. ``100,000 feedback · 200 users``."""

    def render(self) -> Content:
        left = Content.from_markup("[b $accent]cctui[/] · [b]$title[/]", title=self.screen_title)
        right = Content(f"{self.counts}   {self.data_dir}" if self.counts else self.data_dir)
        gap = max(1, self.size.width - left.cell_length - right.cell_length)
        if gap == 1 and self.size.width < left.cell_length + right.cell_length + 1:
            right = Content(self.counts)
            gap = max(1, self.size.width - left.cell_length - right.cell_length)
        return Content.assemble(left, " " * gap, right.stylize("$text-muted"))
