"""One user (tester), read-only: every field and the latest deliveries of user macros.

Users come from imports and the seed; nothing in the TUI edits them. ``enter`` on the
Users table opens this screen (before, the footer offered "⏎ Open" and Enter only said
that users had no detail view). ``m`` runs a user macro on this user, ``l`` opens the
delivery log of this user.
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

from cctui.core.records import USER_FIELDS
from cctui.tui.clip import clip
from cctui.tui.screens.detail import RECENT_ATTEMPTS, attempts_text
from cctui.tui.widgets.app_header import AppHeader
from cctui.tui.widgets.key_hints import KeyHints

if TYPE_CHECKING:
    from textual import getters

    from cctui.tui.app import CctuiApp


class UserDetailScreen(Screen):
    """The user ``user_id``; ``escape`` goes back to the table."""

    if TYPE_CHECKING:
        app = getters.app(CctuiApp)

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="user-close"),
        Binding("m", "run_macro", "Macro", id="user-run-macro"),
        Binding("l", "record_log", "Log", id="user-log"),
        Binding("down,j", "scroll('down')", "Scroll down", show=False, id="user-scroll-down"),
        Binding("up,k", "scroll('up')", "Scroll up", show=False, id="user-scroll-up"),
    ]

    DEFAULT_CSS = """
    UserDetailScreen #user-body { padding: 0 1; height: 1fr; }
    UserDetailScreen #user-title { text-style: bold; color: $text; margin: 1 0; }
    UserDetailScreen .detail-heading { color: $accent; text-style: bold; margin-top: 1; }
    UserDetailScreen #user-fields { height: auto; }
    """

    class Loaded(Message):
        """The user and its latest attempts as stored at ``revision`` (from a worker)."""

        def __init__(self, revision: int, user: dict | None, attempts: list[dict]) -> None:
            super().__init__()
            self.revision, self.user, self.attempts = revision, user, attempts

    def __init__(self, user_id: str) -> None:
        super().__init__()
        self.user_id = user_id
        self.user: dict | None = None
        self._revision = -1

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        with VerticalScroll(id="user-body"):
            yield Static(self.user_id, id="user-title", markup=False)
            yield Static("Loading…", id="user-fields")
            yield Static("Deliveries  [$text-muted](l: the full log of this user)[/]", classes="detail-heading")
            yield Static("", id="user-deliveries")
        yield KeyHints()

    def on_mount(self) -> None:
        header = self.query_one(AppHeader)
        header.screen_title = f"Users › {self.user_id}"
        header.data_dir = str(self.app.data_dir or "")
        self.query_one("#user-body").focus()
        self._load()
        self.app.store_changed.subscribe(self, self._store_changed)

    def _store_changed(self, revision: int) -> None:
        if revision > self._revision:
            self._load()

    def on_screen_resume(self) -> None:
        self._load()  # a run may have delivered to this user meanwhile

    @work(thread=True, exclusive=True, group="user-load")
    def _load(self) -> None:
        store = self.app.store
        revision = store.revision
        user = store.user_get(self.user_id)
        attempts = list(islice(store.log_iter(record_id=self.user_id), RECENT_ATTEMPTS))
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(revision, user, attempts))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._revision = message.revision
        self.user = user = message.user
        if user is None:
            self.query_one("#user-fields", Static).update(f"[$error]{escape(self.user_id)} does not exist (deleted?).[/]")
            return
        name = clip(str(user.get("name", "")))
        self.query_one("#user-title", Static).update(f"{user.get('id', self.user_id)}  {name}")
        names = [*USER_FIELDS[1:], *sorted(k for k in user if k not in USER_FIELDS)]
        width = max(len(n) for n in names)
        self.query_one("#user-fields", Static).update("\n".join(
            f"[$text-muted]{n.ljust(width)}[/]  {escape(clip(str(user.get(n) or '')))}" for n in names))
        self.query_one("#user-deliveries", Static).update(
            attempts_text(message.attempts, "No deliveries yet. Press m to run a user macro on this user."))

    def action_close(self) -> None:
        self.dismiss()

    def action_scroll(self, direction: str) -> None:
        body = self.query_one("#user-body", VerticalScroll)
        body.scroll_down() if direction == "down" else body.scroll_up()

    def action_record_log(self) -> None:
        from cctui.tui.screens.logs import LogsScreen

        self.app.push_screen(LogsScreen(filter=f"record:{self.user_id}"))

    def action_run_macro(self) -> None:
        from cctui.tui.screens.bulk import start_bulk

        start_bulk(self.app, [self.user_id], target="users")
