"""The log inspector's filter box: ``status:4xx macro:slack-bugs record:BUG-0001 failed``.

Words map onto ``store.log_iter`` keywords so filtering happens in the store, not in
widgets. Unknown words are errors that name the word, like the feedback filter.
"""

from __future__ import annotations

import re

from cctui.core.clock import parse_iso
from cctui.errors import QueryError

#: filter key -> ``log_iter`` keyword
KEYS = {"status": "status", "code": "status", "macro": "macro", "record": "record_id",
        "item": "record_id", "trigger": "trigger", "since": "since", "until": "until",
        "run": "run_id", "delivery": "delivery_id"}
TRIGGERS = ("manual", "bulk", "submit", "modify", "schedule", "retry")
STATUS = re.compile(r"^(\d{3}|[1-5]xx|0|ok|failed|retrying|delivered|skipped)$", re.IGNORECASE)


def parse_log_filter(text: str) -> dict[str, str]:
    """``log_iter`` keyword arguments for a filter text; raises QueryError naming a term."""
    found: dict[str, str] = {}
    for term in text.split():
        lowered = term.lower()
        if lowered in ("failed", "ok", "retrying", "delivered", "skipped"):
            key, value = "status", lowered
        elif ":" in term:
            key, value = term.split(":", 1)
            key = key.lower()
            if key not in KEYS:
                known = ", ".join(sorted(KEYS))
                raise QueryError(f"log filter: unknown field {key!r} in {term!r} (known: {known}, failed, ok).")
            if not value:
                raise QueryError(f"log filter: {term!r} needs a value after the colon.")
        else:
            raise QueryError(f"log filter: {term!r} is not a filter term (try status:4xx, macro:NAME, failed).")
        if key in ("status", "code"):
            if not STATUS.match(value):
                raise QueryError(f"log filter: {term!r}: status is a code (404), a class (4xx), ok, delivered, "
                                 "retrying, failed or skipped.")
            value = value.lower()
        elif key == "trigger" and value.lower() not in TRIGGERS:
            raise QueryError(f"log filter: {term!r}: trigger is one of {', '.join(TRIGGERS)}.")
        elif key in ("since", "until"):
            parse_iso(value, where=f"log filter {term!r}")
        elif key in ("record", "item"):
            value = value.upper()
        found[KEYS[key]] = value
    return found
