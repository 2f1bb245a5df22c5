"""Bookkeeping that waits until the requests of this loop turn are on the wire.

Answers to a bulk run come in waves: the N workers' answers arrive in the same loop turn,
and each worker then logs its delivery and starts its next request. aiohttp writes a
request in a task of its own, so a request started in this turn goes out in the next one,
*after every worker of the wave has run*: whatever a worker does before starting its next
request delays all N requests of the wave. With a 20 ms receiver that bookkeeping (the log
entry, the counts, record changes) cost a tenth of the send rate
(``benchmarks/dispatch.py``).

:class:`AfterWrites` takes that work out of the way: a delivered attempt's bookkeeping is
queued and runs two loop turns later (aiohttp's writer tasks, created during this turn,
run in the next one), all of it in one batch. Nothing is lost or reordered: the work of
one record runs in the order it was queued, ``flush()`` runs what is left when a worker
or the run ends (also when it is cancelled), and an error is kept and raised in the worker
by :meth:`check`, as if it had happened there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class AfterWrites:
    """A queue of callables run two loop turns after the first was queued."""

    def __init__(self) -> None:
        self._pending: list[Callable[[], object]] = []
        self._armed = False
        self.error: BaseException | None = None

    def defer(self, fn: Callable[[], object]) -> None:
        self._pending.append(fn)
        if not self._armed:
            self._armed = True
            loop = asyncio.get_running_loop()
            # The first hop runs in the next turn, among (before or after) the writer
            # tasks this turn created; the second lands after all of them.
            loop.call_soon(loop.call_soon, self.flush)

    def flush(self) -> None:
        """Run everything queued, now (the armed callback calls it too: harmless)."""
        self._armed = False
        while self._pending:
            pending, self._pending = self._pending, []
            for index, fn in enumerate(pending):
                try:
                    fn()
                except BaseException as exc:  # raised in a worker by check()
                    if self.error is None:
                        self.error = exc
                    if not isinstance(exc, Exception):
                        self._pending[:0] = pending[index + 1:]
                        raise

    def check(self) -> None:
        """Raise the first error a deferred call raised (once)."""
        error, self.error = self.error, None
        if error is not None:
            raise error
