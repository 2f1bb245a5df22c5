"""Preview: what a macro would send for one stored record, masked for people to read."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from cctui import USER_AGENT
from cctui.core.clock import now
from cctui.core.records import shown_value
from cctui.errors import MacroError, NotFound
from cctui.macros import signing
from cctui.macros.model import Macro
from cctui.macros.request import RenderedRequest, render_request
from cctui.macros.source import RecordSource
from cctui.macros.wire import wire_headers

#: The ``webhook-id`` a preview shows (a real send uses one id per record and run).
PREVIEW_WEBHOOK_ID = "msg_preview"


def find_record(macro: Macro, record_id: str, store: RecordSource) -> dict:
    """The feedback item (or user, for ``target = "users"``) the preview renders."""
    getter = store.user_get if macro.target == "users" else store.feedback_get
    record = getter(record_id)
    if record is None:
        kind = "user" if macro.target == "users" else "feedback item"
        raise NotFound(f"--item: there is no {kind} {shown_value(record_id)}.")
    return record


def preview_request(
    macro: Macro, record_id: str, *, store: RecordSource, config: Any = None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[dict[str, Any], list[str]]:
    """``({"method", "url", "headers", "body"}, warnings)`` with every secret masked.

    Validates everything a send would (secrets set, tags known, body valid), so a preview
    that succeeds is a request the engine can send. The headers include those the engine
    adds to each attempt (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``
    when the macro signs, ``User-Agent``), with a sample id and the current time.
    """
    record = find_record(macro, record_id, store)
    rendered = render_request(macro, record, store=store, config=config, environ=environ)
    try:
        rendered = with_engine_headers(rendered)
    except MacroError as exc:  # e.g. a malformed whsec_ signing secret
        raise MacroError(f"macro {macro.name}: {exc}") from None
    warnings = list(rendered.warnings)
    if macro.feedback_type and record.get("type") != macro.feedback_type:
        warnings.insert(0, f"macro {macro.name} is limited to {macro.feedback_type}; "
                           f"{record_id} is a {record.get('type')}, so a send would skip it.")
    return rendered.masked(), warnings


def with_engine_headers(rendered: RenderedRequest, *, webhook_id: str = PREVIEW_WEBHOOK_ID,
                        timestamp: int | None = None) -> RenderedRequest:
    """``rendered`` plus the headers the delivery engine adds to every attempt, made by
    the engine's own functions; the signature counts as a secret (shown as ``v1,••••``)."""
    if timestamp is None:
        timestamp = int(now().timestamp())
    key = signing.secret_key(rendered.signing_secret) if rendered.signing_secret else None
    added = signing.webhook_headers(webhook_id, timestamp, rendered.body, key)
    secrets = set(rendered.secrets)
    for name, value in added:
        if name == "webhook-signature":
            secrets.update(part.partition(",")[2] for part in value.split())
    headers = list(rendered.headers) + added
    if not any(name.lower() == "user-agent" for name, _ in rendered.headers):
        headers.append(("User-Agent", USER_AGENT))
    headers += wire_headers(rendered.method, rendered.url, len(rendered.body.encode("utf-8")))
    return dataclasses.replace(rendered, headers=headers, secrets=frozenset(secrets))


def _toml_string(key: str, value: str) -> str:
    """A multi-line value as a TOML literal block (readable: no escaped quotes) if it can be."""
    import re

    import tomli_w

    plain = not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value)
    if plain and "\n" in value and "'''" not in value and not value.endswith("'"):
        # TOML drops a newline right after the opening ''', so one is always written.
        return f"{key} = '''\n{value}'''\n"
    if plain and "\n" not in value and "'" not in value and ('"' in value or "\\" in value):
        return f"{key} = '{value}'\n"  # a literal string: JSON without \" noise
    return tomli_w.dumps({key: value})


def macro_toml(data: Mapping[str, Any]) -> str:
    """A macro dict as a TOML macro file (what ``macro show`` prints; ``macro add`` reads)."""
    import tomli_w

    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    out = []
    for key, value in scalars.items():
        if isinstance(value, str):
            out.append(_toml_string(key, value))
        else:
            out.append(tomli_w.dumps({key: value}))
    text = "".join(out)
    if tables:
        text += "\n" + tomli_w.dumps(tables)
    return text
