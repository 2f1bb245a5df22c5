"""The Textual app: screens, global keys, themes and the user's keymap. Kept thin.

Data work lives in the screens (which ask the store from thread workers) and in the core;
this module wires them together and exposes what other screens need: ``store``,
``config``, ``schema``, ``dispatcher``, ``current_record_id`` and :meth:`open_record`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.signal import Signal
from textual.widgets import Static
from textual.worker import get_current_worker

from cctui.config import Config
from cctui.core.records import Schema
from cctui.store import Store
from cctui.store.events import ChangeEvent
from cctui.tui import commands
from cctui.tui.keys import LAZY_BINDING_IDS, binding_ids, check_keymap
from cctui.tui.screens.feedback import FeedbackScreen
from cctui.tui.terminal_safety import ControlCodeFilter
from cctui.tui.themes import DEFAULT_THEME, builtin_themes, user_themes
from cctui.tui.widgets.record_table import RecordTable

if TYPE_CHECKING:
    from textual.command import Provider
    from textual.filter import LineFilter
    from textual.screen import Screen
    from textual.theme import Theme

    from cctui.automation.triggers import Triggers
    from cctui.tui.dispatcher import Dispatcher

# Screens 2-4, the detail, help, bulk and macro-form screens and the macro palette
# providers load on first use: importing them (and the TextArea, DataTable, ... they
# use) before the first frame is cold-start time nobody needs. Their binding ids are in
# ``keys.LAZY_BINDING_IDS``, so ``[keymap]`` is still checked at start.

#: Seconds between two looks for due schedules while the app is open (cron's minute).
SCHEDULE_EVERY = 60.0
#: Seconds between two looks at the store for other processes' commits (two file stats).
STORE_LOOK_EVERY = 0.3
#: The screen and widget classes loaded at start whose bindings ``[keymap]`` may remap
#: (the others are in ``keys.LAZY_BINDING_IDS``).
KEYMAP_CLASSES = (FeedbackScreen, RecordTable)


def _lazy_screen(module: str, name: str) -> Callable[[], Screen]:
    """A ``MODES`` entry that imports ``module`` when the mode is first shown."""

    def make() -> Screen:
        from importlib import import_module

        return getattr(import_module(module), name)()

    make.__qualname__ = make.__name__ = name
    return make


class CctuiApp(App):
    """cctui's terminal UI over one store and one config."""

    TITLE = "cctui"
    #: ``(mode, label)`` for keys 1..4, in order.
    SCREENS_BY_KEY = (("feedback", "Feedback"), ("macros", "Macros"), ("dispatch", "Dispatch"), ("logs", "Logs"))
    MODES = {"macros": _lazy_screen("cctui.tui.screens.macros", "MacrosScreen"),
             "dispatch": _lazy_screen("cctui.tui.screens.dispatch", "DispatchScreen"),
             "logs": _lazy_screen("cctui.tui.screens.logs", "LogsScreen")}
    DEFAULT_MODE = "feedback"

    #: Only for 16-colour terminals (``TEXTUAL_COLOR_SYSTEM=standard``, many SSH sessions),
    #: where every colour is rounded to one of the 16 ANSI ones. A modal's 60% dimming
    #: rounded the screen behind it to one grey on the same grey (unreadable); Textual
    #: itself does not dim in ANSI themes, so neither do we here. An unchecked box's ``X``
    #: ($panel-darken-2 on $panel) rounded to its own background: it is muted text instead,
    #: and a checked box keeps its success colour.
    CSS = """
    .-sixteen-colours ModalScreen { background: transparent; }
    .-sixteen-colours ToggleButton {
        & > .toggle--button { color: $text-muted; }
        &.-on > .toggle--button { color: $text-success; }
        &:ansi > .toggle--button { color: $ansi-foreground; }
        &:ansi.-on > .toggle--button { color: $accent; }
    }
    """

    BINDINGS = [
        Binding("1", "show_screen('feedback')", "Feedback", id="screen-feedback"),
        Binding("2", "show_screen('macros')", "Macros", id="screen-macros"),
        Binding("3", "show_screen('dispatch')", "Dispatch", id="screen-dispatch"),
        Binding("4", "show_screen('logs')", "Logs", id="screen-logs"),
        Binding("question_mark,f1", "help", "Help", id="help"),  # f1 also works while typing
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    class StoreChanged(Message):
        """The store's data is at ``revision`` (posted from the store's threads)."""

        def __init__(self, revision: int) -> None:
            super().__init__()
            self.revision = revision

    def __init__(self, store: Store, config: Config, *, theme: str | None = None,
                 data_dir: Path | str | None = None, schema: Schema | None = None,
                 triggers: Triggers | None = None, remember_theme: bool = True) -> None:
        """``triggers`` is the store's :class:`cctui.automation.Triggers` subscriber, if
        any: while the app runs, its runs go through :attr:`dispatcher` (screen 3).
        ``remember_theme=False`` (the demo) never writes the theme to the config file."""
        super().__init__()
        self.store = store
        self.triggers = triggers
        self._outer_runner: Any = None
        self._schedule_runner: Any = None
        """The :class:`cctui.store.Store`; screens call it from thread workers only."""
        self.config = config
        self.schema: Schema = schema or store.schema
        self.data_dir = data_dir if data_dir is not None else store.data_dir
        self.current_record_id: str | None = None
        """The feedback record under the cursor (or open in the detail); None if none."""
        self._feedback_screen: FeedbackScreen | None = None
        self._requested_theme = theme
        self.remember_theme = remember_theme
        """False in the demo: a theme switch is not written to the config file."""
        self._startup_problems: list[str] = []
        self.store_changed: Signal[int] = Signal(self, "store-changed")
        """Published with the new revision whenever the store's data changed, in this
        process or another: the one source of store-change news for every screen."""
        self._published_revision: int | None = None
        self._unsubscribe_store: Callable[[], None] | None = None
        self._control_codes = ControlCodeFilter()
        self.add_mode("feedback", self._make_feedback_screen)
        self._register_themes()
        if self.console.color_system in ("standard", "windows"):
            self.add_class("-sixteen-colours")  # see CSS above

    # Textual declares COMMANDS a class attribute but reads it from the instance when the
    # palette opens: a property lets the macro commands load on first use.
    @property
    def COMMANDS(self) -> set[type[Provider] | Callable[[], type[Provider]]]:  # type: ignore[override]  # noqa: N802
        from cctui.tui import commands_macros  # noqa: F401  (registers the macro and retry commands)

        return App.COMMANDS | set(commands.PROVIDERS)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        """The one :class:`~cctui.tui.dispatcher.Dispatcher`, created on first use."""
        from cctui.tui.dispatcher import Dispatcher

        return Dispatcher(self)

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then one that drops control characters: record text
        (``ESC [2J``, a window-title escape, a tab) must never reach the terminal as
        commands, on any screen (see :mod:`cctui.tui.terminal_safety`)."""
        return [*super().get_line_filters(), self._control_codes]

    def _make_feedback_screen(self) -> FeedbackScreen:
        self._feedback_screen = FeedbackScreen()
        return self._feedback_screen

    # -- start-up --------------------------------------------------------------------
    def on_mount(self) -> None:
        for problem in self._startup_problems:
            self.notify(problem, severity="error", timeout=10)
        self._apply_keymap()
        self._watch_store()
        self._start_automation()
        self._exit_on_hang_up()
        # Persist after the initial choice so that only real changes are written.
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _register_themes(self) -> None:
        for theme in builtin_themes():
            self.register_theme(theme)
        themes, errors = user_themes(self.config.themes_dir)
        for theme in themes:
            self.register_theme(theme)
        self._startup_problems.extend(errors)
        wanted = self._requested_theme or self.config.theme or DEFAULT_THEME
        if wanted not in self.available_themes:
            self._startup_problems.append(f"Unknown theme {wanted!r}; using {DEFAULT_THEME} (ctrl+p lists themes).")
            wanted = DEFAULT_THEME
        self.theme = wanted
        if self.remember_theme and self._requested_theme and self._requested_theme == wanted \
                and self.config.theme != wanted:
            self.config.set("theme", wanted)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """``$mark-background`` and ``$table-muted`` for the record table, derived from
        the current theme (a theme file may set them in ``[variables]``)."""
        from cctui.tui.themes import mark_background, table_muted

        theme = self.current_theme
        return {**super().get_theme_variable_defaults(), "mark-background": mark_background(theme),
                "table-muted": table_muted(theme)}

    def _apply_keymap(self) -> None:
        known = set(binding_ids([type(self), *KEYMAP_CLASSES]))
        known.update(*LAZY_BINDING_IDS.values())
        keymap, problems = check_keymap(self.config.keymap, known)
        for problem in problems:
            self.notify(problem, severity="warning", timeout=10)
        if keymap:
            self.set_keymap(keymap)

    # -- store changes: one watcher, one signal ----------------------------------------
    def _watch_store(self) -> None:
        # This process's commits are heard at once (the subscriber runs on the writer's
        # thread: post_message is the thread-safe hop); other processes' are found by a
        # look at the files a few times a second, in a thread (it takes the store's mutex).
        def heard(event: ChangeEvent) -> None:
            self.post_message(self.StoreChanged(event.revision))

        self._unsubscribe_store = self.store.subscribe(heard)
        self.set_interval(STORE_LOOK_EVERY, self._look_at_store, name="store-look")
        self.store_changed.subscribe(self, lambda revision: self.dispatcher.refresh_stored())
        self.dispatcher.refresh_stored()

    @work(thread=True, exclusive=True, group="store-look", exit_on_error=False)
    def _look_at_store(self) -> None:
        revision = self.store.revision
        if not get_current_worker().is_cancelled:
            self.post_message(self.StoreChanged(revision))

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        # Screens compare it with the revision they loaded, so the first look (which
        # only repeats what they read at start) costs them nothing.
        if self._published_revision is None or message.revision > self._published_revision:
            self._published_revision = message.revision
            self.store_changed.publish(message.revision)

    # -- automation: triggered and scheduled runs show on screen 3 ---------------------
    def _exit_on_hang_up(self) -> None:
        """A closed terminal (SIGHUP) or a polite kill (SIGTERM) quits like ctrl+q, so a
        run in progress is left recorded and resumable (see on_unmount) instead of killed
        mid-request, and whoever started the app gets to clean up (the demo's temp dir)."""
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(sig, self.exit)
        except (NotImplementedError, RuntimeError, AttributeError):  # Windows, not the main thread
            pass

    def _start_automation(self) -> None:
        self._schedule_runner = self.dispatcher.runner()  # made here: it binds this loop
        if self.triggers is not None:
            self._outer_runner = self.triggers.runner
            self.triggers.runner = self.dispatcher.runner()
        self.set_interval(SCHEDULE_EVERY, self.run_due_schedules, name="run-due")
        self.set_timer(1.0, self.run_due_schedules)  # what came due while cctui was closed

    async def on_unmount(self) -> None:
        if self._unsubscribe_store is not None:
            self._unsubscribe_store()
        if self.triggers is not None and self._outer_runner is not None:
            self.triggers.runner = self._outer_runner  # the app's loop is going away
        await self.dispatcher.shutdown()  # runs stop recorded and resumable, not cut off

    @work(thread=True, exclusive=True, group="run-due", exit_on_error=False)
    def run_due_schedules(self) -> list:
        """Start every schedule that is due now (``CCTUI_NOW`` honoured), like ``cctui run-due``,
        and send the scheduled retries that are due.

        Runs in a thread (claiming a period or a retry takes the store's lock and fsyncs);
        the runs themselves start on the app's loop through the dispatcher.
        """
        from cctui.automation.schedules import run_due
        from cctui.delivery.scheduled import claim

        def warn(message: str) -> None:
            self.notify(message, severity="warning", timeout=8)  # notify is thread-safe

        started = run_due(self.store, self._schedule_runner, schema=self.schema, warn=warn)
        claimed = claim(self.store)
        if claimed:
            self.call_from_thread(self.dispatcher.send_scheduled, claimed)
        return started

    def _theme_changed(self, theme: Theme) -> None:
        if self.remember_theme and self.config.theme != theme.name:
            self.config.set("theme", theme.name)

    # -- actions and services for screens --------------------------------------------
    #: What ctrl+q asks while a run is sending (quitting stops it; `cctui retry` finishes it).
    QUIT_QUESTION = "A run is sending: quit and finish it later with `cctui retry`?"

    async def action_quit(self) -> None:
        """Quit; while a run of this session is sending, ask first (ctrl+q again: quit)."""
        from cctui.tui.screens.confirm import ConfirmScreen

        sending = self.dispatcher.sending if "dispatcher" in self.__dict__ else []
        asking = isinstance(self.screen, ConfirmScreen) and self.screen.question == self.QUIT_QUESTION
        if not sending or asking:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        names = ", ".join(sorted({run.macro for run in sending}))
        self.push_screen(ConfirmScreen(self.QUIT_QUESTION, details=[Static(
            f"Sending: {names}. Records not yet delivered stay queued; nothing is sent twice.",
            markup=False)], yes="Quit", no="Stay"), answered)

    def action_show_screen(self, mode: str) -> None:
        """Keys 1-4: the base screen of ``mode``, whatever was pushed on top of it.

        A log opened from a record, a macro or a run is pushed on the current mode's
        stack; switching to the mode it is already in would do nothing, so those screens
        are popped. An unsaved macro form is not thrown away: it asks first.
        """
        if mode != self.current_mode:
            self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            top = self.screen
            if getattr(top, "dirty", False) and hasattr(top, "action_leave"):
                top.action_leave()  # "Leave without saving?"; the next key press goes on
                return
            self.pop_screen()

    def action_help(self) -> None:
        from cctui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    @property
    def marked_ids(self) -> list[str]:
        """What ``m`` acts on: the feedback screen's marked ids, else the current record."""
        screen = self._feedback_screen
        if screen is not None and screen.marked_ids:
            return sorted(screen.marked_ids)
        current = self.current_record_id
        if current is None and screen is not None and screen.is_mounted and screen.section.target == "feedback":
            current = screen.table.current_id  # the cursor has not moved yet
        return [current] if current else []

    def open_record(self, record_id: str) -> None:
        """Show the detail of feedback ``record_id`` (e.g. the log inspector's jump)."""
        from cctui.tui.screens.detail import DetailScreen

        if self.current_mode != "feedback":
            self.switch_mode("feedback")
        categories = self._feedback_screen.categories() if self._feedback_screen else []
        if isinstance(self.screen, DetailScreen):
            self.pop_screen()
        self.push_screen(DetailScreen(record_id, categories))

    def run_saved_filter(self, name: str) -> None:
        """Show the feedback table filtered by the saved filter ``name``."""
        from cctui.tui.screens.detail import DetailScreen

        if self.current_mode != "feedback":
            self.switch_mode("feedback")
        while isinstance(self.screen, DetailScreen):
            self.pop_screen()
        if self._feedback_screen is not None:
            self._feedback_screen.run_saved_filter(name)
