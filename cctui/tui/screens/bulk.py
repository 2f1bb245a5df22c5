"""Bulk trigger: macro picker then confirmation (placeholder; owned by TUI part 2)."""

from __future__ import annotations

from textual.app import App


def start_bulk(app: App, record_ids: list[str], *, target: str = "feedback", feedback_type: str | None = None) -> None:
    """Open the macro picker for ``record_ids`` (then a confirmation, then the run)."""
    app.notify("Running macros from the TUI is not built yet.", severity="warning")
