"""The dispatch panel (screen 3): every run of this session and the persisted ones.

The screen never counts events itself: it redraws from the dispatcher's aggregated
counters when told (at most ten times a second), so keys stay answered mid-run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from cctui.tui.dispatcher import Dispatcher
from cctui.tui.run_progress import RunProgress
from cctui.tui.widgets.app_header import AppHeader
from cctui.tui.widgets.dispatch_run_card import DispatchRunCard
from cctui.tui.widgets.key_hints import KeyHints

if TYPE_CHECKING:
    from textual import getters

    from cctui.tui.app import CctuiApp

#: Runs from earlier sessions shown at most (the newest ones).
SHOW_STORED = 30


def run_key(run: RunProgress) -> object:
    """What identifies a run's card: the run's id, or this session's progress object
    until the engine has stored the run (a retry of an earlier run then takes over that
    run's card)."""
    return run.run_id or ("session", id(run))


class DispatchScreen(Screen):
    """Progress of every run; cancel, pause/resume the macro, retry failures, open the log."""

    if TYPE_CHECKING:  # runs inside CctuiApp: typed access to its store, schema, dispatcher...
        app = getters.app(CctuiApp)

    DEFAULT_CSS = """
    DispatchScreen #dispatch-empty { padding: 1 2; color: $text-muted; }
    """
    BINDINGS = [
        Binding("down,j", "focus_run(1)", "Next run", show=False, id="dispatch-next"),
        Binding("up,k", "focus_run(-1)", "Previous run", show=False, id="dispatch-previous"),
        Binding("c", "cancel_run", "Cancel", id="dispatch-cancel"),
        Binding("p", "toggle_pause", "Pause/resume", id="dispatch-pause"),
        Binding("r", "retry_failed", "Retry failed", id="dispatch-retry"),
        Binding("l,enter", "open_log", "Log", id="dispatch-log"),
        Binding("f5", "reload", "Reload", show=False, id="dispatch-reload"),
    ]

    def __init__(self, *args: Any, runs: list[RunProgress] | None = None, **kwargs: Any) -> None:
        """``runs`` fixes what is shown (tests, snapshots); else the app's dispatcher."""
        super().__init__(*args, **kwargs)
        self._fixed_runs = runs
        self._cards: dict[object, DispatchRunCard] = {}

    @property
    def dispatcher(self) -> Dispatcher:
        return self.app.dispatcher

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        yield VerticalScroll(id="dispatch-runs")
        yield KeyHints()

    def on_mount(self) -> None:
        header = self.query_one(AppHeader)
        header.screen_title = "Dispatch"
        header.data_dir = str(self.app.data_dir or "")
        if self._fixed_runs is None:
            self.dispatcher.subscribe(self)
        self.action_reload()

    def on_unmount(self) -> None:
        self.dispatcher.unsubscribe(self)

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _runs(self) -> list[RunProgress]:
        if self._fixed_runs is not None:
            return self._fixed_runs
        runs = self.dispatcher.runs
        mine = [r for r in runs if not r.persisted]
        return mine + [r for r in runs if r.persisted][:SHOW_STORED]

    def action_reload(self) -> None:
        """Rebuild the card list (new runs appear; finished ones stay)."""
        self._sync(self._runs())

    def _sync(self, runs: list[RunProgress]) -> None:
        """Show ``runs`` in order, one card per run key: a card that is already there
        only gets the run's newest numbers (stored runs are read afresh every time), so
        ten updates a second neither remount cards nor move the focus."""
        holder = self.query_one("#dispatch-runs", VerticalScroll)
        wanted: dict[object, RunProgress] = {}
        for run in runs:  # newest first: a retry that resumed a run of ours shows, not the old one
            wanted.setdefault(run_key(run), run)
        for key, run in wanted.items():
            if key not in self._cards:  # a run of ours that the engine has just given an id
                old = next((k for k, card in self._cards.items() if card.run is run), None)
                if old is not None:
                    self._cards[key] = self._cards.pop(old)
        for key in [k for k in self._cards if k not in wanted]:
            self._cards.pop(key).remove()
        empty = holder.query("#dispatch-empty")
        if not wanted:
            if not empty:
                holder.mount(Static("No runs yet. Mark records on screen 1 and press m to run a "
                                    "macro; its progress shows here.", id="dispatch-empty"))
            return
        empty.remove()
        started = None
        below: DispatchRunCard | None = None
        for key, run in reversed(wanted.items()):  # bottom up, so each new card goes above
            card = self._cards.get(key)
            if card is None:
                card = self._cards[key] = DispatchRunCard(run)
                holder.mount(card, before=below) if below is not None else holder.mount(card)
                if run.running and not run.persisted:
                    started = card  # a run just started here: show its card (on top)
            else:
                card.run = run
                card.refresh(layout=True)
            below = card
        self._cards = {key: self._cards[key] for key in wanted}
        order = list(self._cards.values())
        if [c for c in holder.children if isinstance(c, DispatchRunCard)] != order:
            for above, card in zip(order, order[1:], strict=False):  # e.g. a stored run started earlier
                holder.move_child(card, after=above)
        if started is not None or not isinstance(self.focused, DispatchRunCard):
            self.call_after_refresh((started or order[0]).focus)

    @on(Dispatcher.RunsUpdated)
    def _runs_updated(self) -> None:
        if self.is_current:
            self._sync(self._runs())

    # -- keys -----------------------------------------------------------------------
    def _current(self) -> RunProgress | None:
        run = getattr(self.focused, "run", None)
        if run is None and self._cards:
            run = next(iter(self._cards.values())).run
        return run

    def action_focus_run(self, step: int) -> None:
        cards = list(self._cards.values())
        if not cards:
            return
        index = cards.index(self.focused) if self.focused in cards else -1
        card = cards[max(0, min(len(cards) - 1, index + step))]
        card.focus()
        card.scroll_visible()

    def action_cancel_run(self) -> None:
        run = self._current()
        if run is None:
            return
        if run.state == "live":
            self.notify("That run is sending in another process; stop it there.", severity="warning")
        elif self.dispatcher.cancel(run):
            self.notify(f"Cancelled {run.macro}; unsent records can be sent later with retry.")
        else:
            self.notify("That run is not running.", severity="warning")

    def action_toggle_pause(self) -> None:
        run = self._current()
        if run is None:
            return
        self.dispatcher.toggle_pause(run.macro)

    def action_retry_failed(self) -> None:
        run = self._current()
        if run is None:
            return
        if run.running or run.state == "live":
            self.notify("Wait for the run to finish (or cancel it) before retrying.", severity="warning")
            return
        if not run.failed and run.state not in ("cancelled", "interrupted"):
            self.notify("Nothing to retry in that run.")
            return
        self.dispatcher.retry(macro=run.macro if run.macro != "(all macros)" else None)
        self.action_reload()

    def action_open_log(self) -> None:
        run = self._current()
        if run is None:
            return
        from cctui.tui.screens.logs import LogsScreen

        query = f"run:{run.run_id}" if run.run_id else f"macro:{run.macro}"
        self.app.push_screen(LogsScreen(filter=query))
