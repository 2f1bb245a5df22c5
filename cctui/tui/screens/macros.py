"""The macros screen (2): every macro with its health, and the way into the macro form."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from cctui.tui.dispatcher import Dispatcher
from cctui.tui.widgets.app_header import AppHeader
from cctui.tui.widgets.key_hints import KeyHints

if TYPE_CHECKING:
    from textual import getters

    from cctui.tui.app import CctuiApp

#: Where a new macro from a preset points until the user types the real URL.
PRESET_URLS = {
    "slack": "https://hooks.slack.com/services/${SLACK_HOOK_PATH}",
    "jira": "https://your-site.atlassian.net/rest/api/3/issue",
    "teams": "https://prod.westus.logic.azure.com/workflows/${TEAMS_WORKFLOW}",
    "discord": "https://discord.com/api/webhooks/${DISCORD_HOOK}",
    "salesforce": "https://your-domain.my.salesforce.com/services/data/v60.0/sobjects/Case/",
    "generic": "https://example.com/webhook",
}


def macro_health(macro: dict, last_run: Any) -> str:
    """``paused``, ``failing`` (its last run had failures), ``retrying`` (retries of its
    last run still wait: a host answering 429 or timing out is not "ok"), ``ok``, or ``-``
    (never run)."""
    if macro.get("paused") or macro.get("enabled") is False:
        return "paused"
    if last_run is None:
        return "-"
    if last_run.failed:
        return "failing"
    return "retrying" if last_run.scheduled else "ok"


def next_scheduled(macro: dict) -> str:
    if not macro.get("schedule"):
        return ""
    try:
        from cctui.automation.schedules import next_run

        when: datetime | None = next_run(macro)
    except Exception:  # a broken schedule shows as such, the list still loads
        return "invalid"
    return short_time(when.strftime("%Y-%m-%dT%H:%M")) if when else "ended"


def short_time(iso: str) -> str:
    """``2026-11-28T12:00:00Z`` as ``11-28 12:00``: the list must fit 80 columns."""
    text = iso.replace("T", " ").rstrip("Z")
    return text[5:16] if len(text) >= 16 else text


#: The macro list's columns; below ``NARROW`` terminal columns (80x24) the target column
#: goes (a users macro says so after its name) so the list fits without scrolling sideways.
COLUMNS = ("name", "target", "method", "host", "last run", "health", "next run")
NARROW = 100
NARROW_COLUMNS = tuple(c for c in COLUMNS if c != "target")


class MacroTable(DataTable):
    """The macro list: a DataTable that also moves with ``j``/``k``/``g``/``G`` like
    every other table in cctui."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="macros-down"),
        Binding("k", "cursor_up", "Up", show=False, id="macros-up"),
        Binding("g", "scroll_top", "First", show=False, id="macros-first"),
        Binding("G", "scroll_bottom", "Last", show=False, id="macros-last"),
    ]


