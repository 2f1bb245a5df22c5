"""What the engine tells its listeners while a run goes on.

The CLI progress bar and the TUI dispatch panel are two listeners of the same events; a
listener is a plain callable taking one event. Events are small frozen dataclasses so a
listener may keep them (e.g. post them to another thread) without copying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

#: Final outcomes of one record in a run.
DELIVERED = "delivered"
FAILED = "failed"
SKIPPED = "skipped"
NOT_SENT = "not_sent"
RENDERED = "rendered"  # dry runs: rendered and valid, not sent
#: The next attempt is due later than the run may wait: persisted as a scheduled retry
#: (``cctui run-due``, ``cctui retry``, the open TUI send it). Not a failure.
RETRYING = "retrying"
OUTCOMES = (DELIVERED, FAILED, SKIPPED, NOT_SENT, RENDERED, RETRYING)


@dataclass
class RunSummary:
    """Counts for one run. ``not_sent`` records were never tried (the run was cancelled,
    a 410 paused the macro, the circuit breaker opened): they are not in ``failed``, and
    ``cctui retry`` finishes the run by sending them. ``retrying`` records have a retry
    scheduled for later (soonest at ``next_retry``); they are not failures either."""

    run_id: str | None
    macro: str
    trigger: str
    total: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    not_sent: int = 0
    retrying: int = 0
    next_retry: str | None = None  # ISO 8601 UTC: the soonest scheduled retry
    attempts: int = 0
    cancelled: bool = False
    dry_run: bool = False
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every record was delivered or skipped: nothing failed, nothing was
        left unsent, the run was not cancelled."""
        return self.failed == 0 and self.not_sent == 0 and not self.cancelled

    def note_retry(self, due: str | None) -> None:
        """Keep the soonest of the scheduled retries' due times."""
        if due and (self.next_retry is None or due < self.next_retry):
            self.next_retry = due

    def to_dict(self) -> dict:
        return asdict(self)

    def merge(self, other: RunSummary) -> RunSummary:
        """Sum two summaries (``retry`` reports one summary over several runs)."""
        for name in ("total", "sent", "delivered", "failed", "skipped", "not_sent", "retrying", "attempts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.note_retry(other.next_retry)
        self.cancelled = self.cancelled or other.cancelled
        self.reason = self.reason or other.reason
        return self


@dataclass(frozen=True)
class RunStarted:
    run_id: str | None
    macro: str
    trigger: str
    total: int
    dry_run: bool = False


@dataclass(frozen=True)
class AttemptStarted:
    run_id: str | None
    record_id: str
    delivery_id: str
    attempt: int
    url: str  # masked


@dataclass(frozen=True)
class AttemptFinished:
    run_id: str | None
    record_id: str
    delivery_id: str
    attempt: int
    status_code: int  # 0 when no response came
    duration_ms: int
    ok: bool
    error: str | None
    explanation: str  # one line, e.g. "404 Not Found: channel_not_found"


@dataclass(frozen=True)
class RetryScheduled:
    run_id: str | None
    record_id: str
    delivery_id: str
    attempt: int  # the attempt that will come next
    delay: float  # seconds
    status_code: int = 0  # of the attempt that failed (0: no response)
    retry: int = 0  # which of the policy's retries this is (1-based); 0: a wait the server asked for
    retries: int = 0  # how many retries the policy allows
    due: str | None = None  # ISO 8601 UTC
    scheduled: bool = False  # True: persisted for later, the run does not wait for it

    def describe(self) -> str:
        """``BUG-0002: 503, retry 2 of 5 in 30 s`` (what a run is waiting for)."""
        code = str(self.status_code) if self.status_code else "no response"
        which = f"retry {self.retry} of {self.retries}" if self.retry else "retry (server asked to wait)"
        when = f"scheduled at {self.due}" if self.scheduled else f"in {_seconds(self.delay)}"
        return f"{self.record_id}: {code}, {which} {when}"


def _seconds(delay: float) -> str:
    return f"{delay:.1f} s" if delay < 10 else f"{delay:.0f} s"


@dataclass(frozen=True)
class RecordDone:
    run_id: str | None
    record_id: str
    delivery_id: str
    outcome: str  # one of OUTCOMES
    status_code: int = 0
    attempts: int = 0
    error: str | None = None
    extra: dict = field(default_factory=dict)  # e.g. return values written to the record


@dataclass(frozen=True)
class RunFinished:
    run_id: str | None
    summary: RunSummary
    cancelled: bool = False


Event = RunStarted | AttemptStarted | AttemptFinished | RetryScheduled | RecordDone | RunFinished
Listener = Callable[[Event], None]
