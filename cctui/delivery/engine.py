"""The delivery engine: runs a macro over records, with retries, limits and a full log.

A run is a macro + record ids + a trigger. It is persisted before the first request (so
``cctui retry`` can finish it after a crash), sent by N worker tasks pulling ids from one
shared iterator (memory stays flat for 100k records: each body is rendered just before
it is sent), and reported as events to a listener. Store writes happen on a writer
thread (:mod:`cctui.delivery.recorder`), so the engine can share the TUI's event loop.

This module sets a run up and closes it; what each worker does with a record is
:mod:`cctui.delivery.worker`, and how long a record waits for a retry is
:mod:`cctui.delivery.retries`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from cctui.delivery import events as ev
from cctui.delivery import runs
from cctui.delivery.attempt import perform
from cctui.delivery.explain import Explanation
from cctui.delivery.policy import CircuitBreaker, RetryPolicy
from cctui.delivery.prepared import RequestFactory
from cctui.delivery.ratelimit import HostLimiter
from cctui.delivery.recorder import Recorder
from cctui.delivery.recovery import ACTIVE_HERE, HEARTBEAT_EVERY, RetryPlan, plan_retry
from cctui.delivery.retries import Budget
from cctui.delivery.transport import HttpSender, make_transport
from cctui.delivery.view import RunView
from cctui.delivery.worker import RunState, Worker, read_record
from cctui.errors import CctuiError, InputError, NotFound, RecordRefused
from cctui.macros.model import Macro

if TYPE_CHECKING:
    from cctui.config import Config
    from cctui.store import Store

TRIGGERS = ("manual", "bulk", "submit", "modify", "schedule", "retry")
DEFAULT_CONCURRENCY = 8
#: From this many records on, a run reads records through a :class:`RunView`.
BULK = 64
#: Keys the engine adds to a stored macro; not part of the macro file format.
PAUSE_KEYS = ("paused_at",)
#: After its task is cancelled, a run waits at most this long (and at most the macro's
#: timeout) for the requests already on the wire, so their answers are logged.
CANCEL_GRACE = 5.0


class SendResult(NamedTuple):
    """What :meth:`Engine.send_once` got back. ``headers``, ``body`` and ``error`` are
    masked (no secret in clear), ready to show on a screen."""

    status_code: int  # 0 when no response came
    headers: dict[str, str]  # response headers, names lowercased
    body: str  # response body as text, cut at 64 KiB
    duration_ms: int
    error: str | None  # why no response came (refused, timeout, ...)
    explanation: Explanation  # title, meaning, action

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


def load_macro(store: Store, name: str) -> Macro:
    """The stored macro as a :class:`cctui.macros.Macro`; paused macros refuse to run."""
    stored = store.macro_get(name)
    if stored is None:
        raise NotFound(f"macro {name!r} does not exist (see `cctui macro list`).")
    if stored.get("paused"):
        reason = stored.get("paused_reason") or "paused"
        raise InputError(f"macro {name!r} is paused ({reason}); fix its target, then resume it with "
                         f"`cctui macro resume {name}`.")
    clean = {k: v for k, v in stored.items() if k not in PAUSE_KEYS}
    # the store's schema: custom feedback types and fields (None: the standard ones)
    return Macro.from_dict(clean, where=f"macro {name}", schema=getattr(store, "schema", None))


class Engine:
    """Sends macros. One engine may run several runs at once (e.g. from the TUI)."""

    def __init__(self, store: Store, config: Config | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 *, rng: random.Random | None = None, flush_interval: float = 0.1,
                 heartbeat_every: float = HEARTBEAT_EVERY, render_off_loop: bool = False) -> None:
        self.store = store
        # The TUI shares its event loop with the engine: a body may take up to the render
        # budget (1 s) for one record, which would freeze every key meanwhile. There each
        # run renders on a thread of its own; the CLI keeps rendering inline (cheaper per
        # record, and no screen waits on its loop).
        self.render_off_loop = render_off_loop
        self.config = config
        self.policy = RetryPolicy.from_config(getattr(config, "delivery", None))
        self.transport = transport
        self.rng = rng or random.Random()
        self.flush_interval = flush_interval
        self.heartbeat_every = heartbeat_every
        self._runs: dict[str, RunState] = {}
        #: Set by :meth:`stop`: the command is being stopped, so no further run starts.
        self.stopping = False

    # -- public API ---------------------------------------------------------------------
    def start(self, macro_name: str, record_ids: Iterable[str], **options: Any) -> asyncio.Task:
        """Start :meth:`run` as a task on the running loop (the TUI's way in)."""
        return asyncio.get_running_loop().create_task(self.run(macro_name, record_ids, **options))

    def cancel(self, run_id: str | None = None) -> bool:
        """Stop new attempts of one run (or of all runs); in-flight ones finish or time
        out, the rest are marked not sent. True if a run was found."""
        found = False
        for rid, state in list(self._runs.items()):
            if run_id is None or rid == run_id:
                state.cancel.set()
                found = True
        return found

    def stop(self) -> None:
        """A command is being stopped (Ctrl-C, SIGTERM, SIGHUP): cancel every run, and let
        ``retry`` and the scheduled retries start no further one (they stay for later).
        Unlike :meth:`cancel` this is for good: the TUI cancels and then resumes."""
        self.stopping = True
        self.cancel()

    async def shutdown(self, grace: float = CANCEL_GRACE) -> None:
        """Before the loop goes away (the TUI quits): cancel every run, wait up to
        ``grace`` seconds for the requests already on the wire and for the log, so each
        run is left recorded and resumable and `cctui retry` sends nothing twice."""
        self.cancel()
        waits = [asyncio.ensure_future(state.finished.wait()) for state in self._runs.values()]
        if waits:
            _, late = await asyncio.wait(waits, timeout=grace)
            for wait in late:  # gave up on it: do not leave the wait pending on the loop
                wait.cancel()

    async def stopped(self, macro: str | None = None) -> None:
        """Wait until this engine's cancelled runs (of ``macro``) have ended: requests on
        the wire answered or timed out, outcomes and kept retries recorded. Runs still
        sending are not waited for (``retry`` leaves them alone)."""
        ending = [state.finished.wait() for state in list(self._runs.values())
                  if state.cancel.is_set() and (macro is None or state.macro.name == macro)]
        if ending:
            await asyncio.gather(*ending)

    async def send_once(self, macro: Any, record: Mapping | None = None) -> SendResult:
        """Render ``macro`` (a Macro or a macro dict) for ``record`` and send it once: no
        retry, no run, nothing logged or written (the TUI's "test send"). Redirects are
        not followed and the macro's timeout holds, as in a run. A template or secret
        problem raises its :class:`~cctui.errors.CctuiError`; network trouble does not
        raise (status 0 and ``error``)."""
        if isinstance(macro, Mapping):
            macro = Macro.from_dict(macro, where=f"macro {macro.get('name') or '(new)'}",
                                    schema=getattr(self.store, "schema", None))
        factory = RequestFactory(macro, self.store, self.config)
        prepared = await asyncio.to_thread(factory.prepare, dict(record or {}))
        sender = HttpSender(self.transport or make_transport(self.config, macro, limit=1))
        try:
            result = await perform(sender, prepared, f"test-{int(time.time() * 1000)}", self.timeout_of(macro))
        finally:
            if self.transport is None:
                await sender.aclose()
        return SendResult(result.status_code, result.masked_headers(), result.text, result.duration_ms,
                          result.masked_error(), result.explanation())

    async def run(self, macro_name: str, record_ids: Iterable[str], *, trigger: str = "manual",
                  concurrency: int | None = None, listener: ev.Listener | None = None,
                  dry_run: bool = False, resume: str | None = None,
                  deliveries: dict[str, tuple[str, int]] | None = None,
                  max_wait: float | None = None, scheduled: dict[str, dict] | None = None) -> ev.RunSummary:
        """Send ``macro_name`` to each record id; returns the run's summary.

        ``resume`` continues an interrupted run (same run id and delivery ids);
        ``deliveries`` maps record ids to (delivery id, attempts so far) for retries.
        ``max_wait`` (default: config ``[delivery] max_wait``) bounds how long the run
        waits for retries; a retry due later is persisted as scheduled (outcome
        ``retrying``). ``scheduled`` maps record ids to claimed scheduled retries
        (:mod:`cctui.delivery.scheduled`): they continue their delivery and retry count.
        """
        if trigger not in TRIGGERS:
            raise InputError(f"trigger {trigger!r}: expected one of {', '.join(TRIGGERS)}.")
        macro = await asyncio.to_thread(load_macro, self.store, macro_name)
        ids = record_ids if isinstance(record_ids, list) else list(record_ids)
        width = max(1, min(concurrency or getattr(macro, "concurrency", None) or DEFAULT_CONCURRENCY,
                           len(ids) or 1))
        if concurrency is not None and concurrency < 1:
            raise InputError("--concurrency: expected a whole number >= 1.")
        # Built before anything is persisted: a bad proxy or CA bundle stops the run here.
        own = make_transport(self.config, macro, limit=width) if self.transport is None and not dry_run else None
        summary = ev.RunSummary(None, macro.name, trigger, total=len(ids), dry_run=dry_run)
        state = RunState(macro, summary, listener, dict(deliveries or {}))
        if self.stopping:
            # The command is being stopped: the run is saved with nothing sent, so
            # `cctui retry` finishes it (a run `run-due` had queued is not lost).
            state.cancel.set()
        state.budget = Budget(self.policy.max_wait if max_wait is None else max_wait)
        for record_id, entry in (scheduled or {}).items():
            state.scheduled[record_id] = entry
            state.deliveries[record_id] = (entry["delivery_id"], int(entry.get("attempt") or 1) - 1)
        if len(ids) >= BULK:
            # indexed once, off the loop; then kept current from the store's change events
            state.view = RunView(self.store, getattr(macro, "target", "feedback"))
        try:
            if state.view is not None:
                await asyncio.to_thread(state.view.load)
            state.factory = RequestFactory(macro, state.view or self.store, self.config)
            if ids and not dry_run:
                # Fail fast, before anything is persisted or sent: a missing ${SECRET} or a
                # broken template shows on the first record as well as on the last.
                await asyncio.to_thread(self._preflight, state.factory, macro, ids[0])
                if getattr(macro, "once_per_record", False):
                    state.already = await asyncio.to_thread(self._delivered_before, macro.name)
                summary.run_id = await asyncio.to_thread(runs.persist, self.store, macro.name, trigger, ids,
                                                         width, resume)
        except BaseException:
            if state.view is not None:
                state.view.close()  # stop listening to the store: the run never started
            raise
        key = state.run_id or f"dry-{id(state)}"  # a dry or empty run is not persisted: no run id
        self._runs[key] = state
        if state.run_id:
            ACTIVE_HERE.add(state.run_id)
        recorder = None if dry_run else Recorder(self.store, macro=macro.name,
                                                 target=getattr(macro, "target", "feedback"),
                                                 interval=self.flush_interval,
                                                 heartbeat=runs.heartbeat(self.store, state.run_id),
                                                 heartbeat_every=self.heartbeat_every,
                                                 on_error=state.unrecordable)
        state.recorder = recorder
        sender = None
        try:
            state.emit(ev.RunStarted(state.run_id, macro.name, trigger, len(ids), dry_run))
            if not dry_run:
                transport = self.transport or own
                assert transport is not None  # made above whenever this run sends
                sender = HttpSender(transport)
            if self.render_off_loop:
                # One thread per run, not the loop's default executor: a run of slow
                # bodies must not take the threads the TUI reads the store with.
                state.render_pool = ThreadPoolExecutor(1, thread_name_prefix="cctui-render")
            worker = Worker(state, self.store, self.policy, self.rng, sender,
                            HostLimiter(getattr(macro, "rate_limit", None)),
                            CircuitBreaker(self.policy.breaker_threshold), self.timeout_of(macro))
            queue: Iterator[str] = iter(ids)
            tasks = [asyncio.create_task(worker.work(queue)) for _ in range(width)]
            gathered = asyncio.gather(*tasks)
            try:
                await asyncio.shield(gathered)
            except asyncio.CancelledError:
                # The task running us was cancelled (the TUI quit, the loop is closing):
                # stop taking records, but let requests already on the wire finish and be
                # logged, so `cctui retry` finishes the run without sending them twice.
                state.cancel.set()
                try:
                    await asyncio.wait_for(asyncio.shield(gathered), min(self.timeout_of(macro), CANCEL_GRACE))
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                raise
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                state.cancel.set()
                raise
        finally:
            if state.render_pool is not None:
                state.render_pool.shutdown(wait=False, cancel_futures=True)  # a render in progress ends within its budget
            if sender is not None and self.transport is None:
                await sender.aclose()
            summary.cancelled = state.cancel.is_set()
            summary.reason = summary.reason or state.stop_reason
            if recorder is not None:
                close_run = None
                if state.run_id:
                    run_id = state.run_id

                    def close_run() -> None:
                        self.store.run_update(run_id, runs.final(summary))
                recorder.hand_over()
                await asyncio.to_thread(recorder.close, close_run)
                recorder.release()  # outcomes whose writes the last flush made durable
            self._runs.pop(key, None)
            ACTIVE_HERE.discard(state.run_id)
            state.finished.set()
            if state.view is not None:
                state.view.close()
        if recorder is not None and recorder.error is not None:
            raise runs.write_error(summary, recorder.error)
        state.emit(ev.RunFinished(state.run_id, summary, summary.cancelled))
        return summary

    async def retry(self, macro: str | None = None, record_id: str | None = None,
                    listener: ev.Listener | None = None, concurrency: int | None = None, *,
                    now: bool = False, max_wait: float | None = None) -> ev.RunSummary:
        """Send the scheduled retries that are due (``now``: all of them), then resend
        failed deliveries and finish interrupted runs (see :mod:`recovery`). A delivery
        with a retry scheduled is left to its schedule. A run of this engine that was
        cancelled but still has requests on the wire is waited for first."""
        from cctui.delivery import scheduled

        # A cancelled run stays in self._runs (active: the plan skips it) until its
        # requests on the wire are answered or time out, and the retry its waiting record
        # keeps is claimed by it until then. Planning earlier left every record it never
        # sent for a later retry (the TUI's `c` then `r`: only the scheduled one went out).
        await self.stopped(macro)

        def plan_all() -> list[RetryPlan]:
            waiting = {(e["macro"], e["record_id"]) for e in scheduled.pending(self.store)}
            return plan_retry(self.store, macro=macro, record_id=record_id, active=set(self._runs),
                              skip=waiting)

        # Planned before the scheduled ones go out: one that fails for good now must not
        # be sent a second time by this same command.
        plans = await asyncio.to_thread(plan_all)
        claimed = await asyncio.to_thread(scheduled.claim, self.store, everything=now, macro=macro,
                                          record_id=record_id)
        total = ev.RunSummary(None, macro or "*", "retry")
        if claimed:
            total.merge(await scheduled.send(self, claimed, listener=listener, concurrency=concurrency,
                                             max_wait=max_wait))
        for plan in plans:
            if self.stopping:
                break  # interrupted runs and failures stay as they are, for the next retry
            stored = await asyncio.to_thread(self.store.macro_get, plan.macro)
            if stored is None or stored.get("paused"):
                # A paused (410) or removed macro cannot finish its runs: report, go on.
                why = "is paused" if stored else "no longer exists"
                total.reason = total.reason or f"macro {plan.macro!r} {why}; its deliveries were left as they are"
                continue
            try:
                result = await self.run(plan.macro, plan.record_ids, trigger="retry", concurrency=concurrency,
                                        listener=listener, resume=plan.run_id, deliveries=plan.deliveries,
                                        max_wait=max_wait)
            except CctuiError as exc:
                # E.g. the template still fails on the first record: nothing of this plan
                # was sent or changed; say why and go on with the other macros.
                total.total += len(plan.record_ids)
                total.failed += len(plan.record_ids)
                total.reason = total.reason or f"macro {plan.macro!r}: {exc}"
                continue
            total.run_id = result.run_id
            total.merge(result)
        return total

    # -- store work (runs in threads) ---------------------------------------------------
    def _preflight(self, factory: RequestFactory, macro: Macro, record_id: str) -> None:
        record = read_record(self.store, macro, record_id)
        if record is not None:
            try:
                factory.prepare(record)  # also works out the run's fixed request parts
            except RecordRefused:
                pass  # this record's own value (a URL segment '..', a header line break): logged as not sent in the run

    def _delivered_before(self, macro_name: str) -> frozenset[str]:
        return frozenset(e["record_id"] for e in self.store.log_iter(macro=macro_name, status="ok"))

    @staticmethod
    def timeout_of(macro: Macro) -> float:
        return float(getattr(macro, "timeout", None) or 15.0)
