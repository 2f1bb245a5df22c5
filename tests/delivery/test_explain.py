"""Explanations for status codes and vendor error bodies."""

from __future__ import annotations

import json

import pytest

from cctui.delivery.explain import explain


@pytest.mark.parametrize("body, title", [
    ("channel_not_found", "404 Not Found: channel not found"),
    ("no_service", "404 Not Found: hook disabled or removed"),
])
def test_slack_404_bodies(body, title):
    assert explain(404, body).title == title


def test_slack_bodies_for_other_codes():
    assert explain(400, "invalid_payload").title == "400 Bad Request: invalid payload"
    assert explain(410, "channel_is_archived").title == "410 Gone: channel archived, macro paused"
    assert "resume" in explain(410, "channel_is_archived").action
    assert explain(403, "some_new_code").title == "403 Forbidden: some new code"


def test_jira_errors():
    body = json.dumps({"errorMessages": [], "errors": {"summary": "Field 'summary' cannot be set."}})
    assert explain(400, body).title == "400 Bad Request: summary: Field 'summary' cannot be set."


def test_salesforce_errors():
    body = json.dumps([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    result = explain(401, body)
    assert result.title == "401 Unauthorized: INVALID_SESSION_ID: Session expired or invalid"
    assert "token expired" in result.action


def test_discord_rate_limit_body():
    body = json.dumps({"message": "You are being rate limited.", "retry_after": 0.5, "global": False})
    assert explain(429, body).title == "429 Too Many Requests: You are being rate limited. (retry after 0.5 s)"


def test_redirect_names_the_location():
    assert explain(301, "", {"Location": "https://x/y"}).title == "301 Moved Permanently: URL moved to https://x/y"


@pytest.mark.parametrize("error, title", [
    ("timed out after 15 s", "no response: timed out"),
    ("connection refused by 127.0.0.1:9", "no response: connection refused"),
    ("DNS lookup failed for nope.invalid: Name or service not known", "no response: DNS lookup failed"),
    ("connection reset: the server closed the connection", "no response: connection reset"),
])
def test_no_response(error, title):
    assert explain(0, error=error).title == title


def test_success_and_unknown_codes():
    assert explain(202).title == "202 Accepted"
    assert explain(499).title == "499 Client Error"
    assert explain(500, "<html>" + "x" * 5000).title == "500 Internal Server Error"
