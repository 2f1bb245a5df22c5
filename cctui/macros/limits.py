"""Warnings when a rendered body exceeds a known target's documented limits.

The limits are Slack's (Block Kit) and Discord's (webhook messages), recognised by the
payload's shape; a body over them is usually rejected with a 400, so the preview says so
before anything is sent.
"""

from __future__ import annotations

import json
from typing import Any

SLACK_TEXT = 40_000
SLACK_BLOCKS = 50
SLACK_SECTION_TEXT = 3_000
SLACK_FIELD_TEXT = 2_000
SLACK_FIELDS = 10
SLACK_HEADER_TEXT = 150
DISCORD_CONTENT = 2_000
DISCORD_EMBEDS = 10
DISCORD_EMBED_TITLE = 256
DISCORD_EMBED_DESCRIPTION = 4_096
DISCORD_EMBED_FIELDS = 25
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1_024
DISCORD_EMBED_TOTAL = 6_000


def _text(node: Any) -> str:
    if isinstance(node, dict):
        node = node.get("text", "")
    return node if isinstance(node, str) else ""


def _slack(payload: dict, warn: list[str]) -> None:
    if len(_text(payload.get("text"))) > SLACK_TEXT:
        warn.append(f"Slack: top-level text is over {SLACK_TEXT:,} characters and will be cut.")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list):
        return
    if len(blocks) > SLACK_BLOCKS:
        warn.append(f"Slack: {len(blocks)} blocks, over the limit of {SLACK_BLOCKS}.")
    for number, block in enumerate(blocks, start=1):
        if not isinstance(block, dict):
            continue
        text = _text(block.get("text"))
        if block.get("type") == "header" and len(text) > SLACK_HEADER_TEXT:
            warn.append(f"Slack: header block {number} text is {len(text):,} characters, over {SLACK_HEADER_TEXT}.")
        if block.get("type") == "section":
            if len(text) > SLACK_SECTION_TEXT:
                warn.append(f"Slack: section block {number} text is {len(text):,} characters, over {SLACK_SECTION_TEXT:,}.")
            fields = block.get("fields") or []
            if isinstance(fields, list):
                if len(fields) > SLACK_FIELDS:
                    warn.append(f"Slack: section block {number} has {len(fields)} fields, over {SLACK_FIELDS}.")
                for f in fields:
                    if len(_text(f)) > SLACK_FIELD_TEXT:
                        warn.append(f"Slack: a field of section block {number} is over {SLACK_FIELD_TEXT:,} characters.")


def _discord(payload: dict, warn: list[str]) -> None:
    content = _text(payload.get("content"))
    if len(content) > DISCORD_CONTENT:
        warn.append(f"Discord: content is {len(content):,} characters, over {DISCORD_CONTENT:,}.")
    embeds = payload.get("embeds")
    if not isinstance(embeds, list):
        return
    if len(embeds) > DISCORD_EMBEDS:
        warn.append(f"Discord: {len(embeds)} embeds, over {DISCORD_EMBEDS}.")
    total = 0
    for number, embed in enumerate(embeds, start=1):
        if not isinstance(embed, dict):
            continue
        title, description = _text(embed.get("title")), _text(embed.get("description"))
        total += len(title) + len(description) + len(_text(embed.get("footer") or {}))
        if len(title) > DISCORD_EMBED_TITLE:
            warn.append(f"Discord: embed {number} title is over {DISCORD_EMBED_TITLE} characters.")
        if len(description) > DISCORD_EMBED_DESCRIPTION:
            warn.append(f"Discord: embed {number} description is over {DISCORD_EMBED_DESCRIPTION:,} characters.")
        fields = embed.get("fields") or []
        if isinstance(fields, list):
            if len(fields) > DISCORD_EMBED_FIELDS:
                warn.append(f"Discord: embed {number} has {len(fields)} fields, over {DISCORD_EMBED_FIELDS}.")
            for f in fields:
                if isinstance(f, dict):
                    name, value = str(f.get("name", "")), str(f.get("value", ""))
                    total += len(name) + len(value)
                    if len(name) > DISCORD_FIELD_NAME or len(value) > DISCORD_FIELD_VALUE:
                        warn.append(f"Discord: a field of embed {number} is over {DISCORD_FIELD_NAME}/{DISCORD_FIELD_VALUE:,} characters.")
    if total > DISCORD_EMBED_TOTAL:
        warn.append(f"Discord: embed text totals {total:,} characters, over {DISCORD_EMBED_TOTAL:,}.")


def check_limits(macro: Any, body: str) -> list[str]:
    """Warnings for ``body`` as rendered for ``macro`` (empty when nothing is over)."""
    if getattr(macro, "format", "json") != "json" or not body:
        return []
    url = getattr(macro, "url", "")
    if not any(k in body for k in ('"blocks"', '"embeds"', '"content"', '"text"')):
        return []  # nothing a known target limits: skip parsing again (bulk sends)
    try:
        payload = json.loads(body)
    except ValueError:
        return []
    if not isinstance(payload, dict):
        return []
    warn: list[str] = []
    if "blocks" in payload or "hooks.slack.com" in url:
        _slack(payload, warn)
    if "embeds" in payload or "content" in payload or "discord" in url.lower():
        _discord(payload, warn)
    return warn
