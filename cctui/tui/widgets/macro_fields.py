"""Turning the macro form's widgets into a macro dict and back (no Textual here)."""

from __future__ import annotations

from typing import Any

EVERY = ("hourly", "daily", "weekly", "monthly")


def fields_to_text(mapping: Any) -> str:
    """``{"jira_key": "key"}`` as ``jira_key = key`` lines."""
    return "\n".join(f"{k} = {v}" for k, v in (mapping or {}).items())


def text_to_fields(text: str) -> dict[str, str]:
    """``field = value`` lines back into a mapping (blank lines ignored).

    A line without ``=`` is kept with an empty value so that the core's validation names
    it instead of the form dropping it silently.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def _number(text: str) -> Any:
    """Numbers stay numbers; anything else goes to the core as typed, to be named there."""
    text = str(text).strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def form_to_dict(base: dict, *, name: str, target: str, method: str, feedback_type: str,
                 url: str, headers: str, format: str, body: str, once_per_record: bool,
                 timeout: str, concurrency: str, rate_limit: str, return_values: dict,
                 on_success: dict, trigger_on: str, trigger_filter: str, schedule_when: str,
                 schedule_filter: str, schedule_start: str, schedule_end: str) -> dict:
    """The macro dict the form describes; keys the form does not show come from ``base``."""
    out = dict(base)
    out.update(name=name, target=target, method=method, url=url, headers=headers,
               format=format, body=body, once_per_record=bool(once_per_record))
    for key, value in (("feedback_type", feedback_type if target == "feedback" else ""),
                       ("timeout", timeout), ("concurrency", concurrency), ("rate_limit", rate_limit)):
        if str(value).strip():
            out[key] = value if key == "feedback_type" else _number(value)
        else:
            out.pop(key, None)
    for key, mapping in (("return_values", return_values), ("on_success", on_success)):
        if mapping:
            out[key] = mapping
        else:
            out.pop(key, None)
    kinds = [k.strip() for k in trigger_on.replace(" ", ",").split(",") if k.strip()]
    if kinds or trigger_filter.strip():
        out["trigger"] = {"on": kinds, **({"filter": trigger_filter.strip()} if trigger_filter.strip() else {})}
    else:
        out.pop("trigger", None)
    when = schedule_when.strip()
    if when or schedule_filter.strip() or schedule_start.strip() or schedule_end.strip():
        schedule: dict[str, Any] = {}
        if when:
            schedule["every" if when.lower() in EVERY else "cron"] = when.lower() if when.lower() in EVERY else when
        for key, value in (("filter", schedule_filter), ("start", schedule_start), ("end", schedule_end)):
            if value.strip():
                schedule[key] = value.strip()
        out["schedule"] = schedule
    else:
        out.pop("schedule", None)
    return out
