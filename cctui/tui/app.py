"""The Textual app: screens, global keys, themes and the user's keymap. Kept thin.

Data work lives in the screens (which ask the store from thread workers) and in the core;
this module wires them together and exposes what other screens need: ``store``,
``config``, ``schema``, ``dispatcher``, ``current_record_id`` and :meth:`open_record`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding

from cctui.config import Config
from cctui.core.records import Schema
from cctui.tui import commands
from cctui.tui.keys import binding_ids, check_keymap
from cctui.tui.screens.detail import DetailScreen
from cctui.tui.screens.dispatch import DispatchScreen
from cctui.tui.screens.feedback import FeedbackScreen
from cctui.tui.screens.help import HelpScreen
from cctui.tui.screens.logs import LogsScreen
from cctui.tui.screens.macros import MacrosScreen
from cctui.tui.themes import DEFAULT_THEME, builtin_themes, user_themes
from cctui.tui.widgets.record_table import RecordTable


class CctuiApp(App):
    """cctui's terminal UI over one store and one config."""

    TITLE = "cctui"
    #: ``(mode, label)`` for keys 1..4, in order.
    SCREENS_BY_KEY = (("feedback", "Feedback"), ("macros", "Macros"), ("dispatch", "Dispatch"), ("logs", "Logs"))
    MODES = {"macros": MacrosScreen, "dispatch": DispatchScreen, "logs": LogsScreen}
    DEFAULT_MODE = "feedback"

    BINDINGS = [
        Binding("1", "switch_mode('feedback')", "Feedback", id="screen-feedback"),
        Binding("2", "switch_mode('macros')", "Macros", id="screen-macros"),
        Binding("3", "switch_mode('dispatch')", "Dispatch", id="screen-dispatch"),
        Binding("4", "switch_mode('logs')", "Logs", id="screen-logs"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(self, store: Any, config: Config, *, theme: str | None = None,
                 data_dir: Path | str | None = None, schema: Schema | None = None) -> None:
        super().__init__()
        self.store = store
        """The :class:`cctui.store.Store`; screens call it from thread workers only."""
        self.config = config
        self.schema: Schema = schema or getattr(store, "schema", None) or Schema.from_config(config.records)
        self.data_dir = data_dir if data_dir is not None else getattr(store, "data_dir", None)
        self.current_record_id: str | None = None
        """The feedback record under the cursor (or open in the detail); None if none."""
        self._feedback_screen: FeedbackScreen | None = None
        self._requested_theme = theme
        self._startup_problems: list[str] = []
        self.add_mode("feedback", self._make_feedback_screen)
        self._register_themes()

    @property
    def COMMANDS(self):  # noqa: N802 - Textual reads this name when the palette opens
        return App.COMMANDS | set(commands.PROVIDERS)

    @cached_property
    def dispatcher(self):
        """The one :class:`~cctui.tui.dispatcher.Dispatcher`, created on first use."""
        from cctui.tui.dispatcher import Dispatcher

        return Dispatcher(self)

    def _make_feedback_screen(self) -> FeedbackScreen:
        self._feedback_screen = FeedbackScreen()
        return self._feedback_screen

    # -- start-up --------------------------------------------------------------------
    def on_mount(self) -> None:
        for problem in self._startup_problems:
            self.notify(problem, severity="error", timeout=10)
        self._apply_keymap()
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
        if self._requested_theme and self._requested_theme == wanted and self.config.theme != wanted:
            self.config.set("theme", wanted)

    def _apply_keymap(self) -> None:
        known = binding_ids([type(self), FeedbackScreen, DetailScreen, HelpScreen, RecordTable,
                             MacrosScreen, DispatchScreen, LogsScreen])
        keymap, problems = check_keymap(self.config.keymap, known)
        for problem in problems:
            self.notify(problem, severity="warning", timeout=10)
        if keymap:
            self.set_keymap(keymap)

    def _theme_changed(self, theme) -> None:
        if self.config.theme != theme.name:
            self.config.set("theme", theme.name)

    # -- actions and services for screens --------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def open_record(self, record_id: str) -> None:
        """Show the detail of feedback ``record_id`` (e.g. the log inspector's jump)."""
        if self.current_mode != "feedback":
            self.switch_mode("feedback")
        categories = self._feedback_screen.categories() if self._feedback_screen else []
        if isinstance(self.screen, DetailScreen):
            self.pop_screen()
        self.push_screen(DetailScreen(record_id, categories))

    def run_saved_filter(self, name: str) -> None:
        """Show the feedback table filtered by the saved filter ``name``."""
        if self.current_mode != "feedback":
            self.switch_mode("feedback")
        while isinstance(self.screen, DetailScreen):
            self.pop_screen()
        if self._feedback_screen is not None:
            self._feedback_screen.run_saved_filter(name)
