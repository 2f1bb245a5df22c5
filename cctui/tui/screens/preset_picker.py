"""Which preset a new macro starts from (``n`` on the macros screen)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

#: The presets the core ships (``cctui.macros.preset``), in the order the picker lists them.
PRESETS = ("slack", "jira", "teams", "discord", "salesforce", "generic")


class PresetPicker(ModalScreen[str | None]):
    """Dismisses with the chosen preset's name, or None on escape."""

    DEFAULT_CSS = """
    PresetPicker { align: center middle; }
    PresetPicker > Vertical { width: 40; height: auto; border: thick $accent;
        background: $surface; padding: 0 1; }
    PresetPicker OptionList { height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="preset-cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]New macro from a preset[/b]")
            yield OptionList(*[Option(name, id=name) for name in PRESETS], id="preset-list")

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