class MacrosScreen(Screen):
    """The macro list. enter edits, n makes a new one from a preset, l shows its log."""

    if TYPE_CHECKING:  # runs inside CctuiApp: typed access to its store, schema, dispatcher...
        app = getters.app(CctuiApp)

    DEFAULT_CSS = """
    MacrosScreen DataTable { height: 1fr; }
    MacrosScreen #macros-empty { padding: 1 2; color: $text-muted; display: none; }
    MacrosScreen.-empty #macros-empty { display: block; }
    MacrosScreen.-empty DataTable { height: auto; }
    """
    BINDINGS = [
        Binding("enter", "edit", "Edit", id="macros-edit"),
        Binding("n", "new", "New from preset", id="macros-new"),
        Binding("l", "log", "Log", id="macros-log"),
        Binding("p", "toggle_pause", "Pause/resume", id="macros-pause"),
        Binding("delete", "remove", "Remove", id="macros-remove"),
        Binding("f5", "reload", "Reload", show=False, id="macros-reload"),
    ]

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        table: DataTable[str] = MacroTable(id="macros-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static("No macros yet. Press n to make one from a preset (slack, jira, teams, "
                     "discord, salesforce, generic), or run `cctui macro add FILE`.", id="macros-empty")
        yield KeyHints()

    class Loaded(Message):
        """The macros as stored at ``revision`` (read by a worker)."""

        def __init__(self, revision: int, macros: list[dict]) -> None:
            super().__init__()
            self.revision = revision
            self.macros = macros

    def __init__(self) -> None:
        super().__init__()
        self.macros: dict[str, dict] = {}
        """The macros last read from the store, by name (what the table shows)."""
        self._revision = -1

    def on_mount(self) -> None:
        header = self.query_one(AppHeader)
        header.screen_title = "Macros · ⏎ edit"
        header.data_dir = str(self.app.data_dir or "")
        self.app.dispatcher.subscribe(self)
        # ``macro add`` in another terminal, a save in the form: the app's one signal.
        self.app.store_changed.subscribe(self, self._store_changed)
        self.action_reload()

    def _store_changed(self, revision: int) -> None:
        if revision > self._revision:
            self.action_reload()

    def on_unmount(self) -> None:
        self.app.dispatcher.unsubscribe(self)

    def on_screen_resume(self) -> None:
        self.action_reload()

    @on(Dispatcher.RunsUpdated)
    def _runs_updated(self) -> None:
        if self.is_current:
            self._fill()  # the "last run" and "health" columns; the macros did not change

    @work(thread=True, exclusive=True, group="macros-load")
    def action_reload(self) -> None:
        """Read the macros again (a thread worker: store reads stay off the event loop)."""
        store = self.app.store
        revision, macros = store.revision, store.macros_all()
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(revision, macros))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._revision = message.revision
        self.macros = {m["name"]: m for m in sorted(message.macros, key=lambda m: m["name"])}
        self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        keep = self.current_name
        narrow = self.app.size.width < NARROW
        columns = NARROW_COLUMNS if narrow else COLUMNS
        if tuple(str(c.label) for c in table.columns.values()) != columns:
            table.clear(columns=True)
            table.add_columns(*columns)
        else:
            table.clear()
        last_runs: dict[str, Any] = {}
        for run in self.app.dispatcher.runs:
            last_runs.setdefault(run.macro, run)  # runs come newest first
        for macro in self.macros.values():
            last = last_runs.get(macro["name"])
            health = macro_health(macro, last)
            style = {"paused": "yellow", "failing": "red", "retrying": "yellow", "ok": "green"}.get(health, "dim")
            target = macro.get("target", "feedback")
            cells = [macro["name"] + (" (users)" if narrow and target == "users" else ""), target,
                     macro.get("method", "POST"), urlsplit(str(macro.get("url", ""))).hostname or "?",
                     short_time(last.started_at) if last and last.started_at else ("now" if last else "never"),
                     f"[{style}]{health}[/]", next_scheduled(macro)]
            if narrow:
                del cells[1]
            table.add_row(*cells, key=macro["name"])
        self.set_class(table.row_count == 0, "-empty")
        if keep is not None and keep in self.macros:
            table.move_cursor(row=table.get_row_index(keep))
        if self.is_current:
            table.focus()

    def on_resize(self) -> None:
        if self.macros:
            self._fill()  # the columns depend on the width

    @property
    def current_name(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        name = self.current_name
        if name is None:
            self.notify("No macros yet: press n to make one from a preset.")
            return
        macro = self.macros.get(name)
        if macro is not None:
            self.open_form(macro, is_new=False)

    def action_new(self) -> None:
        def picked(kind: str | None) -> None:
            if kind:
                self.open_form(new_from_preset(kind, set(self.macros)), is_new=True)

        from cctui.tui.screens.preset_picker import PresetPicker

        self.app.push_screen(PresetPicker(), picked)

    def open_form(self, macro: dict, *, is_new: bool) -> None:
        from cctui.tui.screens.macro_form import MacroFormScreen

        self.app.push_screen(MacroFormScreen(macro, is_new=is_new))

    def action_log(self) -> None:
        name = self.current_name
        if name is not None:
            from cctui.tui.screens.logs import LogsScreen

            self.app.push_screen(LogsScreen(filter=f"macro:{name}"))

    def action_toggle_pause(self) -> None:
        name = self.current_name
        if name is not None:
            self.app.dispatcher.toggle_pause(name)  # the store's signal brings the new state

    def action_remove(self) -> None:
        name = self.current_name
        if name is None:
            return
        from cctui.tui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(name)

        self.app.push_screen(ConfirmScreen(f"Remove macro [b]{name}[/b]? Its log stays.", yes="Remove"),
                             answered)


    @work(thread=True, group="macros-write")
    def _remove(self, name: str) -> None:
        from cctui.delivery.scheduled import drop_removed

        self.app.store.macro_remove(name)  # a write (fsync): never on the event loop
        drop_removed(self.app.store, name)  # its scheduled retries stop counting as retrying
        self.notify(f"Removed {name}.")  # notify is thread-safe

def new_from_preset(kind: str, taken: set[str]) -> dict:
    """A fresh macro dict from preset ``kind`` with a name not in ``taken``."""
    from cctui.macros import preset

    name, n = f"new-{kind}", 2
    while name in taken:
        name, n = f"new-{kind}-{n}", n + 1
    return preset(kind, name=name, url=PRESET_URLS[kind]).to_dict()
