"""A run in progress: its shared state (:class:`RunState`) and what its worker tasks do
(:class:`Worker`): take record ids from one shared iterator and deliver each record,
attempt after attempt, until it is delivered, fails for good, is left as a scheduled
retry, or the run stops.

The engine (:mod:`cctui.delivery.engine`) sets a run up, starts N tasks on one
:class:`Worker` and closes the run; nothing here persists a run or builds a transport.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cctui.core.clock import iso
from cctui.delivery import events as ev
from cctui.delivery.afterwrites import AfterWrites
from cctui.delivery.attempt import AttemptResult, perform, render_failure_entry
from cctui.delivery.policy import DELIVERED, PAUSE, CircuitBreaker, RetryPolicy, decide, server_wait
from cctui.delivery.ratelimit import HostLimiter
from cctui.delivery.recorder import Recorder
from cctui.delivery.retries import Budget, RecordRetries, deferred_entry, due_at, schedule_entry
from cctui.delivery.scheduled import counting, held_here
from cctui.delivery.transport import HttpSender
from cctui.delivery.view import RunView
from cctui.errors import CctuiError

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from cctui.delivery.prepared import Prepared, RequestFactory
    from cctui.macros.model import Macro
    from cctui.store import Store

#: How a delivery whose scheduled retry this run claimed ended, for the runs that counted
#: it as retrying (``scheduled.forget``); any other outcome is a failure.
ENDED = {ev.DELIVERED: ev.DELIVERED, ev.SKIPPED: ev.SKIPPED, ev.RENDERED: ev.SKIPPED}
#: Requests rendered ahead at most (see Worker.render_ahead): a wave's worth.
AHEAD = 64

# The engine's logger: its name is what users (and tests) configure, wherever the code sits.
log = logging.getLogger("cctui.delivery.engine")


def delivery_id_for(run_id: str | None, record_id: str) -> str:
    """The ``webhook-id`` of one record in one run: the same on every retry."""
    digest = hashlib.blake2b(f"{run_id}/{record_id}".encode(), digest_size=10).hexdigest()
    return f"msg_{digest}"


def read_record(store: Store, macro: Macro, record_id: str) -> dict | None:
    """The record ``record_id`` of the macro's target (feedback or users), or None."""
    if getattr(macro, "target", "feedback") == "users":
        return store.user_get(record_id)
    return store.feedback_get(record_id)


@dataclass
class RunState:
    """Mutable state of one run, shared by its workers. Its id, trigger and dry-run flag
    are the summary's (the run id is set there once the run is persisted)."""

    macro: Macro
    summary: ev.RunSummary
    listener: ev.Listener | None
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
    render_pool: ThreadPoolExecutor | None = None  # renders bodies off the loop (the TUI's engine)

    @property
    def run_id(self) -> str | None:
        return self.summary.run_id

    @property
    def trigger(self) -> str:
        return self.summary.trigger

    @property
    def dry_run(self) -> bool:
        return self.summary.dry_run

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

    def unrecordable(self, exc: BaseException) -> None:
        """The log cannot be written (a full disk): send nothing more, at once. What was
        sent and not recorded may be sent again by `cctui retry`; sending on would make
        that every remaining record."""
        if self.stop_reason is None:
            self.stop_reason = f"the delivery log cannot be written ({exc})"
        self.cancel.set()


