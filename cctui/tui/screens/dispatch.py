"""Placeholder until the screen lands (owned by the TUI part 2 work)."""

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static


class DispatchScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Static("Dispatch — progress of every run: counts, rate, ETA, status codes, cancel and retry. Coming in the next release.", id="placeholder")
        yield Footer()
