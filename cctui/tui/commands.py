"""Command palette (``ctrl+p``) providers: go to a screen, switch theme, run a saved filter.

Other areas add theirs with :func:`register_provider` (e.g. "run macro"); the app reads
:data:`PROVIDERS` each time the palette opens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from cctui.tui.app import CctuiApp

#: ``(title, help, callback)`` for one palette command.
Command = tuple[str, str, Callable[[], object]]


class CommandListProvider(Provider):
    """A provider over a plain list of commands; subclasses implement :meth:`commands`."""

    if TYPE_CHECKING:  # runs inside CctuiApp: typed access to its store, schema, dispatcher...
        @property
        def app(self) -> CctuiApp: ...

    def commands(self) -> Iterable[Command]:  # pragma: no cover - abstract
        raise NotImplementedError

    async def discover(self) -> Hits:
        for title, help_text, callback in self.commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


class ScreensProvider(CommandListProvider):
    """``Go to: Feedback`` ... ``Go to: Logs``."""

    def commands(self) -> Iterable[Command]:
        for key, (mode, label) in enumerate(self.app.SCREENS_BY_KEY, start=1):
            yield (f"Go to: {label}", f"Switch to the {label.lower()} screen (key {key})",
                   partial(self.app.switch_mode, mode))


class ThemesProvider(CommandListProvider):
    """``Theme: cctui-dusk`` for every registered theme; the choice is saved in the config."""

    def commands(self) -> Iterable[Command]:
        where = "remembered in the config file" if self.app.remember_theme else "for this demo only"
        for name in sorted(self.app.available_themes):
            yield (f"Theme: {name}", f"Switch theme ({where})",
                   partial(setattr, self.app, "theme", name))


class SavedFiltersProvider(CommandListProvider):
    """``Filter: <name>`` for every ``[filters]`` entry of the config."""

    def commands(self) -> Iterable[Command]:
        for name, query in self.app.config.saved_filters.items():
            yield (f"Filter: {name}", str(query), partial(self.app.run_saved_filter, name))


#: Providers the app offers besides Textual's own system commands.
PROVIDERS: list[type[Provider]] = [ScreensProvider, ThemesProvider, SavedFiltersProvider]


def register_provider(provider: type[Provider]) -> None:
    """Add a palette provider (idempotent): ``register_provider(RunMacroProvider)``."""
    if provider not in PROVIDERS:
        PROVIDERS.append(provider)