class Worker:
    """What each worker task of one run does; the run's N tasks share one Worker (and
    so its limiter, breaker and state)."""

    def __init__(self, state: RunState, store: Store, policy: RetryPolicy, rng: random.Random,
                 sender: HttpSender | None, limiter: HostLimiter, breaker: CircuitBreaker,
                 timeout: float) -> None:
        self.state = state
        self.store = store
        self.policy = policy
        self.rng = rng
        self.sender = sender  # None in a dry run: nothing is sent
        self.limiter = limiter
        self.breaker = breaker
        self.timeout = timeout
        self.later = AfterWrites()  # a delivery's bookkeeping, once the wave's requests are out
        self.queue: Iterator[str] | None = None  # the run's record ids (set by work())
        self.ahead: deque[tuple[str, Prepared | CctuiError | None]] = deque()  # rendered ahead

    async def work(self, queue: Iterator[str]) -> None:
        """Deliver records from ``queue`` (one iterator shared by the run's tasks: each id
        is taken once) until it is empty; rendered ahead ones first."""
        later, ahead = self.later, self.ahead
        self.queue = queue
        try:
            while True:
                ready: Prepared | CctuiError | None = None
                if ahead:
                    record_id, ready = ahead.popleft()
                else:
                    taken = next(queue, None)
                    if taken is None:
                        break
                    record_id = taken
                await self.deliver(record_id, ready)
                later.check()
        finally:
            later.flush()  # this worker's last deliveries (also when the run is cancelled)
        later.check()

    def render_ahead(self) -> None:
        """Render the next record now, while the requests are on the wire, so the worker
        that takes it sends at once (called with a delivery's bookkeeping). Not where
        bodies render on a thread (the TUI's runs): there the loop never renders."""
        state = self.state
        if (self.queue is None or state.dry_run or state.render_pool is not None or self.stopped(None)
                or len(self.ahead) >= AHEAD):
            return
        record_id = next(self.queue, None)
        if record_id is not None:
            self.ahead.append((record_id, None if record_id in state.already else self.ready_now(record_id)))

    async def ready(self, record_id: str) -> Prepared | CctuiError | None:
        """The request for a record, the error that stops it, or None (no such record);
        rendered on the run's render thread when it has one."""
        pool = self.state.render_pool
        if pool is None:
            return self.ready_now(record_id)
        record = self.record(record_id)
        if record is None:
            return None
        return await asyncio.get_running_loop().run_in_executor(pool, self.prepare, record)

    def ready_now(self, record_id: str) -> Prepared | CctuiError | None:
        record = self.record(record_id)
        return None if record is None else self.prepare(record)

    def record(self, record_id: str) -> dict | None:
        state = self.state
        return state.view.record(record_id) if state.view else read_record(self.store, state.macro, record_id)

    def prepare(self, record: dict) -> Prepared | CctuiError:
        assert self.state.factory is not None  # set in run() before any worker starts
        try:
            return self.state.factory.prepare(record)
        except CctuiError as exc:
            return exc

    def delivered(self, result: AttemptResult, record_id: str, delivery_id: str, attempt: int,
                  made: int) -> None:
        """Log a delivered attempt, store its record changes and report the record."""
        recorder = self.state.recorder
        assert recorder is not None  # only a run that sends delivers
        recorder.attempt(result.log_entry(self.state, record_id, delivery_id, attempt, False))
        changes = result.record_changes(self.state.macro)
        if changes:
            recorder.change(record_id, changes)
        self.done(record_id, delivery_id, ev.DELIVERED, status=result.status_code,
                  attempts=attempt - made, extra=changes)
        self.render_ahead()

    def done(self, record_id: str, delivery_id: str, outcome: str, *,
             status: int = 0, attempts: int = 0, error: str | None = None,
             extra: dict | None = None) -> None:
        """Count the record's outcome and report it (once its log entry is durable)."""
        state = self.state
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
            # A scheduled retry this run claimed: done with it (the runs that counted it
            # as retrying learn how it ended), or (never tried) handed back.
            if outcome == ev.NOT_SENT:
                state.recorder.retry(delivery_id, {**claimed, "claimed_by": None, "claimed_at": None,
                                                   "claimed_on": None})
            else:
                state.recorder.retry(delivery_id, None, ENDED.get(outcome, ev.FAILED))
        if state.listener is not None:
            event = ev.RecordDone(state.run_id, record_id, delivery_id, outcome, status, attempts,
                                  error, extra or {})
            if state.recorder is None:
                state.emit(event)
            else:  # "delivered" is a promise: make it only once the log entry is on disk
                state.recorder.after_durable(lambda: state.emit(event))

    def stopped(self, host: str | None) -> str | None:
        """Why the run sends nothing more (to ``host``), or None."""
        if self.state.cancel.is_set():
            return "run cancelled"
        if self.state.stop_reason:
            return self.state.stop_reason
        return self.breaker.is_open(host) if host else None

    async def deliver(self, record_id: str, ready: Prepared | CctuiError | None = None) -> None:
        """Deliver one record (``ready``: its request or error, rendered ahead)."""
        state = self.state
        recorder = state.recorder  # None only in a dry run
        delivery_id, made = state.delivery(record_id)
        stopped = self.stopped(None)
        if stopped:
            return self.done(record_id, delivery_id, ev.NOT_SENT, error=stopped)
        if record_id in state.already:
            return self.done(record_id, delivery_id, ev.SKIPPED,
                             error="already delivered by this macro (once_per_record)")
        prepared = ready if ready is not None else await self.ready(record_id)
        if prepared is None:
            return self.done(record_id, delivery_id, ev.FAILED, error=f"record {record_id} not found")
        if isinstance(prepared, CctuiError):
            if recorder is not None:  # the log holds every record's outcome, sent or not
                recorder.attempt(render_failure_entry(state, record_id, delivery_id, made + 1, str(prepared)))
            return self.done(record_id, delivery_id, ev.FAILED, error=str(prepared))
        if state.dry_run:
            return self.done(record_id, delivery_id, ev.RENDERED, extra={"request": prepared.masked})
        assert recorder is not None and self.sender is not None  # every run but a dry one sends
        limiter, breaker = self.limiter, self.breaker
        attempt = made
        sent = False
        retries = RecordRetries.carried(state.scheduled.get(record_id))
        while True:
            stopped = self.stopped(prepared.host)
            waiting = retries.waiting
            if stopped and waiting is not None:
                # The run stops (Ctrl-C, circuit breaker) while this record waits for a
                # retry: the retry stays due as it was, scheduled; not a failure.
                recorder.retry(delivery_id, counting(waiting, state.run_id))
                return self.done(record_id, delivery_id, ev.RETRYING, status=waiting["status_code"],
                                 attempts=attempt - made, error=waiting["error"],
                                 extra={"retry_at": waiting["due"]})
            if stopped:
                outcome = ev.FAILED if sent else ev.NOT_SENT
                return self.done(record_id, delivery_id, outcome, attempts=attempt - made, error=stopped)
            pause = limiter.paused_for(prepared.host)
            if pause and not state.budget.fits(pause, retries.waited):
                # The host asked (429 + Retry-After) for a longer pause than this run may
                # wait: leave the record for then instead of holding the run up.
                return self.defer(record_id, delivery_id, attempt, made, pause, prepared.host, retries)
            await limiter.acquire(prepared.host)
            if self.stopped(prepared.host):
                continue  # stopped while waiting for the host's slot: send nothing more
            attempt += 1
            if not sent:
                sent = True
                state.summary.sent += 1
                state.budget.started()
            state.summary.attempts += 1
            if state.listener is not None:
                state.emit(ev.AttemptStarted(state.run_id, record_id, delivery_id, attempt,
                                             prepared.masked["url"]))
            result: AttemptResult = await perform(self.sender, prepared, delivery_id, self.timeout)
            decision = decide(result.status_code, result.error, result.location,
                              request_error=result.request_error)
            if decision.action == DELIVERED:
                breaker.success(prepared.host)
                limiter.success(prepared.host)  # a slowed-down host recovers its pace
                if state.listener is not None:
                    state.emit(ev.AttemptFinished(state.run_id, record_id, delivery_id, attempt, result.status_code,
                                                  result.duration_ms, True, None, result.title()))
                # The log entry and the counts wait until the wave's next requests are out.
                self.later.defer(functools.partial(self.delivered, result, record_id, delivery_id, attempt, made))
                return None
            paused = decision.action == PAUSE
            wait = server_wait(result.headers, result.json_body())
            delay, asked = retries.next_delay(decision.action, result.status_code, wait, self.policy, self.rng)
            entry = result.log_entry(state, record_id, delivery_id, attempt, paused)
            if delay is not None:
                retry_at = due_at(delay)
                entry["retry_at"] = retry_at  # the log says "retry scheduled at T", not "failed"
            recorder.attempt(entry)
            if state.listener is not None:
                state.emit(ev.AttemptFinished(state.run_id, record_id, delivery_id, attempt, result.status_code,
                                              result.duration_ms, result.ok, result.error, result.title(paused)))
            if breaker.failure(prepared.host, result.title(paused)) and not state.summary.reason:
                state.summary.reason = breaker.is_open(prepared.host)
            if paused:
                self.pause(result)
            if result.status_code == 429:
                limiter.slow_down(prepared.host, wait)
            if delay is None:
                error = result.error or result.title(paused)
                return self.done(record_id, delivery_id, ev.FAILED, status=result.status_code,
                                 attempts=attempt - made, error=error)
            later = not state.budget.fits(delay, retries.waited)
            state.emit(ev.RetryScheduled(state.run_id, record_id, delivery_id, attempt + 1, delay,
                                         result.status_code, 0 if asked else retries.used,
                                         len(self.policy.schedule), retry_at, later))
            waiting = retries.waiting = schedule_entry(
                state, record_id, delivery_id, attempt + 1, retry_at, used=retries.used, limited=retries.limited,
                status_code=result.status_code, error=result.masked_error() or result.title(paused),
                runs=retries.counted)
            if later:
                # Due later than this run may wait: persist it and let this record go.
                recorder.retry(delivery_id, counting(waiting, state.run_id))
                return self.done(record_id, delivery_id, ev.RETRYING, status=result.status_code,
                                 attempts=attempt - made, error=waiting["error"], extra={"retry_at": retry_at})
            # Waited for here, but kept in the store too (claimed by this process), as
            # the log's "retry scheduled at T" says: a kill -9 during the wait leaves it
            # to `run-due`, and a `retry` elsewhere does not send the record meanwhile.
            # done() removes it once the record is delivered or fails for good.
            state.scheduled[record_id] = held_here(waiting)
            recorder.retry(delivery_id, state.scheduled[record_id])
            retries.waited += delay
            try:
                await asyncio.wait_for(state.cancel.wait(), delay)
            except TimeoutError:
                pass

    def defer(self, record_id: str, delivery_id: str, attempt: int, made: int, pause: float, host: str,
              retries: RecordRetries) -> None:
        """Schedule a record's next attempt for when ``host`` takes requests again. The
        log gets a not-sent entry (like a render failure) so it shows the retry."""
        state = self.state
        retry_at = due_at(pause)
        error = f"not sent: {host} asked to wait until {retry_at} (429 Retry-After)"
        assert state.recorder is not None  # only a run that sends defers
        state.recorder.attempt(deferred_entry(state, record_id, delivery_id, attempt + 1, error, retry_at))
        entry = schedule_entry(state, record_id, delivery_id, attempt + 2, retry_at, used=retries.used,
                               limited=retries.limited, status_code=0, error=error, runs=retries.counted)
        state.recorder.retry(delivery_id, counting(entry, state.run_id))
        state.emit(ev.RetryScheduled(state.run_id, record_id, delivery_id, attempt + 2, pause, 0, 0,
                                     len(self.policy.schedule), retry_at, True))
        return self.done(record_id, delivery_id, ev.RETRYING, attempts=attempt - made, error=error,
                         extra={"retry_at": retry_at})

    def pause(self, result: AttemptResult) -> None:
        """410 Gone: pause the macro (until someone resumes it) and end the run. The
        store write goes through the recorder thread, in order with the log."""
        state = self.state
        if state.stop_reason is None:
            reason = f"{result.title(False)} from {result.prepared.host} at {iso()}"
            state.stop_reason = f"macro paused: {reason}"
            state.summary.reason = state.stop_reason
            name = state.macro.name
            assert state.recorder is not None  # only a run that sends gets a 410
            state.recorder.call(lambda: self.store.macro_update(
                name, {"paused": True, "paused_reason": reason, "paused_at": iso()}))
