"""Command palette providers for the workflow screens: run, open, retry, go to a log.

Registered with the shell's palette on import (``commands.register_provider``); the app
imports this module when the palette first asks for its commands (not at start: a cold
start does not pay for it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from cctui.tui.commands import Command, CommandListProvider, register_provider

if TYPE_CHECKING:
    from cctui.tui.app import CctuiApp


class MacroCommandsProvider(CommandListProvider):
    """``Run macro: NAME`` on the marked records, ``Edit macro: NAME``, ``Log of macro: NAME``."""

    _macros: dict[str, dict] = {}

    async def startup(self) -> None:
        # Read once when the palette opens, in a thread (never a store read on the loop).
        macros = await asyncio.to_thread(self.app.store.macros_all)
        self._macros = {m["name"]: m for m in sorted(macros, key=lambda m: m["name"])}

    def commands(self) -> Iterable[Command]:
        for macro in self._macros.values():
            name = macro["name"]
            yield (f"Run macro: {name}", "Run it on the marked records (or the current one), after a confirmation",
                   partial(self._run, name))
            yield (f"Edit macro: {name}", "Open the macro form", partial(self._edit, name))
            yield (f"Log of macro: {name}", "Every attempt of this macro", partial(_show_log, self.app, f"macro:{name}"))

    def _run(self, name: str) -> None:
        from cctui.tui.screens.bulk import confirm_and_start

        confirm_and_start(self.app, name, self.app.marked_ids)

    def _edit(self, name: str) -> None:
        from cctui.tui.screens.macro_form import MacroFormScreen

        macro = self._macros.get(name)
        if macro is not None:
            self.app.switch_mode("macros")
            self.app.push_screen(MacroFormScreen(macro))


class RetryCommandsProvider(CommandListProvider):
    """``Retry all failed deliveries`` and ``Log: failed attempts``."""

    def commands(self) -> Iterable[Command]:
        yield ("Retry all failed deliveries", "Send again every delivery whose last attempt failed",
               self._retry)
        yield ("Log: failed attempts", "The log inspector showing failures only",
               partial(_show_log, self.app, "failed"))

    def _retry(self) -> None:
        self.app.dispatcher.retry()
        self.app.switch_mode("dispatch")


register_provider(MacroCommandsProvider)
register_provider(RetryCommandsProvider)


def _show_log(app: CctuiApp, query: str) -> None:
    """The log inspector over ``query`` (e.g. ``macro:NAME``, ``failed``)."""
    from cctui.tui.screens.logs import LogsScreen

    app.push_screen(LogsScreen(filter=query))
