"""What the engine tells its listeners while a run goes on.

The CLI progress bar and the TUI dispatch panel are two listeners of the same events; a
listener is a plain callable taking one event. Events are small frozen dataclasses so a
listener may keep them (e.g. post them to another thread) without copying.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Union

#: Final outcomes of one record in a run.
DELIVERED = "delivered"
FAILED = "failed"
SKIPPED = "skipped"
NOT_SENT = "not_sent"
RENDERED = "rendered"  # dry runs: rendered and valid, not sent
OUTCOMES = (DELIVERED, FAILED, SKIPPED, NOT_SENT, RENDERED)


@dataclass
class RunSummary:
    """Counts for one run. ``not_sent`` records were never tried (the run was cancelled,
    a 410 paused the macro, the circuit breaker opened): they are not in ``failed``, and
    ``cctui retry`` finishes the run by sending them."""

    run_id: str | None
    macro: str
    trigger: str
    total: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    not_sent: int = 0
    attempts: int = 0
    cancelled: bool = False
    dry_run: bool = False
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every record was delivered or skipped: nothing failed, nothing was
        left unsent, the run was not cancelled."""
        return self.failed == 0 and self.not_sent == 0 and not self.cancelled

    def to_dict(self) -> dict:
        return asdict(self)

    def merge(self, other: "RunSummary") -> "RunSummary":
        """Sum two summaries (``retry`` reports one summary over several runs)."""
        for name in ("total", "sent", "delivered", "failed", "skipped", "not_sent", "attempts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
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


Event = Union[RunStarted, AttemptStarted, AttemptFinished, RetryScheduled, RecordDone, RunFinished]
Listener = Callable[[Event], None]
