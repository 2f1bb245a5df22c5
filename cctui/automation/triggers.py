"""Triggers: run a macro when records are submitted or modified and match its filter.

``attach(store, runner)`` subscribes to the store's change events. For each event it asks
every macro with a ``[trigger]`` whether the event's kind is in ``on`` and which changed
records match its ``filter`` *after* the change, then calls ``runner`` ONCE per macro
with all those ids: a 10,000-row import (one store event) is one run per macro.

*Modify* fires for a record that matches the filter now and whose change touched a
field the filter looks at (``severity:critical`` watches ``severity``; a bare word
watches ``title`` and ``description``; an empty filter watches every field except
``modified``). So moving a record *into* the filter fires, while setting ``jira_key`` or
a listener's status update on an already-critical record does not re-send it.

Loops: a change written by macro M (``ChangeEvent.by_macro``) never triggers M again,
and triggered runs form chains (A's ``on_success`` triggers B, B's triggers C): a macro
already in the chain is not fired again (no A -> B -> A ping-pong) and chains stop at
``max_depth`` macros.

Runners: ``runner(macro_name, record_ids, trigger)``. The CLI uses
:class:`QueuedRunner` (runs queue up and execute with the engine before the command
exits); ``cctui listen`` uses :class:`LoopRunner` (runs are tasks on its asyncio loop;
the store callback, which may run on a store thread, returns at once); the TUI gets a
:class:`ThreadRunner` (its own loop on a daemon thread) unless it swaps in a
``LoopRunner`` on the app's loop to show triggered runs in the dispatch panel.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cctui.errors import CctuiError

if TYPE_CHECKING:
    from cctui.delivery.engine import Engine
    from cctui.store import Store

Runner = Callable[[str, list[str], str], Any]
EVENT_KINDS = ("submit", "modify")
#: Fields whose change alone is not a modification worth firing on.
_BOOKKEEPING = frozenset({"modified"})


def _macro_dict(macro: Any) -> Mapping[str, Any]:
    return macro.to_dict() if hasattr(macro, "to_dict") else macro


def trigger_kinds(macro: Any) -> tuple[str, ...]:
    """The event kinds (``submit``, ``modify``) a macro's trigger listens to."""
    table = _macro_dict(macro).get("trigger") or {}
    on = table.get("on") or ()
    if isinstance(on, str):
        on = [on]
    return tuple(kind for kind in (str(k).strip().lower() for k in on) if kind in EVENT_KINDS)


def describe_trigger(macro: Any) -> str:
    """One line for screens: ``on submit, modify where severity:critical`` ("" if none)."""
    kinds = trigger_kinds(macro)
    if not kinds:
        return ""
    query = str((_macro_dict(macro).get("trigger") or {}).get("filter") or "").strip()
    return f"on {', '.join(kinds)}" + (f" where {query}" if query else "")


def _is_paused(macro: Mapping[str, Any]) -> bool:
    return bool(macro.get("paused")) or macro.get("enabled") is False


def _changed_for_real(changed: Iterable[str] | None) -> bool:
    return bool(set(changed or ()) - _BOOKKEEPING)


def watched_fields(query: Any) -> frozenset[str] | None:
    """The fields a compiled filter reads (None: an empty filter, which watches all)."""
    terms = getattr(query, "terms", ())
    if not terms:
        return None
    fields = {term.field for term in terms if term.field}
    if any(term.field is None for term in terms):
        fields |= {"title", "description"}  # a bare word searches these
    return frozenset(fields)


