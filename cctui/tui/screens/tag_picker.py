"""Pick a ``((tag))`` to insert at the macro body's cursor (``ctrl+t`` in the macro form)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class TagPicker(ModalScreen[str | None]):
    """Dismisses with the chosen tag's name (without the brackets), or None on escape."""

    DEFAULT_CSS = """
    TagPicker { align: center middle; }
    TagPicker > Vertical { width: 40; height: 20; border: thick $accent; background: $surface; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="tag-cancel")]

    def __init__(self, tags: list[str]) -> None:
        super().__init__()
        self.tags = tags

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Insert tag[/b] (enter)")
            yield OptionList(*[Option(f"(({t}))", id=t) for t in self.tags])

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
