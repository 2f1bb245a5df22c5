"""Bulk trigger: pick a macro (fuzzy), confirm with a rendered sample, start the run.

``start_bulk(app, record_ids)`` is what the feedback screen calls on ``m``. Both steps are
modal so that the table underneath keeps its marks when the user backs out.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from cctui.tui.widgets.macro_request_view import render_masked_sample, request_text


def macros_for(macros: list[dict], *, target: str, feedback_types: set[str] | None) -> list[dict]:
    """The macros that apply to records of ``target`` (and, for feedback, these types)."""
    chosen = []
    for macro in macros:
        if (macro.get("target") or "feedback") != target:
            continue
        only = macro.get("feedback_type")
        if target == "feedback" and only and feedback_types and only not in feedback_types:
            continue
        chosen.append(macro)
    return sorted(chosen, key=lambda m: m.get("name", ""))


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
        Binding("escape", "dismiss_picker", "Cancel", id="bulk.picker.cancel"),
        Binding("down", "move(1)", "Next", show=False, id="bulk.picker.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="bulk.picker.up"),
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


class ConfirmRun(ModalScreen[bool]):
    """The last look before sending: macro, count, host and one masked sample."""

    DEFAULT_CSS = """
    ConfirmRun { align: center middle; }
    ConfirmRun > Vertical { width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmRun #confirm-sample { height: auto; max-height: 14; overflow-y: auto;
        border: round $panel; padding: 0 1; }
    ConfirmRun #confirm-error { color: $error; }
    ConfirmRun Horizontal { height: auto; align-horizontal: right; }
    ConfirmRun Button { margin: 0 1; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Send", id="bulk.confirm.yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="bulk.confirm.no"),
    ]

    def __init__(self, macro: dict, count: int, sample: dict | None, sample_id: str | None,
                 error: str | None) -> None:
        super().__init__()
        self.macro = macro
        self.count = count
        self.sample = sample
        self.sample_id = sample_id
        self.error = error

    def compose(self) -> ComposeResult:
        host = urlsplit(str(self.macro.get("url", ""))).hostname or "?"
        noun = "record" if self.count == 1 else "records"
        with Vertical():
            yield Static(
                f"[b]Send {self.macro['name']}[/b] to [b]{self.count:,}[/b] {noun}\n"
                f"target host [b]{host}[/b] · {self.macro.get('method', 'POST')} · "
                f"for {self.macro.get('target', 'feedback')}",
                id="confirm-summary",
            )
            if self.macro.get("paused"):
                yield Static("[b $warning]This macro is paused.[/] Sending now runs it anyway.")
            if self.error:
                yield Static(f"Sample {self.sample_id or ''} does not render: {self.error}",
                             id="confirm-error", markup=False)
            elif self.sample is not None:
                yield Static(f"[dim]Sample request for {self.sample_id} (secrets masked):[/]")
                yield Static(request_text(self.sample), id="confirm-sample", markup=False)
            with Horizontal():
                yield Button("Send (y)", variant="warning", id="confirm-yes")
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def show_dispatch(app: App) -> None:
    """Bring the dispatch panel to the front (a mode when the shell defines one)."""
    modes = getattr(app, "MODES", None) or getattr(app, "_modes", {})
    if "dispatch" in modes:
        app.switch_mode("dispatch")
    else:
        from cctui.tui.screens.dispatch import DispatchScreen

        app.push_screen(DispatchScreen())


def _record(app: App, target: str, record_id: str) -> dict | None:
    store = app.store
    getter = store.user_get if target == "users" else store.feedback_get
    return getter(record_id)


def start_bulk(app: App, record_ids: list[str], *, target: str = "feedback",
               feedback_type: str | None = None) -> None:
    """Open the macro picker for ``record_ids`` (then a confirmation, then the run)."""
    record_ids = list(record_ids)
    if not record_ids:
        app.notify("Mark records with space first (or open one).", severity="warning")
        return
    store = app.store
    types = {feedback_type} if feedback_type else None
    if target == "feedback" and types is None:
        types = {r.get("type") for r in (store.feedback_get(i) for i in record_ids[:2000]) if r}
    macros = macros_for(store.macros_all(), target=target, feedback_types=types)
    if not macros:
        app.notify(f"No macro applies to these {target} records; create one on screen 2.",
                   severity="warning")
        return

    def picked(name: str | None) -> None:
        if name:
            confirm_and_start(app, name, record_ids)

    app.push_screen(MacroPicker(macros, len(record_ids)), picked)


def confirm_and_start(app: App, name: str, record_ids: list[str]) -> None:
    """The confirmation for macro ``name`` on ``record_ids``; yes starts the run."""
    macro = app.store.macro_get(name)
    if macro is None or not record_ids:
        app.notify("Mark records first (or open one)." if macro else f"No macro {name}.", severity="warning")
        return
    sample = _record(app, macro.get("target", "feedback"), record_ids[0])
    masked, error = render_masked_sample(app, macro, sample)

    def confirmed(yes: bool | None) -> None:
        if yes:
            app.dispatcher.start(name, record_ids, trigger="bulk")
            show_dispatch(app)

    app.push_screen(ConfirmRun(macro, len(record_ids), masked, record_ids[0], error), confirmed)