def matching_ids(macro: Any, event: Any, schema: Any = None) -> list[str]:
    """The ids in ``event`` that should fire ``macro``'s trigger (empty: do not fire)."""
    from cctui.core.query import compile_query

    data = _macro_dict(macro)
    target = getattr(event, "target", "feedback")
    if event.kind not in trigger_kinds(data) or (data.get("target") or "feedback") != target:
        return []
    query = compile_query(str((data.get("trigger") or {}).get("filter") or ""), schema)
    wanted = data.get("feedback_type")
    if wanted and schema is not None:
        wanted = schema.type_named(str(wanted)).name
    changed = list(event.changed or [])
    watched = watched_fields(query)
    ids = []
    for index, record in enumerate(event.records):
        if record is None or (wanted and record.get("type") != wanted):
            continue
        if event.kind == "modify":
            fields = changed[index] if index < len(changed) else None
            if not _changed_for_real(fields):
                continue
            if watched is not None and not watched & set(fields or ()):
                continue  # the change did not touch what the filter looks at
        if query(record):
            ids.append(str(record["id"]))
    return ids


@dataclass
class Triggers:
    """The store subscriber that turns change events into runs (see the module doc)."""

    store: Store
    runner: Runner
    schema: Any = None
    max_depth: int = 3
    warn: Callable[[str], None] | None = None
    #: macro name -> the chain of macros whose runs led to its latest triggered run
    _chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Any) -> None:
        for name, ids in self.plan(event):
            try:
                self.runner(name, ids, event.kind)
            except CctuiError as exc:  # one macro's failure must not undo the change
                self._warn(f"trigger of macro {name} failed to start: {exc}")

    def plan(self, event: Any) -> list[tuple[str, list[str]]]:
        """Which macros to run for ``event`` and over which ids (also records chains)."""
        if event.kind not in EVENT_KINDS or not event.records:
            return []
        with self._lock:
            chain = self._chains.get(event.by_macro, (event.by_macro,)) if event.by_macro else ()
        runs: list[tuple[str, list[str]]] = []
        for macro in self.store.macros_all():
            name = str(macro.get("name"))
            if not macro.get("trigger") or _is_paused(macro):
                continue
            if name in chain:
                continue  # its own update, or a ping-pong back to an earlier macro
            if len(chain) >= self.max_depth:
                self._warn(
                    f"trigger of macro {name} skipped: chain {' -> '.join(chain)} "
                    f"reached the limit of {self.max_depth} macros."
                )
                continue
            try:
                ids = matching_ids(macro, event, self.schema)
            except CctuiError as exc:
                self._warn(f"trigger of macro {name} skipped: {exc}")
                continue
            if ids:
                runs.append((name, ids))
                with self._lock:
                    self._chains[name] = (*chain, name)
        return runs

    def _warn(self, message: str) -> None:
        if self.warn is not None:
            self.warn(message)


def attach(store: Store, runner: Runner, *, schema: Any = None, max_depth: int = 3,
           warn: Callable[[str], None] | None = None) -> Triggers:
    """Subscribe triggers to ``store``'s change events; returns the subscriber."""
    triggers = Triggers(
        store, runner, schema=schema if schema is not None else getattr(store, "schema", None),
        max_depth=max_depth, warn=warn,
    )
    store.subscribe(triggers)
    return triggers


