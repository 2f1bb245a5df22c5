"""Per-host token buckets, so a bulk send respects each receiver's pace.

A macro's ``rate_limit`` (requests/s) applies to its URL's host; hooks.slack.com gets 1/s
by default (Slack's documented pace). After a 429 the host's rate is halved and nothing
is sent to it until the server's wait is over, so a run converges on the receiver's
limit instead of hammering it (Discord bans clients that ignore 429s).
"""

from __future__ import annotations

import asyncio
import time

#: A 429 with Retry-After does not use up the retry schedule (the server says when to
#: come back), but a record gives up after this many of them.
MAX_RATE_LIMITED = 10
#: Hosts with a known pace (requests/s) when the macro does not set one.
DEFAULT_HOST_RATES = {"hooks.slack.com": 1.0}
MIN_RATE = 0.05  # never slow below one request per 20 s


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``. ``rate`` None = unlimited
    (until a 429 sets one)."""

    def __init__(self, rate: float | None, burst: float = 1.0, clock=time.monotonic) -> None:
        self.rate = rate
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
        """After a 429: pause the host for ``wait`` seconds and halve its rate."""
        now = self._clock()
        if wait:
            self._not_before = max(self._not_before, now + wait)
        if now < self._slowed_until:
            return  # the other in-flight 429s of the same burst: slow down once, not N times
        if self.rate:
            self.rate = max(MIN_RATE, self.rate / 2)
        else:
            # No limit known: start from what the server's wait implies (1 per wait).
            self.rate = max(MIN_RATE, 1.0 / wait) if wait else 1.0
        # Requests already in flight at the old pace may still bounce: ignore their 429s
        # for about two intervals at the new pace.
        self._slowed_until = now + max(wait or 0.0, 2.0 / self.rate)
        self._tokens = min(self._tokens, 0.0)
        self._stamp = now


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
