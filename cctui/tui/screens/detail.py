"""One feedback record: every field, the full description, its deliveries, and edits.

Status, severity and category change with cycle keys (``s``/``v``/``c`` forward, shifted
backward); ``l`` opens the record's delivery log. Each edit is written by the store in a thread worker (never on the event
loop) with ``origin="tui"``, so it counts as a *modify* and may fire triggers.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from cctui.core.records import FEEDBACK_FIELDS
from cctui.errors import CctuiError
from cctui.tui.clip import clip
from cctui.tui.widgets.app_header import AppHeader
from cctui.tui.widgets.key_hints import KeyHints

if TYPE_CHECKING:
    from textual import getters

    from cctui.tui.app import CctuiApp

#: How many delivery attempts the detail shows (the log screen has the rest).
RECENT_ATTEMPTS = 5


class DetailScreen(Screen):
    """The record ``record_id``; ``escape`` goes back to the table."""

    if TYPE_CHECKING:  # runs inside CctuiApp: typed access to its store, schema, dispatcher...
        app = getters.app(CctuiApp)

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="detail-close"),
        Binding("s", "cycle('status', 1)", "Status", id="detail-status-next"),
        Binding("S", "cycle('status', -1)", "Status back", show=False, id="detail-status-prev"),
        Binding("v", "cycle('severity', 1)", "Severity", id="detail-severity-next"),
        Binding("V", "cycle('severity', -1)", "Severity back", show=False, id="detail-severity-prev"),
        Binding("c", "cycle('category', 1)", "Category", id="detail-category-next"),
        Binding("C", "cycle('category', -1)", "Category back", show=False, id="detail-category-prev"),
        Binding("m", "run_macro", "Macro", id="detail-run-macro"),
        Binding("l", "record_log", "Log", id="detail-log"),
        Binding("down,j", "scroll('down')", "Scroll down", show=False, id="detail-scroll-down"),
        Binding("up,k", "scroll('up')", "Scroll up", show=False, id="detail-scroll-up"),
    ]

    DEFAULT_CSS = """
    DetailScreen #detail-body { padding: 0 1; height: 1fr; }
    DetailScreen #detail-title { text-style: bold; color: $text; margin: 1 0; }
    DetailScreen .detail-heading { color: $accent; text-style: bold; margin-top: 1; }
    DetailScreen #detail-fields { height: auto; }
    DetailScreen #detail-description { height: auto; }
    """

    class Loaded(Message):
        """The record and its latest attempts as stored at ``revision`` (from a worker)."""

        def __init__(self, revision: int, record: dict | None, attempts: list[dict]) -> None:
            super().__init__()
            self.revision, self.record, self.attempts = revision, record, attempts

    class Saved(Message):
        """An edit of ``field`` was written; ``record`` is the stored result."""

        def __init__(self, record: dict, field: str) -> None:
            super().__init__()
            self.record, self.field = record, field

    def __init__(self, record_id: str, categories: list[str] | None = None) -> None:
        super().__init__()
        self.record_id = record_id
        self.record: dict | None = None
        self._categories = list(categories or [])
        self._revision = -1

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        with VerticalScroll(id="detail-body"):
            yield Static(self.record_id, id="detail-title")
            yield Static("Loading…", id="detail-fields")
            yield Static("Description", classes="detail-heading")
            yield Static("", id="detail-description", markup=False)
            yield Static("Steps to reproduce", classes="detail-heading", id="detail-steps-heading")
            yield Static("", id="detail-steps", markup=False)
            yield Static("Deliveries  [$text-muted](l: the full log of this record)[/]", classes="detail-heading")
            yield Static("", id="detail-deliveries")
        yield KeyHints()

    def on_mount(self) -> None:
        header = self.query_one(AppHeader)
        header.screen_title = f"Feedback › {self.record_id}"
        header.data_dir = str(self.app.data_dir or "")
        self.app.current_record_id = self.record_id
        self.query_one("#detail-body").focus()
        self._load()
        # An edit in another terminal, a run's on_success: the app's one store signal.
        self.app.store_changed.subscribe(self, self._store_changed)

    def _store_changed(self, revision: int) -> None:
        if revision > self._revision:
            self._load()

    # -- reading ---------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="detail-load")
    def _load(self) -> None:
        store = self.app.store
        revision = store.revision
        record = store.feedback_get(self.record_id)
        attempts = list(islice(store.log_iter(record_id=self.record_id), RECENT_ATTEMPTS))
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(revision, record, attempts))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._revision = message.revision
        self._show(message.record, message.attempts)

    def _show(self, record: dict | None, attempts: list[dict] | None = None) -> None:
        self.record = record
        if record is None:
            self.query_one("#detail-fields", Static).update(f"[$error]{self.record_id} does not exist (deleted?).[/]")
            return
        title = clip(str(record.get("title", "")))
        self.query_one("#detail-title", Static).update(f"{escape(record['id'])}  {escape(title)}")
        self.query_one("#detail-fields", Static).update(self._fields_text(record))
        self.query_one("#detail-description", Static).update(clip(str(record.get("description") or "(no description)")))
        steps = clip(str(record.get("steps") or ""))
        self.query_one("#detail-steps", Static).update(steps)
        self.query_one("#detail-steps", Static).display = bool(steps)
        self.query_one("#detail-steps-heading").display = bool(steps)
        if attempts is not None:
            self.query_one("#detail-deliveries", Static).update(attempts_text(attempts))

    def _fields_text(self, record: dict) -> str:
        skip = {"id", "title", "description", "steps"}
        names = [f for f in FEEDBACK_FIELDS if f not in skip]
        names += sorted(k for k in record if k not in skip and k not in names)
        width = max(len(n) for n in names)
        lines = []
        for name in names:
            value = record.get(name)
            text = "" if value is None else escape(clip(str(value)))
            if name in ("status", "severity", "category"):
                text = f"[b $accent]{text}[/]"
            lines.append(f"[$text-muted]{name.ljust(width)}[/]  {text}")
        return "\n".join(lines)

    # -- editing ---------------------------------------------------------------------
    def _choices(self, field: str) -> list[str]:
        schema = self.app.schema
        if field == "status":
            return list(schema.statuses)
        if field == "severity":
            return list(schema.severities)
        current = str((self.record or {}).get("category") or "")
        return sorted(set(self._categories) | ({current} if current else set()))

    def action_cycle(self, field: str, step: int) -> None:
        if self.record is None:
            return
        choices = self._choices(field)
        if not choices:
            self.notify(f"No {field} values to choose from.", severity="warning")
            return
        current = str(self.record.get(field) or "")
        lowered = [c.lower() for c in choices]
        index = lowered.index(current.lower()) + step if current.lower() in lowered else 0
        value = choices[index % len(choices)]
        # Show the choice at once; the write follows in a thread.
        self.record = {**self.record, field: value}
        self.query_one("#detail-fields", Static).update(self._fields_text(self.record))
        self._save(field, value)

    @work(thread=True, group="detail-save")
    def _save(self, field: str, value: str) -> None:
        try:
            updated = self.app.store.feedback_update([self.record_id], {field: value}, origin="tui")
        except CctuiError as exc:
            self.notify(str(exc), severity="error")  # notify is thread-safe
            return
        if updated:
            self.post_message(self.Saved(updated[0], field))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        record, field = message.record, message.field
        if self.record is None or self.record.get(field) == record.get(field):
            self.record = record
            self.query_one("#detail-fields", Static).update(self._fields_text(record))
        self.notify(f"{self.record_id}: {field} is now {record.get(field)}.", timeout=2)

    def action_close(self) -> None:
        self.dismiss()

    def action_scroll(self, direction: str) -> None:
        body = self.query_one("#detail-body", VerticalScroll)
        body.scroll_down() if direction == "down" else body.scroll_up()

    def action_record_log(self) -> None:
        """Every delivery attempt for this record (the log inspector, filtered)."""
        from cctui.tui.screens.logs import LogsScreen

        self.app.push_screen(LogsScreen(filter=f"record:{self.record_id}"))

    def on_screen_resume(self) -> None:
        self._load()  # a run or an edit elsewhere may have changed it

    def action_run_macro(self) -> None:
        from cctui.tui.screens.bulk import start_bulk

        start_bulk(self.app, [self.record_id], target="feedback")


def attempts_text(attempts: list[dict], empty: str = "No deliveries yet. Press m to run a macro on this record.") -> str:
    """The latest delivery attempts, one a line (the feedback and the user detail)."""
    if not attempts:
        return f"[$text-muted]{escape(empty)}[/]"
    lines = []
    for entry in attempts:
        ok = entry.get("ok")
        code = entry.get("status_code") or "—"
        colour = "$success" if ok else "$error"
        when = str(entry.get("started_at", ""))[:19].replace("T", " ")
        lines.append(
            f"{escape(when)}  {escape(str(entry.get('macro', '')))}  [{colour}]{code}[/]"
            + (f"  [$text-muted]{escape(str(entry.get('error')))}[/]" if entry.get("error") else "")
        )
    return "\n".join(lines)
