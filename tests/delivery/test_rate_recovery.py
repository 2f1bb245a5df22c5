"""The slowdown after a 429 is bounded by the server's Retry-After and recovers after
successes: a short Retry-After never turns into minutes of waiting."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiohttp import web

from cctui.delivery import Engine
from cctui.delivery.ratelimit import RECOVER_AFTER, TokenBucket
from cctui.delivery.receiver import Receiver, serve_in_background

from .conftest import add_items, fast_config, put_macro


class LimitedAtFirst(Receiver):
    """Answers ``429 Retry-After: 1`` to the first ``limited`` requests, then 200."""

    limited = 3

    async def answer(self, request, body):
        if self.count <= self.limited:
            return web.Response(status=429, text="slow down", headers={"Retry-After": "1"})
        return web.Response(text="ok")


@pytest.fixture
def limited():
    url, stop = serve_in_background(receiver=LimitedAtFirst())
    yield url, stop.receiver
    stop()


def test_short_retry_after_bounds_the_slowdown_and_the_attempts(store, limited, monkeypatch):
    url, receiver = limited
    rates = []
    original = TokenBucket.slow_down

    def spy(self, wait):
        original(self, wait)
        rates.append(self.rate)

    monkeypatch.setattr(TokenBucket, "slow_down", spy)
    ids = add_items(store, 3)
    put_macro(store, url=url + "/hook", concurrency=1)
    config = fast_config(retry_schedule=[0.01, 0.01], jitter=0.0)  # a tiny schedule, as reported
    summary = asyncio.run(Engine(store, config).run("hook", ids))
    assert summary.delivered == 3 and summary.failed == 0
    # Every 429 was waited out once (Retry-After), none used up the schedule or was lost.
    assert receiver.count == LimitedAtFirst.limited + len(ids) == summary.attempts
    per_record = Counter(e["record_id"] for e in store.log_iter())
    assert sum(per_record.values()) == 6 and max(per_record.values()) <= LimitedAtFirst.limited + 1
    # Retry-After: 1 means about 1/s: the rate was never halved below that.
    assert len(rates) == LimitedAtFirst.limited and min(rates) >= 1.0


def test_retry_after_is_a_floor_and_the_rate_recovers_after_successes():
    clock = [0.0]
    bucket = TokenBucket(None, clock=lambda: clock[0])
    for _ in range(14):  # fourteen 429s with Retry-After: 1, far apart
        clock[0] += 10.0
        bucket.slow_down(1.0)
        assert bucket.rate >= 1.0
    bucket.slow_down(None)  # a later 429 without Retry-After: the floor still holds
    clock[0] += 10.0
    bucket.slow_down(None)
    assert bucket.rate == 1.0
    for _ in range(RECOVER_AFTER):
        bucket.success()
    assert bucket.rate == pytest.approx(1.25)  # one step up after a run of successes
    clock[0] += 10.0
    bucket.slow_down(1.0)  # that step was too fast: back to the floor, climb more slowly
    assert bucket.rate == 1.0
    for _ in range(RECOVER_AFTER):
        bucket.success()
    assert bucket.rate == 1.0
    for _ in range(RECOVER_AFTER):
        bucket.success()
    assert bucket.rate == pytest.approx(1.25)
    while bucket.rate is not None:  # with no configured limit it ends unlimited again
        bucket.success()
    configured = TokenBucket(4.0, clock=lambda: clock[0])
    clock[0] += 10.0
    configured.slow_down(None)
    assert configured.rate == 2.0
    for _ in range(100):
        configured.success()
    assert configured.rate == 4.0  # back to the macro's rate_limit, not beyond
