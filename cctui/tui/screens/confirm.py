"""One yes/no question before something that cannot be taken back (y / n, or the buttons).

Every confirmation in the TUI is a :class:`ConfirmScreen`: removing a macro, leaving the
macro form unsaved, copying a curl with real secrets, starting a bulk run. What differs
between them is data (the question, the widgets that show what is at stake, the button
labels, which answer has the focus), not code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Static

#: The border colour says how much is at stake.
Tone = Literal["warning", "error"]


class ConfirmScreen(ModalScreen[bool]):
    """Asks ``question``; dismisses with True for yes, False for no or escape."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { height: auto; max-width: 95%; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmScreen > Vertical.-error { border: thick $error; }
    ConfirmScreen #confirm-question { height: auto; }
    ConfirmScreen #confirm-question.-alone { padding: 1 1; }
    ConfirmScreen #confirm-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    ConfirmScreen Button { margin: 0 1; }
    ConfirmScreen .confirm-sample { height: auto; max-height: 50vh; overflow-y: auto;
        border: round $panel; padding: 0 1; }
    ConfirmScreen .confirm-error { color: $error; }
    ConfirmScreen .confirm-warning { color: $warning; text-style: bold; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]

    def __init__(self, question: str, *, details: Iterable[Widget] = (), yes: str = "Yes",
                 no: str = "No", tone: Tone = "warning", width: int = 60,
                 default: bool = False) -> None:
        """``question`` is markup; ``details`` are shown under it (e.g. a sample request);
        ``default`` is the answer whose button has the focus (enter presses it)."""
        super().__init__()
        self.question = question
        self.details = list(details)
        self.yes_label, self.no_label = yes, no
        self.tone = tone
        self.box_width = width
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes=f"-{self.tone}") as box:
            box.styles.width = self.box_width
            # A question alone gets room to breathe; with details, lines are dear at 80x24.
            yield Static(self.question, id="confirm-question", classes="" if self.details else "-alone")
            yield from self.details
            with Horizontal(id="confirm-buttons"):
                # One-line buttons: at 80x24 bordered ones were cut off under a long sample.
                yield Button(f"{self.yes_label} (y)", variant=self.tone, id="confirm-yes", compact=True)
                yield Button(f"{self.no_label} (n)", id="confirm-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-yes" if self.default else "#confirm-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
