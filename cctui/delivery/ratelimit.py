"""Per-host token buckets, so a bulk send respects each receiver's pace.

A macro's ``rate_limit`` (requests/s) applies to its URL's host; hooks.slack.com gets 1/s
by default (Slack's documented pace). After a 429 nothing is sent to the host until the
server's wait is over, and the host's rate is halved, so a run converges on the
receiver's limit instead of hammering it (Discord bans clients that ignore 429s). The
slowdown is bounded and recovers:

- a 429 with ``Retry-After: w`` never takes the rate below what that implies (1/w per
  second, w in whole seconds: ``Retry-After: 1`` means about 1/s), and that rate stays
  the floor for later 429s without a ``Retry-After``;
- after a run of successes the rate steps back up (x1.25), up to the macro's
  ``rate_limit`` (or back to unlimited). Each 429 that follows a step up makes the next
  step wait for twice as many successes, so a receiver's limit costs few 429s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: A 429 with Retry-After does not use up the retry schedule (the server says when to
#: come back), but a record gives up after this many of them.
MAX_RATE_LIMITED = 10
#: Hosts with a known pace (requests/s) when the macro does not set one.
DEFAULT_HOST_RATES = {"hooks.slack.com": 1.0}
MIN_RATE = 0.05  # never slow below one request per 20 s
#: Successes in a row (at first) before the rate steps back up after a slowdown.
RECOVER_AFTER = 5
RECOVER_STEP = 1.25
MAX_PATIENCE = 320
#: A host with no configured limit is unlimited again once it recovers past this rate.
UNLIMITED_ABOVE = 100.0


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``. ``rate`` None = unlimited
    (until a 429 sets one)."""

    def __init__(self, rate: float | None, burst: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.base = rate  # the configured rate (None = unlimited): recovery goes back to it
        self.floor = MIN_RATE  # raised by a Retry-After: never slow below what it implies
        self._streak = 0  # successes since the last 429 or step up
        self._patience = RECOVER_AFTER  # successes needed for the next step up
        self._stepped = False  # stepped up since the last slowdown
        self.burst = max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._not_before = 0.0
        self._slowed_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        if self.rate:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self) -> float:
        """Take a token; return how long to wait before using it (0 = now)."""
        now = self._clock()
        wait = max(0.0, self._not_before - now)
        if not self.rate:
            return wait
        self._refill(now)
        self._tokens -= 1.0
        if self._tokens < 0:
            wait = max(wait, -self._tokens / self.rate)
        return wait

    async def acquire(self) -> None:
        """Wait for a token. Waiters queue in order so the pace stays even."""
        if not self.rate and self._not_before <= self._clock():
            return  # the common unlimited case: no lock, no sleep
        async with self._lock:
            wait = self.reserve()
            if wait > 0:
                await asyncio.sleep(wait)

    def slow_down(self, wait: float | None) -> None:
        """After a 429: pause the host for ``wait`` seconds and halve its rate, but never
        below the rate ``wait`` implies (1/wait) nor the floor an earlier one set."""
        now = self._clock()
        if wait:
            self._not_before = max(self._not_before, now + wait)
        self._streak = 0
        if now < self._slowed_until:
            return  # the other in-flight 429s of the same burst: slow down once, not N times
        # The pace the server's wait implies: one request per Retry-After, counted in
        # whole seconds as HTTP defines it (a sub-second "next slot in 0.02 s" says
        # nothing about a floor, so it cannot hold the rate up at 50/s).
        implied = 1.0 / max(wait, 1.0) if wait else None
        if implied is not None:
            self.floor = max(MIN_RATE, min(implied, self.base) if self.base else implied)
        if self.rate:
            rate = self.rate / 2
            if implied is not None:
                rate = max(rate, min(implied, self.rate))  # never halve below what it implies
            self.rate = max(self.floor, rate) if self.floor <= self.rate else self.rate
        else:
            # No limit known: start from the server's wait (1 per wait), then halve.
            self.rate = max(MIN_RATE, 1.0 / wait) if wait else 1.0
        if self._stepped:  # a step up brought this 429: climb more slowly next time
            self._patience = min(MAX_PATIENCE, self._patience * 2)
            self._stepped = False
        # Requests already in flight at the old pace may still bounce: ignore their 429s
        # for about two intervals at the new pace.
        self._slowed_until = now + max(wait or 0.0, 2.0 / self.rate)
        self._tokens = min(self._tokens, 0.0)
        self._stamp = now

    def success(self) -> None:
        """After a 2xx: once enough successes came in a row, step the rate back up."""
        if self.rate is None or (self.base is not None and self.rate >= self.base):
            return
        self._streak += 1
        if self._streak < self._patience:
            return
        self._streak = 0
        self._stepped = True
        rate = self.rate * RECOVER_STEP
        if self.base is not None:
            self.rate = min(self.base, rate)
        elif rate >= UNLIMITED_ABOVE:
            self.rate, self.floor = None, MIN_RATE
        else:
            self.rate = rate


class HostLimiter:
    """One bucket per host, created on first use."""

    def __init__(self, default_rate: float | None = None, host_rates: dict[str, float] | None = None) -> None:
        self.default_rate = default_rate
        self.host_rates = {**DEFAULT_HOST_RATES, **(host_rates or {})}
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, host: str) -> TokenBucket:
        bucket = self._buckets.get(host)
        if bucket is None:
            rate = self.default_rate if self.default_rate else self.host_rates.get(host)
            bucket = self._buckets[host] = TokenBucket(rate, burst=1.0)
        return bucket

    async def acquire(self, host: str) -> None:
        await self.bucket(host).acquire()

    def slow_down(self, host: str, wait: float | None) -> None:
        self.bucket(host).slow_down(wait)

    def paused_for(self, host: str) -> float:
        """Seconds until ``host`` may be sent to again after a 429's wait (0: now)."""
        bucket = self._buckets.get(host)
        return max(0.0, bucket._not_before - bucket._clock()) if bucket is not None else 0.0

    def success(self, host: str) -> None:
        bucket = self._buckets.get(host)
        if bucket is not None and bucket.rate is not None:
            bucket.success()
