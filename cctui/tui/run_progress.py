"""Per-run progress for the TUI: plain counters folded from engine events.

:class:`RunProgress` is what the dispatch panel, the run cards and the macro list read.
It is fed one engine event at a time by the :class:`~cctui.tui.dispatcher.Dispatcher`
(cheap per event, no repaint) or built from a stored run (``from_stored``). It knows
nothing of the app, its loop or its widgets; starting and cancelling runs is the
dispatcher's job.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cctui.delivery.events import Event
    from cctui.delivery.runs import Waiting

#: How many recent failures a run keeps for the dispatch panel.
KEEP_FAILURES = 8


@dataclass
class FailureNote:
    """One failed attempt, as the dispatch panel lists it."""

    record_id: str
    status_code: int
    error: str | None
    explanation: str


def _explain_line(status_code: int, title: str | None, error: str | None) -> str:
    """The engine's ``title`` for the attempt (it read the response body, so it names
    the vendor's reason: "404 Not Found: channel_not_found"), then what to do."""
    from cctui.delivery.explain import explain  # lazily: the TUI starts without delivery

    try:
        result = explain(status_code, "", None, error)
    except Exception:  # an explanation must never break the panel
        return title or error or f"HTTP {status_code}"
    title = title or result.title
    return f"{title}: {result.action}" if result.action else title


