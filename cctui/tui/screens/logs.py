"""The log inspector (screen 4): every attempt, newest first, filterable, explained.

``LogsScreen(filter="macro:slack-bugs")`` is the per-macro view and
``LogsScreen(filter="record:BUG-0001")`` the per-record one; both are pushed from the
macro list, the record detail and the dispatch panel.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from cctui.errors import CctuiError
from cctui.tui.dispatcher import Dispatcher
from cctui.tui.screens.confirm import ConfirmScreen
from cctui.tui.screens.log_detail import LogDetailScreen, curl_command
from cctui.tui.widgets.app_header import AppHeader
from cctui.tui.widgets.key_hints import KeyHints
from cctui.tui.widgets.log_filter import parse_log_filter
from cctui.tui.widgets.log_table import LogTable, delivery_counts
from cctui.tui.widgets.macro_request_view import header_pairs, render_macro

if TYPE_CHECKING:
    from textual import getters

    from cctui.tui.app import CctuiApp

#: Most attempts read into the inspector at once (newest first); a filter narrows it.
MAX_ENTRIES = 200_000


#: Filters that can show a delivery without its newest attempt (a retry run sends under
#: the same delivery id with its own run id and trigger, later).
CUT_DELIVERIES = {"run_id", "trigger", "since", "until"}

class LogsScreen(Screen):
    """All attempts; ``/`` filters, enter opens one, keys retry, copy curl, jump."""

    if TYPE_CHECKING:  # runs inside CctuiApp: typed access to its store, schema, dispatcher...
        app = getters.app(CctuiApp)

    DEFAULT_CSS = """
    LogsScreen #logs-filter { display: none; }
    LogsScreen #logs-filter.-open { display: block; }
    LogsScreen #logs-count { height: 1; padding: 0 1; background: $boost; }
    LogsScreen #logs-curl { height: auto; max-height: 8; padding: 0 1; border: round $panel;
        display: none; }
    LogsScreen #logs-curl.-shown { display: block; }
    """
    BINDINGS = [
        Binding("slash", "open_filter", "Filter", id="logs-filter"),
        Binding("escape", "close_filter", "Back", show=False, id="logs-filter-close"),
        Binding("r", "retry_one", "Retry", id="logs-retry"),
        Binding("R", "retry_view", "Retry all failed", id="logs-retry-all"),
        Binding("c", "curl(False)", "Copy curl", id="logs-curl"),
        Binding("C", "curl(True)", "Curl+secrets", show=False, id="logs-curl-secrets"),
        # not `g`: in every table `g`/`G` go to the first/last row
        Binding("o", "record", "Open record", id="logs-record"),
        Binding("f5", "reload", "Reload", show=False, id="logs-reload"),
    ]

    def __init__(self, *args: Any, filter: str = "", entries: list[dict] | None = None, **kwargs: Any) -> None:
        """``filter`` starts the view filtered; ``entries`` fixes the data (snapshots)."""
        super().__init__(*args, **kwargs)
        self.filter_text = filter
        self._fixed = entries
        self._reload_pending = False

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        yield Input(value=self.filter_text, placeholder="status:4xx macro:NAME record:ID trigger:bulk failed since:2026-11-01",
                    id="logs-filter")
        yield Static("", id="logs-count")
        yield LogTable(id="logs-table")
        yield Static("", id="logs-curl", markup=False)
        yield KeyHints()

    def on_mount(self) -> None:
        header = self.query_one(AppHeader)
        header.screen_title = "Logs" + (f" › {self.filter_text}" if self.filter_text else "")
        header.data_dir = str(self.app.data_dir or "")
        if self.filter_text:
            self.query_one("#logs-filter").add_class("-open")
        if self._fixed is None:
            self.app.dispatcher.subscribe(self)  # this session's runs append attempts
            self.app.store_changed.subscribe(self, self._store_changed)  # and other processes
        self.query_one(LogTable).focus()
        self.action_reload()

    def on_unmount(self) -> None:
        self.app.dispatcher.unsubscribe(self)

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _store_changed(self, revision: int) -> None:
        self._runs_updated()

    @on(Dispatcher.RunsUpdated)
    def _runs_updated(self) -> None:
        # New attempts arrive while a run goes on; re-read at most once a second.
        if self.is_current and not self._reload_pending:
            self._reload_pending = True
            self.set_timer(1.0, self._delayed_reload)

    def _delayed_reload(self) -> None:
        self._reload_pending = False
        self.action_reload()

    # -- loading ----------------------------------------------------------------------
    def action_reload(self) -> None:
        try:
            kwargs = parse_log_filter(self.filter_text)
        except CctuiError as exc:
            self.notify(str(exc), title="Filter", severity="error")
            return
        if self._fixed is not None:
            self._show(self._fixed, len(self._fixed))
        else:
            self._load(kwargs)

    @work(exclusive=True, group="logs-load")
    async def _load(self, kwargs: dict[str, str]) -> None:
        store = self.app.store

        def read() -> tuple[list[dict], int, dict[str, str] | None]:
            entries = []
            for entry in store.log_iter(**kwargs):
                entries.append(entry)
                if len(entries) >= MAX_ENTRIES:
                    break
            states = None
            if set(kwargs) & CUT_DELIVERIES:
                # Part of a delivery's attempts shown (one run's): count it as it stands now.
                states = store.log_delivery_states({e["delivery_id"] for e in entries if e.get("delivery_id")})
            return entries, store.log_count(), states

        entries, total, states = await asyncio.to_thread(read)
        self._show(entries, total, states)

    def _show(self, entries: list[dict], total: int, states: dict[str, str] | None = None) -> None:
        tables = self.query(LogTable)
        if not tables:
            # A read that finished before the screen's widgets were mounted (the resume
            # that comes with the push can beat them on a busy machine) or after they were
            # removed: nothing to fill; on_mount reads again once the table is there.
            return
        table = tables.first()
        if self.filter_text:
            table.placeholder = "No attempt matches this filter (/ to change it)."
        else:
            table.placeholder = ("No deliveries yet. Mark records on screen 1 and press m to run "
                                 "a macro; every attempt shows here.")
        table.set_entries(entries)
        counts = delivery_counts(entries, states)  # failed = for good; a retried 429 is not
        retrying = f" · {counts['retrying']:,} retrying" if counts["retrying"] else ""
        where = f" · filter {self.filter_text}" if self.filter_text else ""
        self.query_one("#logs-count", Static).update(
            f"{len(entries):,} of {total:,} attempts · {counts['failed']:,} failed{retrying}{where}")

    # -- filter -----------------------------------------------------------------------
    def action_open_filter(self) -> None:
        box = self.query_one("#logs-filter", Input)
        box.add_class("-open")
        box.focus()

    @property
    def pushed(self) -> bool:
        """True when opened on top of another screen (a record's, a macro's, a run's log)."""
        return self.is_attached and self.app.screen_stack[0] is not self

    def action_close_filter(self) -> None:
        """esc: out of the filter box; else, on a pushed log, back where it came from."""
        box = self.query_one("#logs-filter", Input)
        if self.focused is not box and self.pushed:
            self.dismiss()
            return
        if not box.value:
            box.remove_class("-open")
        self.query_one(LogTable).focus()

    @on(Input.Submitted, "#logs-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            parse_log_filter(event.value)
        except CctuiError as exc:
            self.notify(str(exc), title="Filter", severity="error")
            return
        self.filter_text = event.value.strip()
        if not self.filter_text:
            event.input.remove_class("-open")
        self.query_one(LogTable).focus()
        self.action_reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Letters typed into the filter box are text, not commands.
        if action in ("retry_one", "retry_view", "curl", "record", "open_filter"):
            return not isinstance(self.focused, Input)
        return True

    # -- acting on entries ------------------------------------------------------------
    @on(LogTable.Opened)
    def _opened(self, event: LogTable.Opened) -> None:
        self.app.push_screen(LogDetailScreen(event.entry, self))

    def _entry(self) -> dict | None:
        entry = self.query_one(LogTable).current
        if entry is None:
            self.notify("No attempt selected.", severity="warning")
        return entry

    def action_retry_one(self) -> None:
        entry = self._entry()
        if entry is not None:
            self.retry_entries([entry])

    def action_retry_view(self) -> None:
        self.retry_entries(self.query_one(LogTable).entries)

    def retry_entries(self, entries: list[dict]) -> None:
        """Send again the records whose *latest* attempt in ``entries`` failed."""
        latest: dict[tuple[str, str], dict] = {}
        for entry in entries:  # newest first: the first one seen per pair is the latest
            if entry.get("skipped"):
                continue  # a dropped scheduled retry is no attempt; judge the record by its real ones
            latest.setdefault((str(entry.get("macro")), str(entry.get("record_id"))), entry)
        failed: dict[str, list[str]] = {}
        for (macro, record_id), entry in latest.items():
            if not entry.get("ok") and not entry.get("retry_at"):  # a scheduled retry goes on its own
                failed.setdefault(macro, []).append(record_id)
        if not latest:
            self.notify("Nothing to retry: no attempts are shown.", severity="warning")
            return
        if not failed:
            self.notify("Nothing to retry: the latest attempt of each delivery here succeeded.")
            return
        dispatcher: Dispatcher = self.app.dispatcher
        dispatcher.retry_records(failed)
        count = sum(len(ids) for ids in failed.values())
        self.notify(f"Retrying {count:,} failed deliver{'y' if count == 1 else 'ies'}; "
                    "progress on screen 3.")

    def action_curl(self, reveal: bool) -> None:
        entry = self._entry()
        if entry is not None:
            self.copy_curl(entry, reveal=reveal)

    def copy_curl(self, entry: dict, *, reveal: bool = False) -> None:
        """Copy a curl for ``entry`` (masked; real secrets only after a confirmation)."""
        if not reveal:
            text = curl_command(str(entry.get("method", "POST")), str(entry.get("url", "")),
                                header_pairs(entry.get("request_headers")), str(entry.get("request_body") or ""))
            self._deliver_curl(text, shown=text)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._copy_real_curl(entry)

        self.app.push_screen(ConfirmScreen(
            "Copy the curl command [b]with real secrets[/b]?\n\n"
            "The request is rendered again from the macro and record as they are now; tokens "
            "go to the clipboard in clear (they are not shown here).",
            yes="Copy with secrets", no="Cancel", tone="error", width=64), answered)

    @work(exclusive=True, group="logs-curl")
    async def _copy_real_curl(self, entry: dict) -> None:
        """Render the request again from the macro and record as they are now (the store
        reads and the render run in a thread) and copy it with its real secrets."""
        store = self.app.store

        def render() -> tuple[str, str]:
            macro = store.macro_get(str(entry.get("macro")))
            if macro is None:
                raise CctuiError(f"Macro {entry.get('macro')} no longer exists.")
            record_id = str(entry.get("record_id"))
            record = store.feedback_get(record_id) or store.user_get(record_id)
            real = render_macro(self.app, macro, record)
            masked = real.masked()
            return (curl_command(real.method, real.url, real.headers, real.body),
                    curl_command(masked["method"], masked["url"], header_pairs(masked["headers"]), masked["body"]))

        try:
            text, shown = await asyncio.to_thread(render)
        except CctuiError as exc:
            self.notify(str(exc), title="Cannot render", severity="error")
            return
        self._deliver_curl(text, shown=shown + "\n(copied with real secrets; shown masked)")

    def _deliver_curl(self, text: str, *, shown: str) -> None:
        self.app.copy_to_clipboard(text)
        self.last_curl_shown = shown
        screen = self.app.screen
        if isinstance(screen, LogDetailScreen):
            screen.show_curl(shown)
        else:
            box = self.query_one("#logs-curl", Static)
            box.update(shown)
            box.add_class("-shown")
        self.notify("Copied as curl (OSC 52).")

    def action_record(self) -> None:
        entry = self._entry()
        if entry is not None:
            self.jump_to_record(str(entry.get("record_id", "")))

    def jump_to_record(self, record_id: str) -> None:
        """Open the record's detail through the shell (its screens are not ours)."""
        self.app.open_record(record_id)
