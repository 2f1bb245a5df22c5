"""Fixtures for the macros area: records with nasty text, and the CLI entry point in-process."""

from __future__ import annotations

NASTY = [
    'He said "hi" \\ then left',
    "line one\nline two\r\n\ttabbed",
    "control \x00\x01\x1f\x7f chars",
    "emoji 🐛🔥👩‍💻 and RTL \u202eשלום עולם مرحبا",
    "</script><script>alert(1)</script>",
    "separators \u2028\u2029 and {{ jinja }} {% raw %} {# c #} ((not a tag))",
    "x" * 10_000,
    "",
]


def make_record(n: int = 1, **fields) -> dict:
    """A complete feedback item; ``fields`` override the defaults."""
    record = {
        "id": f"BUG-{n:04d}", "type": "Bug Report", "title": "Crash on save",
        "description": "It crashes.", "steps": "1. Open\n2. Save", "status": "New",
        "severity": "High", "category": "Editor", "submitter": "USR-0001", "votes": 3,
        "created": "2026-11-01T10:00:00Z", "modified": "2026-11-02T10:00:00Z",
    }
    record.update(fields)
    return record

