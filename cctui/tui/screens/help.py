"""``?``: every binding of the screen underneath, with its key and its id (for ``[keymap]``)."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def binding_rows(screen: Screen) -> list[tuple[str, str, str]]:
    """``(keys, description, id)`` for each binding active on ``screen``, deduplicated.

    The screen's own keys come first, then the app-wide ones, then the keys of the
    focused widget that have no id (Textual's cursor and editing keys).
    """
    rows: dict[tuple[str, str], list[str]] = {}
    group: dict[tuple[str, str], int] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        description = binding.description or binding.action
        ident = binding.id or ""
        keys = rows.setdefault((description, ident), [])
        group.setdefault((description, ident), 2 if not ident else (1 if active.node is screen.app else 0))
        shown = screen.app.get_key_display(binding)
        if shown not in keys:
            keys.append(shown)
    ordered = sorted(rows.items(), key=lambda item: group[item[0]])  # stable within a group
    return [(" ".join(keys), description, ident) for (description, ident), keys in ordered]


_REMAP_HINT = 'Remap a key in the config file: [keymap] <id> = "key"'


class HelpScreen(ModalScreen[None]):
    """A modal listing the bindings of the screen it was opened over."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help-close"),
        Binding("down,j", "scroll('down')", "Scroll down", show=False, id="help-scroll-down"),
        Binding("up,k", "scroll('up')", "Scroll up", show=False, id="help-scroll-up"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; color: $accent; }
    """

    def __init__(self, over: Screen) -> None:
        super().__init__()
        self._rows = binding_rows(over)
        self._title = getattr(over, "title_for_help", None) or type(over).__name__.removesuffix("Screen")

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(f"Keys: {escape(self._title)}   (esc closes)", id="help-title")
            yield Static(self._table(), id="help-keys")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def _table(self) -> Content:
        # Content, not markup: a key such as "[" must not be read as a markup tag.
        # Capped columns: one long editing-key name must not wrap every line at 80x24.
        width = min(14, max((len(k) for k, _, _ in self._rows), default=4))
        desc_width = min(26, max((len(d) for _, d, _ in self._rows), default=4))
        lines = [
            Content.assemble((_fit(keys, width), "bold $accent"), "  ", _fit(description, desc_width),
                             "  ", (ident, "$text-muted"))
            for keys, description, ident in self._rows
        ]
        lines += [Content(""), Content.styled(_REMAP_HINT, "$text-muted")]
        return Content("\n").join(lines)

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one(VerticalScroll)
        scroll.scroll_down() if direction == "down" else scroll.scroll_up()


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"
