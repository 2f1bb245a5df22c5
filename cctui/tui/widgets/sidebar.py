"""The list of tables (All feedback, each type, Users) and saved filters, with counts."""

from __future__ import annotations

from dataclasses import dataclass

from textual.widgets import OptionList
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class Section:
    """One entry of the sidebar: a table (``feedback``/``users``) or a saved filter."""

    key: str
    label: str
    target: str = "feedback"
    #: Only this feedback type (its full name), or every type.
    feedback_type: str | None = None
    #: For a saved filter: the query it puts in the filter box.
    query: str | None = None


class Sidebar(OptionList):
    """Sections with their counts; highlighting one switches the table to it."""

    DEFAULT_CSS = """
    Sidebar { width: 24; height: 1fr; border: none; border-right: vkey $panel; background: $surface; padding: 0; }
    Sidebar:focus { border: none; border-right: vkey $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sections: list[Section] = []

    def set_sections(self, sections: list[Section], counts: dict[str, int]) -> None:
        """Show ``sections`` with ``counts`` (by section key), keeping the highlight."""
        highlighted = self.highlighted
        self.sections = sections
        options: list[Option | None] = []
        saved_header = False
        for section in sections:
            if section.query is not None and not saved_header:
                options.append(None)
                saved_header = True
            count = counts.get(section.key)
            label = section.label if count is None else f"{section.label} [dim]{count:,}[/]"
            options.append(Option(label, id=section.key))
        self.set_options(options)
        if highlighted is not None and highlighted < self.option_count:
            self.highlighted = highlighted
        elif self.option_count:
            self.highlighted = 0

    def section(self, key: str | None) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)
