"""The one clock: ``CCTUI_NOW`` (ISO 8601) overrides it for tests and dry runs."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from cctui.errors import InputError


def now() -> datetime:
    """The current time as an aware UTC datetime, or ``$CCTUI_NOW`` when set."""
    fixed = os.environ.get("CCTUI_NOW")
    if fixed:
        return parse_iso(fixed, where="CCTUI_NOW")
    return datetime.now(UTC)


def parse_iso(text: str, *, where: str = "timestamp") -> datetime:
    """Parse an ISO 8601 date or datetime; naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: {text!r} is not an ISO 8601 date or time.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as ISO 8601 UTC with seconds and a ``Z``."""
    moment = moment or now()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
