"""Preview: what a macro would send for one stored record, masked for people to read."""

from __future__ import annotations

import os
from typing import Any, Mapping

from cctui.errors import NotFound
from cctui.macros.model import Macro
from cctui.macros.request import render_request


def find_record(macro: Macro, record_id: str, store: Any) -> dict:
    """The feedback item (or user, for ``target = "users"``) the preview renders."""
    getter = store.user_get if macro.target == "users" else store.feedback_get
    record = getter(record_id)
    if record is None:
        kind = "user" if macro.target == "users" else "feedback item"
        raise NotFound(f"--item: there is no {kind} {record_id!r}.")
    return record


def preview_request(
    macro: Macro, record_id: str, *, store: Any, config: Any = None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[dict[str, Any], list[str]]:
    """``({"method", "url", "headers", "body"}, warnings)`` with every secret masked.

    Validates everything a send would (secrets set, tags known, body valid), so a preview
    that succeeds is a request the engine can send.
    """
    record = find_record(macro, record_id, store)
    rendered = render_request(macro, record, store=store, config=config, environ=environ)
    warnings = list(rendered.warnings)
    if macro.feedback_type and record.get("type") != macro.feedback_type:
        warnings.insert(0, f"macro {macro.name} is limited to {macro.feedback_type}; "
                           f"{record_id} is a {record.get('type')}, so a send would skip it.")
    return rendered.masked(), warnings


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
