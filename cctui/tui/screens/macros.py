"""Placeholder until the screen lands (owned by the TUI part 2 work)."""

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static


class MacrosScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Static("Macros — the macro list and the macro form with a live preview. Coming in the next release.", id="placeholder")
        yield Footer()
