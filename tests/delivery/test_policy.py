"""Unit tests of the delivery policy, backoff, rate limiting and signing: one rule each."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from cctui.delivery.policy import (
    DELIVERED,
    FAIL,
    PAUSE,
    RETRY,
    CircuitBreaker,
    RetryPolicy,
    decide,
    parse_retry_after,
    server_wait,
)
from cctui.delivery.ratelimit import HostLimiter, TokenBucket
from cctui.errors import InputError, MacroError
from cctui.macros import signing


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(code):
    assert decide(code).action == DELIVERED


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_3xx_is_a_final_failure_naming_the_location(code):
    decision = decide(code, location="https://example.com/new")
    assert decision.action == FAIL and "URL moved to https://example.com/new" in decision.reason


@pytest.mark.parametrize("code", [400, 401, 403, 404, 405, 409, 413, 415, 422, 418, 501])
def test_rejections_are_not_retried(code):
    assert decide(code).action == FAIL


def test_410_pauses():
    assert decide(410).action == PAUSE


@pytest.mark.parametrize("code", [0, 408, 429, 500, 502, 503, 504])
def test_transient_failures_are_retried(code):
    assert decide(code, error="connection refused").action == RETRY


def test_no_response_keeps_the_error_text():
    assert decide(0, error="timed out after 15 s").reason == "timed out after 15 s"


def test_retry_after_in_seconds_and_as_http_date():
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0
    assert parse_retry_after("soon") is None and parse_retry_after("-3") is None


def test_server_wait_reads_retry_after_discord_headers_and_body():
    assert server_wait({"Retry-After": "3"}) == 3
    assert server_wait({"X-RateLimit-Reset-After": "0.75"}) == 0.75
    assert server_wait({}, {"message": "You are being rate limited.", "retry_after": 2.5}) == 2.5
    assert server_wait({"retry-after": "99999"}) == 3600  # capped
    assert server_wait(None) is None


def test_backoff_follows_the_schedule_with_bounded_jitter_and_honours_the_server():
    policy = RetryPolicy((1.0, 5.0, 30.0), jitter=0.2)
    rng = random.Random(7)
    for attempt, base in enumerate((1.0, 5.0, 30.0), start=1):
        for _ in range(50):
            assert base * 0.8 <= policy.delay(attempt, rng=rng) <= base * 1.2
    assert policy.delay(4) is None  # schedule used up
    assert policy.delay(1, server=12.0, rng=rng) == 12.0
    assert RetryPolicy((1.0,), jitter=0.0).delay(1) == 1.0


def test_retry_policy_from_config_and_its_errors():
    assert RetryPolicy.from_config({}).schedule == (1.0, 5.0, 30.0, 120.0, 600.0)
    policy = RetryPolicy.from_config({"retry_schedule": [0.1, 2], "breaker_threshold": 3})
    assert policy.schedule == (0.1, 2.0) and policy.breaker_threshold == 3 and policy.max_attempts == 3
    with pytest.raises(InputError, match="retry_schedule"):
        RetryPolicy.from_config({"retry_schedule": "fast"})
    with pytest.raises(InputError, match="breaker_threshold"):
        RetryPolicy.from_config({"breaker_threshold": 0})


def test_circuit_breaker_opens_after_consecutive_failures_only():
    breaker = CircuitBreaker(3)
    assert not breaker.failure("a", "503") and not breaker.failure("a", "503")
    breaker.success("a")
    assert not breaker.failure("a", "503") and not breaker.failure("a", "503")
    assert breaker.failure("a", "503 Service Unavailable")
    assert "3 consecutive failures to a" in breaker.is_open("a")
    assert breaker.is_open("b") is None


def test_token_bucket_paces_and_slows_down_after_a_429():
    clock = [0.0]
    bucket = TokenBucket(2.0, clock=lambda: clock[0])
    assert bucket.reserve() == 0  # the burst token
    assert bucket.reserve() == pytest.approx(0.5)
    clock[0] = 10.0
    bucket.slow_down(3.0)
    assert bucket.rate == 1.0
    assert bucket.reserve() >= 3.0  # nothing before the server's wait is over
    bucket.slow_down(3.0)  # the same burst's other 429s do not halve again
    assert bucket.rate == 1.0


def test_unlimited_bucket_learns_a_rate_from_the_first_429():
    clock = [0.0]
    bucket = TokenBucket(None, clock=lambda: clock[0])
    assert bucket.reserve() == 0 and bucket.reserve() == 0
    bucket.slow_down(0.5)
    assert bucket.rate == 2.0


def test_slack_hosts_get_one_request_per_second_by_default():
    limiter = HostLimiter()
    assert limiter.bucket("hooks.slack.com").rate == 1.0
    assert limiter.bucket("example.com").rate is None
    assert HostLimiter(5.0).bucket("hooks.slack.com").rate == 5.0


def test_signature_matches_the_standard_webhooks_definition():
    key = b"k" * 32
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000.{\"a\":1}", hashlib.sha256).digest()).decode()
    assert signing.sign(secret, "msg_1", 1700000000, '{"a":1}') == "v1," + expected
    raw = base64.b64encode(hmac.new(b"plain", b"m.1.x", hashlib.sha256).digest()).decode()
    assert signing.sign("plain", "m", 1, "x") == "v1," + raw
    headers = dict(signing.webhook_headers("m", 1, "x", signing.secret_key("plain")))
    assert signing.verify("plain", headers, "x") and not signing.verify("plain", headers, "y")
    assert "webhook-signature" not in dict(signing.webhook_headers("m", 1, "x"))
    with pytest.raises(MacroError, match="signing_secret"):
        signing.secret_key("whsec_not base64!")
