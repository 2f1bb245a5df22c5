"""Keys typed after Enter in the filter box (type-ahead): the record table holds them
until the filter's rows are on screen, then replays them on those rows, in order. They
are never applied to the rows from before: when the rows will not come (a bad filter, a
filter slower than :data:`TYPEAHEAD_LIMIT`, the table lost the focus) they are dropped
with a toast saying how many."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual import events
    from textual.screen import Screen
    from textual.timer import Timer

    from cctui.tui.widgets.record_table import RecordTable

#: Keys typed after Enter wait this long at most for the filter's rows.
TYPEAHEAD_LIMIT = 10.0


class HeldKeys:
    """The screen's side of the type-ahead (the table does the holding and replaying)."""

    def __init__(self, screen: Screen, table: Callable[[], RecordTable]) -> None:
        self._screen = screen
        self._table = table
        self._timer: Timer | None = None

    def hold(self) -> None:
        """Keys typed after Enter are meant for the filter's rows, which a worker has yet to
        compute: the table holds them until :meth:`replay`."""
        self._table().hold_keys()
        self._stop_timer()
        self._timer = self._screen.set_timer(
            TYPEAHEAD_LIMIT, lambda: self.drop(f"The filter took over {TYPEAHEAD_LIMIT:g} s."))

    def replay(self) -> None:
        """The filter's rows are on screen: apply the held keys to them."""
        if self._table().holding:
            self._stop_timer()
            self._screen.call_next(self._replay)

    def drop(self, why: str) -> None:
        """Forget the keys held since Enter (the rows they were meant for will not come)."""
        self._stop_timer()
        self._toast(self._table().release_keys(), why)

    async def _replay(self) -> None:
        self._toast(await self._table().replay_keys(), "The table lost the focus.")

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _toast(self, keys: list[events.Key], why: str) -> None:
        if keys:
            count = f"{len(keys)} keys typed after Enter were" if len(keys) > 1 else "key typed after Enter was"
            self._screen.notify(f"{why} The {count} not applied.", severity="warning")