class QueuedRunner:
    """A runner that queues runs and executes them with the engine in ``drain()``.

    Store callbacks fire in the middle of a write (and, for ``on_success`` updates, in
    the middle of an engine run), so starting a run there would nest event loops. The
    CLI queues instead and drains before the command exits; runs started while draining
    (chains) join the same queue. ``summaries`` keeps every run's result, in order.
    """

    def __init__(self, engine_factory: Callable[[], Any], *, listener: Any = None) -> None:
        self._engine_factory = engine_factory
        self._listener = listener
        self._queue: deque[tuple[str, list[str], str]] = deque()
        self._lock = threading.Lock()
        self.summaries: list[tuple[str, str, Any]] = []
        self.stopped = False  # Ctrl-C, SIGTERM or SIGHUP came while draining

    def __call__(self, macro_name: str, record_ids: list[str], trigger: str) -> None:
        with self._lock:
            self._queue.append((macro_name, list(record_ids), trigger))

    @property
    def pending(self) -> int:
        return len(self._queue)

    def drain(self) -> list[tuple[str, str, Any]]:
        """Run everything queued (and whatever those runs queue); returns new summaries."""
        if not self._queue:
            return []
        before = len(self.summaries)
        asyncio.run(self._drain())
        return self.summaries[before:]

    async def _drain(self) -> None:
        engine = self._engine_factory()
        self._stop_on_signals(engine)
        while True:
            with self._lock:
                if not self._queue:
                    return
                name, ids, trigger = self._queue.popleft()
            try:
                summary: Any = await engine.run(name, ids, trigger=trigger, listener=self._listener)
            except CctuiError as exc:  # e.g. the macro was removed or its ${VAR} is unset
                summary = exc
            self.summaries.append((name, trigger, summary))

    def _stop_on_signals(self, engine: Any) -> None:
        """As `cctui send`: a stop (systemd's SIGTERM, SIGHUP, Ctrl-C) lets the requests on
        the wire finish and be logged; each run still queued is saved with its records
        not sent, for `cctui retry` (a period claimed by `run-due` is not lost). Without
        this, a stop was a kill -9 and the requests on the wire went out again later."""
        import signal

        def stop() -> None:
            self.stopped = True
            engine.stop()

        loop = asyncio.get_running_loop()
        try:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, stop)
        except (NotImplementedError, RuntimeError, AttributeError, ValueError):  # not the main thread
            pass


class LoopRunner:
    """A runner that starts each run as a task on ``loop`` (the TUI's or the listener's).

    Safe to call from any thread: the store may notify from a worker thread.
    ``on_done(name, trigger, summary_or_exception)`` is called on the loop when a run ends.
    """

    def __init__(self, engine: Engine, loop: asyncio.AbstractEventLoop, *,
                 on_done: Callable[[str, str, Any], None] | None = None) -> None:
        self.engine = engine
        self.loop = loop
        self.on_done = on_done
        self.tasks: set[asyncio.Task] = set()

    def __call__(self, macro_name: str, record_ids: list[str], trigger: str) -> None:
        ids = list(record_ids)
        self.loop.call_soon_threadsafe(self._start, macro_name, ids, trigger)

    def _start(self, name: str, ids: list[str], trigger: str) -> None:
        task = self.loop.create_task(self._run(name, ids, trigger))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, name: str, ids: list[str], trigger: str) -> None:
        try:
            result: Any = await self.engine.run(name, ids, trigger=trigger)
        except Exception as exc:  # reported to on_done; a failed run must not kill the loop
            result = exc
        if self.on_done is not None:
            self.on_done(name, trigger, result)

    async def wait_idle(self) -> None:
        """Wait until every run started so far (and any it chains into) has finished."""
        await asyncio.sleep(0)  # let call_soon_threadsafe starts land first
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
            await asyncio.sleep(0.05)  # chained runs arrive from store threads


class ThreadRunner:
    """A runner with its own event loop on a daemon thread (the TUI's default).

    Triggered runs then never wait for the command to end and never compete with the
    screen's loop for CPU between frames. ``close()`` lets runs in flight finish.
    ``on_done(name, trigger, summary_or_exception)`` is called on the runner's thread.
    """

    def __init__(self, engine_factory: Callable[[], Any], *,
                 on_done: Callable[[str, str, Any], None] | None = None) -> None:
        self._engine_factory = engine_factory
        self.on_done = on_done
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inner: LoopRunner | None = None

    def _ensure(self) -> LoopRunner:
        with self._lock:
            if self._inner is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name="cctui-triggers", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
                self._inner = LoopRunner(self._engine_factory(), loop, on_done=self.on_done)
            return self._inner

    def __call__(self, macro_name: str, record_ids: list[str], trigger: str) -> None:
        self._ensure()(macro_name, record_ids, trigger)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until every run started so far (and the runs they chain into) ended."""
        if self._inner is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._inner.wait_idle(), self._loop)
        future.result(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Wait for runs in flight, then stop the thread."""
        if self._loop is None:
            return
        try:
            self.wait_idle(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout)
            self._loop = self._inner = self._thread = None