@dataclass
class RunProgress:
    """Aggregated progress of one run, fed by engine events or read from the store.

    ``clock`` is injectable so the dispatch panel can be shown at a fixed moment
    (snapshot tests); it returns seconds, monotonic.
    """

    macro: str
    total: int
    trigger: str = "bulk"
    run_id: str | None = None
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    retrying: int = 0
    scheduled: int = 0  # records left with a retry scheduled for later (not failed)
    next_retry: str | None = None  # ISO 8601: the soonest of those
    skipped: int = 0
    state: str = "running"  # running | done | cancelled | error
    started_at: str = ""
    error: str | None = None
    persisted: bool = False
    codes: Counter = field(default_factory=Counter)
    failures: deque = field(default_factory=lambda: deque(maxlen=KEEP_FAILURES))
    clock: Callable[[], float] = time.monotonic
    started: float = 0.0
    finished: float | None = None
    elapsed_fixed: float | None = None  # persisted runs: elapsed as recorded
    multi_run: bool = False  # one progress over several engine runs (retry)
    not_sent: int = 0  # stored runs: records never tried (cancelled, cut short)
    run_ids: list = field(default_factory=list)  # every engine run it went through
    final: dict | None = None  # the engine's closing counts, before later settlements


    def __post_init__(self) -> None:
        if not self.started:
            self.started = self.clock()

    # -- derived numbers ------------------------------------------------------
    @property
    def done(self) -> int:
        """Records with an outcome for this run (a scheduled retry counts: the run is done with it)."""
        return self.delivered + self.failed + self.skipped + self.scheduled

    @property
    def running(self) -> bool:
        return self.state == "running"

    def elapsed(self) -> float:
        if self.elapsed_fixed is not None:
            return self.elapsed_fixed
        end = self.finished if self.finished is not None else self.clock()
        return max(0.0, end - self.started)

    def rate(self) -> float:
        """Requests per second since the run started."""
        elapsed = self.elapsed()
        return self.sent / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        """Seconds left at the current pace of finished records; None when unknown."""
        if not self.running or self.done == 0:
            return None
        pace = self.done / max(self.elapsed(), 1e-6)
        return max(0, self.total - self.done) / pace

    # -- folding events -------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one engine event (``cctui.delivery.events``) into the counters."""
        # Imported here, not at the top: the events come with the engine, which loads on
        # the first run; importing it with the app would cost every cold start.
        from cctui.delivery.events import (
            DELIVERED,
            NOT_SENT,
            RETRYING,
            SKIPPED,
            AttemptFinished,
            AttemptStarted,
            RecordDone,
            RetryScheduled,
            RunFinished,
            RunStarted,
        )

        match event:
            case RunStarted(run_id=run_id, total=total):
                if self.multi_run and self.run_id and run_id != self.run_id:
                    self.total += total  # a retry goes through several runs, one per macro
                else:
                    self.total = total
                self.run_id = run_id
                if run_id and run_id not in self.run_ids:
                    self.run_ids.append(run_id)
            case AttemptStarted(attempt=attempt):
                self.sent += 1
                if attempt > 1 and self.retrying:
                    self.retrying -= 1
            case AttemptFinished(ok=False, status_code=code, record_id=record_id, error=error,
                                 explanation=explanation):
                self.codes[code] += 1
                # The core's explainer says what to do too, not only the status's name.
                explained = _explain_line(code, explanation, error)
                self.failures.appendleft(FailureNote(record_id, code, error, explained))
            case AttemptFinished(status_code=code):
                self.codes[code] += 1
            case RetryScheduled():
                self.retrying += 1
            case RecordDone(outcome=outcome, extra=extra):
                if outcome == DELIVERED:
                    self.delivered += 1
                elif outcome == SKIPPED:
                    self.skipped += 1
                elif outcome == RETRYING:
                    self.scheduled += 1
                    self.retrying = max(0, self.retrying - 1)
                    self._note_retry((extra or {}).get("retry_at"))
                elif outcome == NOT_SENT:
                    # Cancelled (or cut short) before it was tried: queued for retry, not failed.
                    self.not_sent += 1
                else:
                    self.failed += 1
            case RunFinished(cancelled=cancelled) if not self.multi_run:
                self.finish("cancelled" if cancelled else "done")

    def _note_retry(self, due: str | None) -> None:
        if due and (self.next_retry is None or due < self.next_retry):
            self.next_retry = due

    def finish(self, state: str = "done", error: str | None = None) -> None:
        if self.running:
            self.state = state
            self.error = error
            self.retrying = 0
            self.finished = self.clock()

    def close(self) -> None:
        """The engine's final numbers are in: keep them as the base that later
        settlements (:meth:`settle`) add to."""
        if self.run_id and self.run_id not in self.run_ids:
            self.run_ids.append(self.run_id)
        self.final = {"delivered": self.delivered, "failed": self.failed, "skipped": self.skipped}

    def settle(self, stored: dict[str, dict], waiting: Mapping[str, Waiting]) -> bool:
        """Show how the deliveries this run left *retrying* stand now: each one a later
        run delivered, failed for good or dropped moves from retrying to that count (as a
        stored run's card does, ``cctui.delivery.runs.standing``). ``stored`` maps run ids
        to ``store.runs_all()`` documents, ``waiting`` is ``runs.waiting_by_run`` of
        ``store.retries_all()``, read together. Only a run the engine closed and whose runs are all closed in
        ``stored`` (so their scheduled retries are in ``waiting``); True if it changed."""
        if self.final is None or self.running or not self.run_ids:
            return False
        runs = [stored.get(run_id) for run_id in self.run_ids]
        if any(run is None or run.get("status") == "running" for run in runs):
            return False
        settled: Counter = Counter()
        for run in runs:
            assert run is not None  # checked above
            settled.update({k: int(v) for k, v in (run.get("settled") or {}).items()})
        # A delivery is counted by one engine run of a progress at most (a retry sends each
        # record once), so the runs' waiting retries add up.
        mine = [waiting[run_id] for run_id in self.run_ids if run_id in waiting]
        now = (self.final["delivered"] + settled["delivered"], self.final["failed"] + settled["failed"],
               self.final["skipped"] + settled["skipped"], sum(w.retries for w in mine),
               min((w.next_retry for w in mine if w.next_retry), default=None))
        before = (self.delivered, self.failed, self.skipped, self.scheduled, self.next_retry)
        self.delivered, self.failed, self.skipped, self.scheduled, self.next_retry = now
        return now != before

    @classmethod
    def from_stored(cls, run: dict, now: Any = None, waiting: Mapping[str, Waiting] | None = None) -> RunProgress:
        """A run from ``store.runs_all()`` (another session, or a CLI run), with the counts
        its engine stored as they stand now (``waiting``: ``runs.waiting_by_run``, see
        ``cctui.delivery.runs.standing``); a ``running`` one is ``live`` while its
        engine's heartbeat is fresh (another process is sending it) and ``interrupted``
        once it is not."""
        from cctui.delivery.recovery import run_is_live
        from cctui.delivery.runs import standing

        counts = run.get("summary") or run.get("counts") or run
        status = str(run.get("state") or run.get("status") or "done")
        if status == "running":
            # We do not own it either way: someone else sends it, or `cctui retry` must.
            status = "live" if run_is_live(run, now) else "interrupted"
        progress = cls(
            macro=str(run.get("macro", "?")),
            total=int(counts.get("total") or run.get("total") or len(run.get("record_ids") or []) or 0),
            trigger=str(run.get("trigger", "?")),
            run_id=run.get("id") or run.get("run_id"),
            state=status,
            started_at=str(run.get("started_at") or run.get("started") or ""),
            persisted=True,
        )
        progress.sent = int(counts.get("sent") or 0)
        now_counts = standing({**run, "summary": counts}, waiting)
        progress.delivered, progress.failed, progress.skipped = (
            now_counts["delivered"], now_counts["failed"], now_counts["skipped"])
        progress.scheduled = now_counts["retrying"]
        progress.next_retry = now_counts["next_retry"]
        progress.not_sent = int(counts.get("not_sent") or 0)
        progress.codes.update({int(k): int(v) for k, v in (run.get("status_codes") or {}).items()})
        progress.elapsed_fixed = float(run.get("elapsed") or run.get("duration_s") or _seconds_between(
            progress.started_at, run.get("finished") or run.get("heartbeat_at")))
        return progress


def _seconds_between(start: str, end: Any) -> float:
    """Seconds from ISO ``start`` to ISO ``end``; 0 when either is missing or unreadable."""
    from cctui.core.clock import parse_iso
    from cctui.errors import CctuiError

    if not start or not isinstance(end, str):
        return 0.0
    try:
        return max(0.0, (parse_iso(end) - parse_iso(start)).total_seconds())
    except CctuiError:
        return 0.0
