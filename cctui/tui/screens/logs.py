"""Placeholder until the screen lands (owned by the TUI part 2 work)."""

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static


class LogsScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Static("Logs — every webhook attempt with its status code, explanation, request and response. Coming in the next release.", id="placeholder")
        yield Footer()
