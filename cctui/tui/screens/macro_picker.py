"""Type to filter macro names, enter picks one (the first step of ``m``, a bulk run)."""

from __future__ import annotations

from urllib.parse import urlsplit

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option


def fuzzy_rank(macros: list[dict], query: str) -> list[dict]:
    """Macros whose name matches ``query`` fuzzily, best first (all when empty)."""
    if not query.strip():
        return list(macros)
    matcher = Matcher(query)
    scored = [(matcher.match(m.get("name", "")), m) for m in macros]
    return [m for score, m in sorted(scored, key=lambda p: -p[0]) if score > 0]


class MacroPicker(ModalScreen[str | None]):
    """Type to filter macro names; enter picks, escape backs out."""

    DEFAULT_CSS = """
    MacroPicker { align: center middle; }
    MacroPicker > Vertical { width: 70; max-width: 95%; height: auto; max-height: 80%;
        border: thick $accent; background: $surface; padding: 0 1; }
    MacroPicker OptionList { height: auto; max-height: 16; }
    MacroPicker #picker-title { text-style: bold; }
    """
    BINDINGS = [
        Binding("escape", "dismiss_picker", "Cancel", id="picker-cancel"),
        Binding("down", "move(1)", "Next", show=False, id="picker-down"),
        Binding("up", "move(-1)", "Previous", show=False, id="picker-up"),
    ]

    def __init__(self, macros: list[dict], count: int) -> None:
        super().__init__()
        self.macros = macros
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical():
            noun = "record" if self.count == 1 else "records"
            yield Static(f"Run a macro on {self.count:,} {noun}", id="picker-title")
            yield Input(placeholder="type to filter macros", id="picker-query")
            yield OptionList(id="picker-list")
            yield Static("enter pick · ↑↓ move · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, query: str) -> None:
        options = self.query_one("#picker-list", OptionList)
        options.clear_options()
        for macro in fuzzy_rank(self.macros, query):
            host = urlsplit(str(macro.get("url", ""))).hostname or "?"
            label = f"{macro['name']}  [dim]{macro.get('method', 'POST')} {host}[/]"
            if macro.get("paused"):
                label += "  [b $warning]paused[/]"
            options.add_option(Option(label, id=macro["name"]))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#picker-query")
    def _query_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#picker-query")
    def _submit(self) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_dismiss_picker(self) -> None:
        self.dismiss(None)
