"""Presets render valid JSON of the target's documented shape for a whole seeded data set."""

from __future__ import annotations

import json

import pytest

from cctui.core.seed import generate
from cctui.errors import MacroError
from cctui.macros import PRESETS, preset, render_request, sample_macros
from cctui.macros.limits import (
    DISCORD_CONTENT,
    DISCORD_EMBED_TOTAL,
    SLACK_FIELD_TEXT,
    SLACK_HEADER_TEXT,
    SLACK_SECTION_TEXT,
)

from .conftest import NASTY, make_record

ENV = {"JIRA_AUTH": "ZW1haWw6dG9rZW4=", "SALESFORCE_TOKEN": "00Dxx!token"}
URLS = {"slack": "https://hooks.slack.com/services/T0/B0/X",
        "jira": "https://acme.atlassian.net/rest/api/3/issue",
        "teams": "https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=abc",
        "discord": "https://discord.com/api/webhooks/1/tok",
        "salesforce": "https://acme.my.salesforce.com/services/data/v60.0/sobjects/Case/",
        "generic": "https://example.test/hook"}


def _records() -> list[dict]:
    items, _users = generate(200, seed=7)
    records = [{**item, "id": f"BUG-{n:04d}"} for n, item in enumerate(items, start=1)]
    # And the nastiest text in every text field.
    for n, text in enumerate(NASTY):
        records.append(make_record(900 + n, title=text or "t", description=text, steps=text,
                                   submitter=text, category=text))
    return records


RECORDS = _records()


def check_slack(p: dict) -> None:
    assert isinstance(p["text"], str) and p["text"]
    header, section, fields = p["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= SLACK_HEADER_TEXT
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert len(section["text"]["text"]) <= SLACK_SECTION_TEXT
    assert all(len(f["text"]) <= SLACK_FIELD_TEXT for f in fields["fields"])


def check_jira(p: dict) -> None:
    fields = p["fields"]
    assert fields["project"]["key"] and fields["issuetype"]["name"] in ("Bug", "Task")
    assert fields["summary"] and "\n" not in fields["summary"] and len(fields["summary"]) <= 255
    doc = fields["description"]
    assert doc["type"] == "doc" and doc["version"] == 1
    for paragraph in doc["content"]:
        assert paragraph["type"] == "paragraph"
        assert all(node["type"] == "text" and node["text"] for node in paragraph["content"])


def check_teams(p: dict) -> None:
    assert p["type"] == "message"
    (attachment,) = p["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] and card["body"]


def check_discord(p: dict) -> None:
    assert 0 < len(p["content"]) <= DISCORD_CONTENT
    (embed,) = p["embeds"]
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert len(embed["title"]) <= 256 and total <= DISCORD_EMBED_TOTAL
    assert all(f["value"] for f in embed["fields"])


def check_salesforce(p: dict) -> None:
    assert set(p) >= {"Subject", "Description", "Priority", "Origin"}
    assert p["Priority"] in ("High", "Medium", "Low") and len(p["Subject"]) <= 255


CHECKS = {"slack": check_slack, "jira": check_jira, "teams": check_teams,
          "discord": check_discord, "salesforce": check_salesforce}


@pytest.mark.parametrize("kind", PRESETS)
@pytest.mark.parametrize("base_url", [None, "https://feedback.example/items/"])
def test_preset_renders_valid_json_of_the_targets_shape_for_every_record(kind, base_url):
    macro = preset(kind, name=f"{kind}-test", url=URLS[kind])
    config = {"base_url": base_url} if base_url else None
    for record in RECORDS:
        request = render_request(macro, record, config=config, environ=ENV)
        payload = json.loads(request.body)
        assert request.warnings == [], (record["id"], request.warnings)
        if kind == "generic":
            assert payload == record
        else:
            CHECKS[kind](payload)


def test_slack_links_the_title_when_a_base_url_is_configured():
    macro = preset("slack", name="s", url=URLS["slack"])
    record = make_record(title="a <b> & c")
    linked = json.loads(render_request(macro, record, config={"base_url": "https://fb.example/"}).body)
    assert "*<https://fb.example/BUG-0001|a &lt;b&gt; &amp; c>*" in linked["blocks"][1]["text"]["text"]
    plain = json.loads(render_request(macro, record).body)
    assert plain["blocks"][1]["text"]["text"].startswith("*a &lt;b&gt; &amp; c*")


def test_jira_sends_basic_auth_and_maps_the_key_back():
    macro = preset("jira", name="j", url=URLS["jira"])
    request = render_request(macro, make_record(), environ=ENV)
    assert ("Authorization", "Basic ZW1haWw6dG9rZW4=") in request.headers
    assert macro.return_values == {"jira_key": "key"}
    assert request.masked()["headers"]["Authorization"] == "Basic ••••"


def test_teams_workflow_signature_is_masked_in_the_shown_url():
    request = render_request(preset("teams", name="t", url=URLS["teams"]), make_record())
    assert request.masked()["url"].endswith("?sig=••••")


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(MacroError, match=r"unknown preset 'mattermost' \(known: slack, jira, teams, discord, salesforce, generic\)"):
        preset("mattermost", name="m", url="https://x.example")


def test_limits_are_warned_for_a_body_that_ignores_them():
    from cctui.macros import Macro

    macro = Macro.from_dict({"name": "long", "url": URLS["slack"], "body":
                             '{"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "((description))"}}],'
                             ' "content": "((description))"}'})
    warnings = render_request(macro, make_record(description="y" * 3001)).warnings
    assert any("section block 1 text is 3,001 characters, over 3,000" in w for w in warnings)
    assert any("Discord: content is 3,001 characters, over 2,000" in w for w in warnings)


def test_sample_macros_point_at_the_base_url_and_render():
    samples = sample_macros("http://127.0.0.1:9999/")
    names = [m.name for m in samples]
    assert {"slack-bugs", "generic-all", "jira-critical", "broken-404"} <= set(names)
    assert len(set(names)) == len(names)
    for macro in samples:
        assert macro.url.startswith("http://127.0.0.1:9999/")
        json.loads(render_request(macro, RECORDS[0], environ={}).body)
    jira = next(m for m in samples if m.name == "jira-critical")
    assert jira.return_values == {"jira_key": "key"}
