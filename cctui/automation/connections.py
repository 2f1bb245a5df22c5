"""The listener's connections under abuse: read timeouts, a connection cap, quiet failures.

aiohttp's server has no timeout for a client that sends its request headers one byte at a
time, and no cap on open connections, so a few hundred slow clients would hold the
listener's file descriptors for ever. aiohttp still does all of the HTTP: this module only
wraps the protocol aiohttp makes for each connection (``runner.server`` is its public
factory) to

* close a connection whose request headers are not complete ``header_timeout`` seconds
  after it opened (or after its previous response, for keep-alive);
* answer ``503`` and close at once past ``max_connections`` open connections;
* turn the errors a flood causes (``accept()`` failing with EMFILE, handler errors) into
  at most one line per minute per kind instead of a traceback per event.

The body read timeout lives with the handlers (:mod:`cctui.automation.listener`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 512
#: Seconds between two reports of the same kind of trouble.
QUIET_PERIOD = 60.0
# Written before aiohttp sees the connection (it never does): a fixed answer, not a parser.
_BUSY_BODY = b'{"error": "too many open connections; retry shortly."}'
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
         % (len(_BUSY_BODY), _BUSY_BODY))


@dataclass(frozen=True)
class Limits:
    """How long a client may take and how many may be connected at once."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS


class Throttle:
    """Say each kind of trouble at most once per ``period`` seconds, with a count of the
    repeats it kept quiet about."""

    def __init__(self, say: Callable[[str], None], period: float = QUIET_PERIOD) -> None:
        self.say = say
        self.period = period
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def __call__(self, kind: str, line: str) -> None:
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.period:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1
            return
        repeats = self._quiet.pop(kind, 0)
        self._last[kind] = now
        self.say(line + (f" ({repeats:,} more like it since the last report)" if repeats else ""))


class ConnectionGuard:
    """Counts the open connections and runs each one's header timer."""

    def __init__(self, limits: Limits, report: Throttle | None = None) -> None:
        self.limits = limits
        self.report = report or Throttle(lambda line: print(line, file=sys.stderr, flush=True))
        self.open = 0
        self.refused = 0
        self.timed_out = 0
        self._by_transport: dict[Any, _Guarded] = {}

    def protocol_factory(self, make: Callable[[], Any]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(make(), self)

    # called by the request middleware
    def request_started(self, transport: Any) -> None:
        guarded = self._by_transport.get(transport)
        if guarded is not None:
            guarded.busy(True)

    def request_finished(self, transport: Any) -> None:
        guarded = self._by_transport.get(transport)
        if guarded is not None:
            guarded.busy(False)


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, plus the cap and the header timer."""

    def __init__(self, inner: Any, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.transport: Any = None
        self.refused = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        guard = self.guard
        if guard.open >= guard.limits.max_connections:
            self.refused = True
            guard.refused += 1
            guard.report("connections", f"cctui listen: {guard.open} connections are open (the most "
                         f"allowed, [listener] max_connections); new ones get 503.")
            transport.write(_BUSY)
            transport.close()
            return
        guard.open += 1
        guard._by_transport[transport] = self
        self._arm()
        self.inner.connection_made(transport)

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.guard.limits.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        """The request headers did not arrive in time: drop the connection."""
        self._timer = None
        self.guard.timed_out += 1
        self.transport.close()

    def busy(self, handling: bool) -> None:
        if handling:
            self._disarm()
        elif not self.transport.is_closing():
            self._arm()  # keep-alive: the next request's headers get their own deadline

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self.refused else self.inner.eof_received()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.refused:
            return
        self._disarm()
        self.guard.open -= 1
        self.guard._by_transport.pop(self.transport, None)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if not self.refused:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if not self.refused:
            self.inner.resume_writing()


# -- quiet failures -------------------------------------------------------------------------

def _describe(exc: BaseException | None, message: str) -> tuple[str, str]:
    """(kind, one line) for an error the loop or aiohttp would print with a traceback."""
    if isinstance(exc, OSError) and exc.errno is not None:
        import errno

        if exc.errno in (errno.EMFILE, errno.ENFILE):
            return "fds", ("cctui listen: out of file descriptors (raise `ulimit -n` or lower "
                           "[listener] max_connections); new connections wait.")
        return f"os-{exc.errno}", f"cctui listen: {message}: {exc.strerror or exc}."
    if exc is not None:
        return f"exc-{type(exc).__name__}", f"cctui listen: {message}: {type(exc).__name__}: {exc}."
    return f"msg-{message}", f"cctui listen: {message}."


def quiet_loop_errors(loop: asyncio.AbstractEventLoop, report: Throttle) -> None:
    """Loop errors (``accept()`` out of descriptors...) as throttled one-liners."""

    def handle(_loop: asyncio.AbstractEventLoop, context: dict) -> None:
        kind, line = _describe(context.get("exception"), str(context.get("message") or "error"))
        report(kind, line)

    loop.set_exception_handler(handle)


class _QuietFilter(logging.Filter):
    """aiohttp's "Error handling request" tracebacks as throttled one-liners."""

    def __init__(self, report: Throttle) -> None:
        super().__init__()
        self.report = report

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            exc = record.exc_info[1] if record.exc_info else None
            kind, line = _describe(exc, record.getMessage())
            self.report(kind, line)
        return False


def quiet_aiohttp_logs(report: Throttle) -> Callable[[], None]:
    """Route aiohttp's server and asyncio's loggers through ``report``; returns an undo."""
    loggers = [logging.getLogger(name) for name in ("aiohttp.server", "aiohttp.web", "asyncio")]
    quiet = _QuietFilter(report)
    for logger in loggers:
        logger.addFilter(quiet)

    def undo() -> None:
        for logger in loggers:
            logger.removeFilter(quiet)

    return undo


async def start(app: web.Application, guard: ConnectionGuard, host: str, port: int,
                ) -> tuple[web.AppRunner, asyncio.AbstractServer]:
    """Serve ``app`` on host:port behind ``guard``; returns the runner and the server."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    assert runner.server is not None  # setup() made it
    loop = asyncio.get_running_loop()
    make = runner.server
    assert make is not None  # set by setup()
    server = await loop.create_server(guard.protocol_factory(make), host, port, backlog=512)
    return runner, server


def run(app: web.Application, guard: ConnectionGuard, host: str, port: int,
        on_ready: Callable[[], None] | None = None) -> None:
    """``cctui listen``'s loop: serve until SIGINT or SIGTERM, quietly under a flood."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        quiet_loop_errors(loop, guard.report)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
                pass
        runner, server = await start(app, guard, host, port)
        if on_ready is not None:
            on_ready()
        try:
            await stop.wait()
        finally:
            server.close()
            await runner.cleanup()

    undo = quiet_aiohttp_logs(guard.report)
    try:
        asyncio.run(main())
    finally:
        undo()
