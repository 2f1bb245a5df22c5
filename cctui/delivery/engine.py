"""The delivery engine: runs a macro over records, with retries, limits and a full log.

A run is a macro + record ids + a trigger. It is persisted before the first request (so
``cctui retry`` can finish it after a crash), sent by N worker tasks pulling ids from one
shared iterator (memory stays flat for 100k records: each body is rendered just before
it is sent), and reported as events to a listener. Store writes happen on a writer
thread (:mod:`cctui.delivery.recorder`), so the engine can share the TUI's event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from cctui.core.clock import iso
from cctui.delivery import events as ev
from cctui.delivery import runs
from cctui.delivery.attempt import AttemptResult, perform, render_failure_entry
from cctui.delivery.explain import Explanation
from cctui.delivery.policy import DELIVERED, PAUSE, RETRY, CircuitBreaker, RetryPolicy, decide, server_wait
from cctui.delivery.prepared import RequestFactory
from cctui.delivery.ratelimit import MAX_RATE_LIMITED, HostLimiter
from cctui.delivery.recorder import Recorder
from cctui.delivery.recovery import ACTIVE_HERE, HEARTBEAT_EVERY, RetryPlan, plan_retry
from cctui.delivery.scheduled import Budget, deferred_entry, due_at, held_here, schedule_entry
from cctui.delivery.transport import HttpSender, make_transport
from cctui.delivery.view import RunView
from cctui.errors import CctuiError, InputError, NotFound
from cctui.macros.model import Macro

if TYPE_CHECKING:
    from cctui.config import Config
    from cctui.store import Store

log = logging.getLogger(__name__)

TRIGGERS = ("manual", "bulk", "submit", "modify", "schedule", "retry")
DEFAULT_CONCURRENCY = 8
#: From this many records on, a run reads records through a :class:`RunView`.
BULK = 64
#: Keys the engine adds to a stored macro; not part of the macro file format.
PAUSE_KEYS = ("paused_at",)
#: After its task is cancelled, a run waits at most this long (and at most the macro's
#: timeout) for the requests already on the wire, so their answers are logged.
CANCEL_GRACE = 5.0


def delivery_id_for(run_id: str | None, record_id: str) -> str:
    """The ``webhook-id`` of one record in one run: the same on every retry."""
    digest = hashlib.blake2b(f"{run_id}/{record_id}".encode(), digest_size=10).hexdigest()
    return f"msg_{digest}"


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


@dataclass
class _Run:
    """Mutable state of one run, shared by its workers."""

    run_id: str | None
    macro: Macro
    trigger: str
    summary: ev.RunSummary
    listener: ev.Listener | None
    dry_run: bool
    deliveries: dict[str, tuple[str, int]] = field(default_factory=dict)
    already: frozenset[str] = frozenset()
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    stop_reason: str | None = None  # the run ends early (410 pause); None = keep going
    view: RunView | None = None  # bulk runs read records through an indexed view
    factory: RequestFactory | None = None  # renders the macro for each record
    recorder: Recorder | None = None  # writes the log; outcomes are reported once it has
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # recorded and over
    listener_errors: int = 0
    budget: Budget = field(default_factory=Budget)  # how long retries may be waited for
    scheduled: dict[str, dict] = field(default_factory=dict)  # record id -> claimed scheduled retry

    def emit(self, event: ev.Event) -> None:
        """Tell the listener; a listener that raises is logged and the run goes on (a
        broken progress bar must not leave half a run unsent)."""
        if self.listener is not None:
            try:
                self.listener(event)
            except Exception:
                self.listener_errors += 1
                if self.listener_errors == 1:
                    log.exception("delivery listener %r raised on %s; the run goes on (further "
                                  "errors are counted, not logged)", self.listener, type(event).__name__)

    def delivery(self, record_id: str) -> tuple[str, int]:
        """(delivery id, attempts already made) for a record."""
        found = self.deliveries.get(record_id)
        return found if found else (delivery_id_for(self.run_id, record_id), 0)


class Engine:
    """Sends macros. One engine may run several runs at once (e.g. from the TUI)."""

    def __init__(self, store: Store, config: Config | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 *, rng: random.Random | None = None, flush_interval: float = 0.1,
                 heartbeat_every: float = HEARTBEAT_EVERY) -> None:
        self.store = store
        self.config = config
        self.policy = RetryPolicy.from_config(getattr(config, "delivery", None))
        self.transport = transport
        self.rng = rng or random.Random()
        self.flush_interval = flush_interval
        self.heartbeat_every = heartbeat_every
        self._runs: dict[str, _Run] = {}

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
        state = _Run(None, macro, trigger, summary, listener, dry_run, dict(deliveries or {}))
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
                state.run_id = await asyncio.to_thread(runs.persist, self.store, macro.name, trigger, ids,
                                                     width, resume)
        except BaseException:
            if state.view is not None:
                state.view.close()  # stop listening to the store: the run never started
            raise
        summary.run_id = state.run_id
        self._runs[state.run_id or f"dry-{id(state)}"] = state
        if state.run_id:
            ACTIVE_HERE.add(state.run_id)
        recorder = None if dry_run else Recorder(self.store, macro=macro.name,
                                                 target=getattr(macro, "target", "feedback"),
                                                 interval=self.flush_interval,
                                                 heartbeat=runs.heartbeat(self.store, state.run_id),
                                                 heartbeat_every=self.heartbeat_every,
                                                 on_error=lambda exc: self._unrecordable(state, exc))
        state.recorder = recorder
        sender = None
        try:
            state.emit(ev.RunStarted(state.run_id, macro.name, trigger, len(ids), dry_run))
            if not dry_run:
                transport = self.transport or own
                assert transport is not None  # made above whenever this run sends
                sender = HttpSender(transport)
            limiter = HostLimiter(getattr(macro, "rate_limit", None))
            breaker = CircuitBreaker(self.policy.breaker_threshold)
            queue: Iterator[str] = iter(ids)
            workers = [asyncio.create_task(self._worker(state, queue, sender, limiter, breaker))
                       for _ in range(width)]
            gathered = asyncio.gather(*workers)
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
                    for task in workers:
                        task.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
                raise
            except BaseException:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                state.cancel.set()
                raise
        finally:
            if sender is not None and self.transport is None:
                await sender.aclose()
            summary.cancelled = state.cancel.is_set()
            summary.reason = summary.reason or state.stop_reason
            if recorder is not None:
                if state.run_id:
                    run_id = state.run_id
                    recorder.call(lambda: self.store.run_update(run_id, runs.final(summary)))
                recorder.hand_over()
                await asyncio.to_thread(recorder.close)
                recorder.release()  # outcomes whose writes the last flush made durable
            self._runs.pop(state.run_id or f"dry-{id(state)}", None)
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
        with a retry scheduled is left to its schedule."""
        from cctui.delivery import scheduled

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
        record = self._record(macro, record_id)
        if record is not None:
            factory.prepare(record)  # also works out the run's fixed request parts

    def _record(self, macro: Macro, record_id: str) -> dict | None:
        if getattr(macro, "target", "feedback") == "users":
            return self.store.user_get(record_id)
        return self.store.feedback_get(record_id)

    def _delivered_before(self, macro_name: str) -> frozenset[str]:
        return frozenset(e["record_id"] for e in self.store.log_iter(macro=macro_name, status="ok"))

    @staticmethod
    def _unrecordable(state: _Run, exc: BaseException) -> None:
        """The log cannot be written (a full disk): send nothing more, at once. What was
        sent and not recorded may be sent again by `cctui retry`; sending on would make
        that every remaining record."""
        if state.stop_reason is None:
            state.stop_reason = f"the delivery log cannot be written ({exc})"
        state.cancel.set()

    # -- the workers ----------------------------------------------------------------------
    async def _worker(self, state: _Run, queue: Iterator[str], sender: HttpSender | None, limiter: HostLimiter,
                      breaker: CircuitBreaker) -> None:
        for record_id in queue:  # one shared iterator: each id is taken by one worker
            await self._deliver(state, record_id, sender, limiter, breaker)

    def _done(self, state: _Run, record_id: str, delivery_id: str, outcome: str, *,
              status: int = 0, attempts: int = 0, error: str | None = None,
              extra: dict | None = None) -> None:
        s = state.summary
        if outcome == ev.DELIVERED:
            s.delivered += 1
        elif outcome in (ev.SKIPPED, ev.RENDERED):
            s.skipped += 1
        elif outcome == ev.NOT_SENT:
            s.not_sent += 1  # never tried: not a failure; `retry` finishes the run
        elif outcome == ev.RETRYING:
            s.retrying += 1  # scheduled for later: not a failure either
            s.note_retry((extra or {}).get("retry_at"))
        else:
            s.failed += 1
        claimed = state.scheduled.get(record_id)
        if claimed is not None and outcome != ev.RETRYING and state.recorder is not None:
            # A scheduled retry this run claimed: done with it, or (never tried) handed back.
            state.recorder.retry(delivery_id, {**claimed, "claimed_by": None, "claimed_at": None, "claimed_on": None}
                                 if outcome == ev.NOT_SENT else None)
        if state.listener is not None:
            event = ev.RecordDone(state.run_id, record_id, delivery_id, outcome, status, attempts,
                                  error, extra or {})
            if state.recorder is None:
                state.emit(event)
            else:  # "delivered" is a promise: make it only once the log entry is on disk
                state.recorder.after_durable(lambda: state.emit(event))

    def _stopped(self, state: _Run, host: str | None, breaker: CircuitBreaker) -> str | None:
        if state.cancel.is_set():
            return "run cancelled"
        if state.stop_reason:
            return state.stop_reason
        return breaker.is_open(host) if host else None

    async def _deliver(self, state: _Run, record_id: str, sender: HttpSender | None, limiter: HostLimiter,
                       breaker: CircuitBreaker) -> None:
        recorder = state.recorder  # None only in a dry run
        delivery_id, made = state.delivery(record_id)
        stopped = self._stopped(state, None, breaker)
        if stopped:
            return self._done(state, record_id, delivery_id, ev.NOT_SENT, error=stopped)
        if record_id in state.already:
            return self._done(state, record_id, delivery_id, ev.SKIPPED,
                              error="already delivered by this macro (once_per_record)")
        record = state.view.record(record_id) if state.view else self._record(state.macro, record_id)
        if record is None:
            return self._done(state, record_id, delivery_id, ev.FAILED, error=f"record {record_id} not found")
        assert state.factory is not None  # set in run() before any worker starts
        try:
            prepared = state.factory.prepare(record)
        except CctuiError as exc:
            if recorder is not None:  # the log holds every record's outcome, sent or not
                recorder.attempt(render_failure_entry(state, record_id, delivery_id, made + 1, str(exc)))
            return self._done(state, record_id, delivery_id, ev.FAILED, error=str(exc))
        if state.dry_run:
            return self._done(state, record_id, delivery_id, ev.RENDERED,
                              extra={"request": prepared.masked})
        assert sender is not None and recorder is not None  # a run that sends has both
        attempt = made
        sent = False
        claimed = state.scheduled.get(record_id) or {}
        used = int(claimed.get("used") or 0)  # retries of the policy's schedule used so far
        limited = int(claimed.get("limited") or 0)  # 429s with a server wait: they do not use up the schedule
        waited = 0.0  # seconds this record has waited for retries in this run
        waiting: dict | None = None  # the retry this record waits for (to keep if the run stops)
        while True:
            stopped = self._stopped(state, prepared.host, breaker)
            if stopped and waiting is not None:
                # The run stops (Ctrl-C, circuit breaker) while this record waits for a
                # retry: the retry stays due as it was, scheduled; not a failure.
                recorder.retry(delivery_id, waiting)
                return self._done(state, record_id, delivery_id, ev.RETRYING, status=waiting["status_code"],
                                  attempts=attempt - made, error=waiting["error"],
                                  extra={"retry_at": waiting["due"]})
            if stopped:
                outcome = ev.FAILED if sent else ev.NOT_SENT
                return self._done(state, record_id, delivery_id, outcome, attempts=attempt - made,
                                  error=stopped)
            pause = limiter.paused_for(prepared.host)
            if pause and not state.budget.fits(pause, waited):
                # The host asked (429 + Retry-After) for a longer pause than this run may
                # wait: leave the record for then instead of holding the run up.
                return self._defer(state, record_id, delivery_id, attempt, made, pause, prepared.host,
                                   used, limited)
            await limiter.acquire(prepared.host)
            attempt += 1
            if not sent:
                sent = True
                state.summary.sent += 1
                state.budget.started()
            state.summary.attempts += 1
            if state.listener is not None:
                state.emit(ev.AttemptStarted(state.run_id, record_id, delivery_id, attempt,
                                             prepared.masked["url"]))
            result: AttemptResult = await perform(sender, prepared, delivery_id, self.timeout_of(state.macro))
            decision = decide(result.status_code, result.error, result.location,
                              request_error=result.request_error)
            paused = decision.action == PAUSE
            wait = server_wait(result.headers, result.json_body()) if decision.action != DELIVERED else None
            asked = decision.action == RETRY and result.status_code == 429 and wait is not None \
                and limited < MAX_RATE_LIMITED  # the server said when: not one of our retries
            if decision.action != RETRY:
                delay = None
            elif asked:
                limited += 1
                delay = wait
            else:
                used += 1
                delay = self.policy.delay(used, wait, self.rng)
            entry = result.log_entry(state, record_id, delivery_id, attempt, paused)
            if delay is not None:
                retry_at = due_at(delay)
                entry["retry_at"] = retry_at  # the log says "retry scheduled at T", not "failed"
            recorder.attempt(entry)
            if state.listener is not None:
                state.emit(ev.AttemptFinished(state.run_id, record_id, delivery_id, attempt, result.status_code,
                                              result.duration_ms, result.ok, result.error, result.title(paused)))
            if decision.action == DELIVERED:
                breaker.success(prepared.host)
                limiter.success(prepared.host)  # a slowed-down host recovers its pace
                changes = result.record_changes(state.macro)
                if changes:
                    recorder.change(record_id, changes)
                return self._done(state, record_id, delivery_id, ev.DELIVERED, status=result.status_code,
                                  attempts=attempt - made, extra=changes)
            if breaker.failure(prepared.host, result.title(paused)) and not state.summary.reason:
                state.summary.reason = breaker.is_open(prepared.host)
            if paused:
                self._pause(state, result)
            if result.status_code == 429:
                limiter.slow_down(prepared.host, wait)
            if delay is None:
                error = result.error or result.title(paused)
                return self._done(state, record_id, delivery_id, ev.FAILED, status=result.status_code,
                                  attempts=attempt - made, error=error)
            later = not state.budget.fits(delay, waited)
            state.emit(ev.RetryScheduled(state.run_id, record_id, delivery_id, attempt + 1, delay,
                                         result.status_code, 0 if asked else used,
                                         len(self.policy.schedule), retry_at, later))
            waiting = schedule_entry(state, record_id, delivery_id, attempt + 1, retry_at, used=used,
                                     limited=limited, status_code=result.status_code,
                                     error=result.masked_error() or result.title(paused))
            if later:
                # Due later than this run may wait: persist it and let this record go.
                recorder.retry(delivery_id, waiting)
                return self._done(state, record_id, delivery_id, ev.RETRYING, status=result.status_code,
                                  attempts=attempt - made, error=waiting["error"], extra={"retry_at": retry_at})
            # Waited for here, but kept in the store too (claimed by this process), as
            # the log's "retry scheduled at T" says: a kill -9 during the wait leaves it
            # to `run-due`, and a `retry` elsewhere does not send the record meanwhile.
            # _done removes it once the record is delivered or fails for good.
            state.scheduled[record_id] = held_here(waiting)
            recorder.retry(delivery_id, state.scheduled[record_id])
            waited += delay
            try:
                await asyncio.wait_for(state.cancel.wait(), delay)
            except TimeoutError:
                pass

    def _defer(self, state: _Run, record_id: str, delivery_id: str, attempt: int, made: int,
               pause: float, host: str, used: int, limited: int) -> None:
        """Schedule a record's next attempt for when ``host`` takes requests again. The
        log gets a not-sent entry (like a render failure) so it shows the retry."""
        retry_at = due_at(pause)
        error = f"not sent: {host} asked to wait until {retry_at} (429 Retry-After)"
        assert state.recorder is not None  # only a run that sends defers
        state.recorder.attempt(deferred_entry(state, record_id, delivery_id, attempt + 1, error, retry_at))
        state.recorder.retry(delivery_id, schedule_entry(state, record_id, delivery_id, attempt + 2, retry_at,
                                                         used=used, limited=limited, status_code=0, error=error))
        state.emit(ev.RetryScheduled(state.run_id, record_id, delivery_id, attempt + 2, pause, 0, 0,
                                     len(self.policy.schedule), retry_at, True))
        return self._done(state, record_id, delivery_id, ev.RETRYING, attempts=attempt - made, error=error,
                          extra={"retry_at": retry_at})

    @staticmethod
    def timeout_of(macro: Macro) -> float:
        return float(getattr(macro, "timeout", None) or 15.0)

    def _pause(self, state: _Run, result: AttemptResult) -> None:
        """410 Gone: pause the macro (until someone resumes it) and end the run. The
        store write goes through the recorder thread, in order with the log."""
        if state.stop_reason is None:
            reason = f"{result.title(False)} from {result.prepared.host} at {iso()}"
            state.stop_reason = f"macro paused: {reason}"
            state.summary.reason = state.stop_reason
            name = state.macro.name
            assert state.recorder is not None  # only a run that sends gets a 410
            state.recorder.call(lambda: self.store.macro_update(
                name, {"paused": True, "paused_reason": reason, "paused_at": iso()}))
