"""Macro files: every key validated, errors naming the file, key and line."""

from __future__ import annotations

import json

import pytest

from cctui.errors import MacroError
from cctui.macros import Macro, load_macro_file

BASE = {"name": "slack-bugs", "url": "https://hooks.slack.com/services/T0/B0/X"}

CONTRACT_EXAMPLE = '''
name = "slack-bugs"
target = "feedback"
feedback_type = "Bug Report"
method = "POST"
url = "https://hooks.slack.com/services/T000/B000/XXXX"
headers = """
Content-Type: application/json
Authorization: Bearer ${SLACK_TOKEN}
"""
format = "json"
body = \'\'\'{"text": "New bug ((id)): ((title))"}\'\'\'
once_per_record = false
timeout = 15
concurrency = 8
rate_limit = 1.0
signing_secret = "${HOOK_SECRET}"
[return_values]
jira_key = "key"
[on_success]
status = "Escalated"
[trigger]
on = ["submit", "modify"]
filter = "severity:critical"
[schedule]
cron = "0 9 * * *"
filter = "status:new"
start = "2026-12-01"
end = "2027-06-30"
'''


def test_the_contract_example_loads_and_round_trips(tmp_path):
    path = tmp_path / "slack.toml"
    path.write_text(CONTRACT_EXAMPLE)
    macro = load_macro_file(path)
    assert macro.header_list == [("Content-Type", "application/json"),
                                 ("Authorization", "Bearer ${SLACK_TOKEN}")]
    assert macro.on_success == {"status": "Escalated"}
    assert macro.trigger == {"on": ["submit", "modify"], "filter": "severity:critical"}
    assert macro.schedule["cron"] == "0 9 * * *"
    stored = macro.to_dict()
    assert stored["signing_secret"] == "${HOOK_SECRET}"  # never resolved
    json.dumps(stored)  # what the store keeps is plain JSON
    assert Macro.from_dict(stored) == macro
    as_json = tmp_path / "slack.json"
    as_json.write_text(json.dumps(stored))
    assert load_macro_file(as_json) == macro


def test_defaults():
    macro = Macro.from_dict(BASE)
    assert (macro.target, macro.method, macro.format, macro.timeout, macro.concurrency) == (
        "feedback", "POST", "json", 15.0, 8)
    assert macro.paused is False and macro.rate_limit is None


def test_duplicate_headers_are_kept_in_order():
    macro = Macro.from_dict({**BASE, "headers": "Accept: a\nX-Tag: 1\nX-Tag: 2\n"})
    assert macro.header_list == [("Accept", "a"), ("X-Tag", "1"), ("X-Tag", "2")]


@pytest.mark.parametrize("change, message", [
    ({"name": "Slack Bugs"}, "key 'name' must be lowercase letters, digits and '-'"),
    ({"target": "teams"}, "key 'target' must be feedback or users"),
    ({"feedback_type": "Complaint"}, "key 'feedback_type': unknown feedback type 'Complaint'"),
    ({"method": "FETCH"}, "key 'method': unknown method 'FETCH' (known: GET, POST, PUT, PATCH, DELETE)"),
    ({"url": "ftp://files.example/x"}, "key 'url' must be an http:// or https:// URL"),
    ({"url": "hooks.slack.com/x"}, "key 'url' must be an http:// or https:// URL"),
    ({"headers": "Content-Type: application/json\nBearer abc"}, "headers line 2 ('Bearer abc') has no colon"),
    ({"headers": "Bad Name: x"}, "headers line 1: 'Bad Name' is not a valid header name"),
    ({"format": "xml"}, "key 'format' must be one of json, form, text"),
    ({"timeout": 0}, "key 'timeout' must be more than 0"),
    ({"timeout": "soon"}, "key 'timeout' must be a number"),
    ({"concurrency": 2.5}, "key 'concurrency' must be a whole number"),
    ({"once_per_record": "yes"}, "key 'once_per_record' must be true or false"),
    ({"return_values": {"id": "key"}}, "[return_values] field 'id' is read-only"),
    ({"on_success": {"status": "Done-ish"}}, "[on_success]: field 'status': unknown status 'Done-ish'"),
    ({"trigger": {"on": ["delete"]}}, "[trigger] key 'on' must list submit and/or modify"),
    ({"schedule": {"every": "yearly"}}, "[schedule] key 'every' must be one of hourly, daily"),
    ({"schedule": {"cron": "61 * * * *"}}, "[schedule] key 'cron': '61 * * * *' is not a cron expression"),
    ({"schedule": {"every": "daily", "start": "2027-01-01", "end": "2026-01-01"}}, "'start' is after 'end'"),
    ({"schedule": {"every": "daily", "start": "someday"}}, "[schedule] key 'start': 'someday' is not an ISO 8601"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"body": '{"a": "((titel.__class__))"}'}, "refused by the sandbox"),
])
def test_each_bad_key_is_one_sentence_naming_the_file_and_key(tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**BASE, **change}))
    with pytest.raises(MacroError) as caught:
        load_macro_file(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text
    assert "\n" not in text and "Traceback" not in text


def test_trigger_filter_uses_the_query_language():
    with pytest.raises(MacroError, match=r"\[trigger\] key 'filter': filter term 'votes:>many'"):
        Macro.from_dict({**BASE, "trigger": {"on": ["submit"], "filter": "votes:>many"}})


def test_url_may_be_a_secret_reference():
    assert Macro.from_dict({**BASE, "url": "${SLACK_WEBHOOK_URL}"}).url == "${SLACK_WEBHOOK_URL}"


def test_broken_files_name_the_file(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text('name = "x"\nurl = ')
    with pytest.raises(MacroError, match=r"m.toml: not valid TOML"):
        load_macro_file(bad)
    with pytest.raises(MacroError, match=r"must end in .toml or .json"):
        load_macro_file(tmp_path / "m.yaml")
    with pytest.raises(MacroError, match="no such file"):
        load_macro_file(tmp_path / "none.toml")


def test_a_json_body_may_be_given_as_an_object(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**BASE, "body": {"text": "((title))", "votes": "((votes))"}}))
    assert '"text": "((title))"' in load_macro_file(path).body
