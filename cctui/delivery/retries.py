"""A record's retries within one run: how long until the next attempt, and whether the
run waits for it or leaves it as a scheduled retry (:mod:`cctui.delivery.scheduled`).

The delay comes from the policy's schedule (:class:`~cctui.delivery.policy.RetryPolicy`)
or, for a 429 that says when, from the server; :class:`Budget` (``[delivery] max_wait``)
decides whether the run waits for it. What a run cannot wait for is stored with
:func:`schedule_entry`.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cctui.core.clock import iso
from cctui.core.clock import now as clock_now
from cctui.delivery.attempt import render_failure_entry
from cctui.delivery.policy import RETRY
from cctui.delivery.ratelimit import MAX_RATE_LIMITED
from cctui.delivery.scheduled import HINT, counted_by

if TYPE_CHECKING:
    from cctui.delivery.policy import RetryPolicy


@dataclass
class Budget:
    """How long one run may wait for retries (``max_wait`` seconds).

    A retry is waited for in the foreground when the record's own waits stay within
    ``max_wait`` in total and the retry is due no later than ``max_wait`` after the
    run's latest first attempt; anything later is scheduled. So a run ends at most about
    ``max_wait`` after its last record was first tried, however its targets behave.
    """

    max_wait: float = float("inf")
    last_start: float = field(default_factory=time.monotonic)

    def started(self) -> None:
        """A record was tried for the first time (the run is still making progress)."""
        self.last_start = time.monotonic()

    def fits(self, delay: float, waited: float) -> bool:
        return waited + delay <= self.max_wait and time.monotonic() + delay <= self.last_start + self.max_wait


def due_at(delay: float) -> str:
    """ISO time ``delay`` seconds from now, rounded up: never sooner than asked."""
    return iso(clock_now() + timedelta(seconds=math.ceil(delay)))


def schedule_entry(state: Any, record_id: str, delivery_id: str, attempt: int, due: str, *,
                   used: int, limited: int, status_code: int, error: str | None,
                   runs: list[str] | None = None) -> dict:
    """The stored form of one scheduled retry (``error`` already masked). ``runs``: the
    earlier runs that left this delivery retrying (``scheduled.counted_by``); a run that
    leaves it retrying too adds itself with ``scheduled.counting``."""
    return {
        "delivery_id": delivery_id, "macro": state.macro.name, "record_id": record_id,
        "run_id": state.run_id, "trigger": state.trigger, "attempt": attempt, "used": used,
        "limited": limited, "due": due, "scheduled_at": iso(), "status_code": status_code,
        "error": error, "claimed_by": None, "claimed_at": None, "claimed_on": None,
        "runs": list(runs or []),
    }


def deferred_entry(state: Any, record_id: str, delivery_id: str, attempt: int, error: str, due: str) -> dict:
    """The log entry of an attempt not made because the host asked to wait past the run's
    budget: no request went out (``not_sent``), and the retry is scheduled at ``due``."""
    entry = render_failure_entry(state, record_id, delivery_id, attempt, error)
    entry["retry_at"] = due
    entry["explanation"] = {
        "title": "not sent: the host asked to wait", "meaning": error,
        "action": f"Nothing to do: the retry is scheduled at {due} ({HINT} sends it when due)."}
    return entry


@dataclass
class RecordRetries:
    """How much of its retries one record has used (carried over from a claimed
    scheduled retry), and how long it has waited in this run."""

    used: int = 0  # retries of the policy's schedule used so far
    limited: int = 0  # 429s with a server wait: they do not use up the schedule
    waited: float = 0.0  # seconds this record has waited for retries in this run
    waiting: dict | None = None  # the retry it waits for (kept, scheduled, if the run stops)
    counted: list[str] = field(default_factory=list)  # earlier runs that left it retrying

    @classmethod
    def carried(cls, claimed: dict | None) -> RecordRetries:
        """Continue the count of a claimed scheduled retry (none: a fresh record)."""
        if not claimed:
            return cls()
        return cls(used=int(claimed.get("used") or 0), limited=int(claimed.get("limited") or 0),
                   counted=counted_by(claimed))

    def next_delay(self, action: str, status_code: int, wait: float | None, policy: RetryPolicy,
                   rng: random.Random) -> tuple[float | None, bool]:
        """``(delay, asked)`` before the next attempt after a decision's ``action``:
        no delay when it is not a retry; ``asked`` when the server said when (a 429 with
        a wait, up to :data:`MAX_RATE_LIMITED` of them), which is not one of our retries."""
        if action != RETRY:
            return None, False
        if status_code == 429 and wait is not None and self.limited < MAX_RATE_LIMITED:
            self.limited += 1
            return wait, True
        self.used += 1
        return policy.delay(self.used, wait, rng), False
