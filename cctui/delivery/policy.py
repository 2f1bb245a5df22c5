"""What to do after an attempt: the delivery policy, one small rule at a time.

- success is any 2xx (Jira 201, Teams 202, Discord 204);
- 3xx is a failure that is not followed ("URL moved"): the macro's URL needs fixing;
- 410 Gone stops the run and pauses the macro until someone resumes it;
- no response, 408, 429, 500, 502, 503 and 504 are retried on a bounded schedule with
  jitter, never sooner than the server's ``Retry-After`` / ``X-RateLimit-Reset-After``;
- every other 4xx/5xx is a final failure (retrying a rejected payload only repeats it), and
  so is a request that could not be built (e.g. a non-ASCII header value).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from cctui.errors import InputError

DELIVERED = "delivered"
RETRY = "retry"
FAIL = "fail"
PAUSE = "pause"

RETRYABLE = frozenset({0, 408, 429, 500, 502, 503, 504})
DEFAULT_SCHEDULE: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
DEFAULT_BREAKER_THRESHOLD = 20
DEFAULT_JITTER = 0.2
#: Seconds a run waits in the foreground for retries, in total; later ones are scheduled.
DEFAULT_MAX_WAIT = 60.0
#: Longest wait a server may ask for before we give up on it for this run.
MAX_SERVER_WAIT = 3600.0


@dataclass(frozen=True)
class Decision:
    """The verdict on one attempt: ``action`` is delivered, retry, fail or pause."""

    action: str
    reason: str

    @property
    def final(self) -> bool:
        return self.action != RETRY


def decide(status_code: int, error: str | None = None, location: str | None = None, *,
           request_error: bool = False) -> Decision:
    """Classify one attempt by its status code (0 = no response, with ``error``).
    ``request_error``: the request could not be built (nothing sent): a final failure."""
    if request_error:
        return Decision(FAIL, error or "the request could not be built")
    if 200 <= status_code < 300:
        return Decision(DELIVERED, f"{status_code}")
    if status_code == 0:
        return Decision(RETRY, error or "no response")
    if 300 <= status_code < 400:
        where = f" to {location}" if location else ""
        return Decision(FAIL, f"URL moved{where} ({status_code}); update the macro's URL")
    if status_code == 410:
        return Decision(PAUSE, "410 Gone: the endpoint is gone; macro paused")
    if status_code in RETRYABLE:
        return Decision(RETRY, f"{status_code}")
    return Decision(FAIL, f"{status_code}")


def server_wait(headers: Mapping[str, str] | None, body: Any = None,
                now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` (seconds or HTTP date),
    Discord's ``X-RateLimit-Reset-After`` or a JSON body's ``retry_after``; None if none.
    """
    if headers:
        lowered = {k.lower(): v for k, v in headers.items()}
        raw = lowered.get("retry-after")
        if raw is not None:
            wait = parse_retry_after(raw, now=now)
            if wait is not None:
                return wait
        raw = lowered.get("x-ratelimit-reset-after")
        if raw is not None:
            wait = _seconds(raw)
            if wait is not None:
                return wait
    if isinstance(body, dict) and "retry_after" in body:
        wait = _seconds(str(body["retry_after"]))
        if wait is not None:
            return wait
    return None


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """``Retry-After: 120`` or ``Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`` -> seconds."""
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    # Capped like a number of seconds: a date decades away must not park a retry forever.
    return min(max(0.0, (when - now).total_seconds()), MAX_SERVER_WAIT)


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value.strip())
    except (TypeError, ValueError):
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative: ignore
        return None
    return min(seconds, MAX_SERVER_WAIT)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before each retry, and when a host counts as down."""

    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    breaker_threshold: int = DEFAULT_BREAKER_THRESHOLD
    jitter: float = DEFAULT_JITTER
    max_wait: float = DEFAULT_MAX_WAIT

    @classmethod
    def from_config(cls, delivery: Mapping[str, Any] | None) -> RetryPolicy:
        """Read ``[delivery]`` ``retry_schedule`` (seconds), ``breaker_threshold``, ``jitter``
        and ``max_wait`` (seconds)."""
        delivery = delivery or {}
        schedule = delivery.get("retry_schedule", DEFAULT_SCHEDULE)
        if not isinstance(schedule, Sequence) or isinstance(schedule, str) or not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) and s >= 0 for s in schedule
        ):
            raise InputError("config [delivery] retry_schedule: expected a list of seconds, e.g. [1, 5, 30].")
        threshold = delivery.get("breaker_threshold", DEFAULT_BREAKER_THRESHOLD)
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
            raise InputError("config [delivery] breaker_threshold: expected a whole number >= 1.")
        jitter = delivery.get("jitter", DEFAULT_JITTER)
        if not isinstance(jitter, (int, float)) or not 0 <= jitter < 1:
            raise InputError("config [delivery] jitter: expected a share between 0 and 1, e.g. 0.2.")
        max_wait = delivery.get("max_wait", DEFAULT_MAX_WAIT)
        if isinstance(max_wait, bool) or not isinstance(max_wait, (int, float)) or not 0 <= max_wait < float("inf"):
            raise InputError("config [delivery] max_wait: expected seconds >= 0, e.g. 60.")
        return cls(tuple(float(s) for s in schedule), threshold, float(jitter), float(max_wait))

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def delay(self, attempt: int, server: float | None = None,
              rng: random.Random | None = None) -> float | None:
        """Seconds to wait after failed ``attempt`` (1-based), or None when retries are
        used up. Jitter is +-``jitter``; never less than what the server asked for."""
        if attempt < 1 or attempt > len(self.schedule):
            return None
        base = self.schedule[attempt - 1]
        spread = base * self.jitter
        wait = base + (rng or random).uniform(-spread, spread) if spread else base
        if server is not None:
            wait = max(wait, server)
        return max(0.0, wait)


class CircuitBreaker:
    """Counts consecutive failed attempts per host; at ``threshold`` the host is open
    (down) for the rest of the run. Any success closes it again."""

    def __init__(self, threshold: int = DEFAULT_BREAKER_THRESHOLD) -> None:
        self.threshold = threshold
        self._failures: dict[str, int] = {}
        self._open: dict[str, str] = {}

    def success(self, host: str) -> None:
        self._failures[host] = 0

    def failure(self, host: str, reason: str) -> bool:
        """Count one failure; True when this one opened the breaker."""
        count = self._failures.get(host, 0) + 1
        self._failures[host] = count
        if count >= self.threshold and host not in self._open:
            self._open[host] = (
                f"circuit breaker: {count} consecutive failures to {host} (last: {reason})"
            )
            return True
        return False

    def is_open(self, host: str) -> str | None:
        """The reason the host is considered down, or None."""
        return self._open.get(host)
