"""Bulk trigger: pick a macro (fuzzy), confirm with a rendered sample, start the run.

``start_bulk(app, record_ids)`` is what the feedback screen calls on ``m``. Both steps are
modal so that the table underneath keeps its marks when the user backs out.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from textual.widgets import Static

from cctui.tui.screens.confirm import ConfirmScreen
from cctui.tui.screens.macro_picker import MacroPicker
from cctui.tui.widgets.macro_request_view import render_masked_sample, request_text

if TYPE_CHECKING:
    from cctui.tui.app import CctuiApp


def macros_for(macros: list[dict], *, target: str, feedback_types: set[str] | None) -> list[dict]:
    """The macros that apply to records of ``target`` (and, for feedback, these types)."""
    chosen = []
    for macro in macros:
        if (macro.get("target") or "feedback") != target:
            continue
        only = macro.get("feedback_type")
        if target == "feedback" and only and feedback_types and only not in feedback_types:
            continue
        chosen.append(macro)
    return sorted(chosen, key=lambda m: m.get("name", ""))


def show_dispatch(app: CctuiApp) -> None:
    """Bring the dispatch panel (screen 3) to the front."""
    app.switch_mode("dispatch")


def _record(app: CctuiApp, target: str, record_id: str) -> dict | None:
    store = app.store
    getter = store.user_get if target == "users" else store.feedback_get
    return getter(record_id)


def start_bulk(app: CctuiApp, record_ids: list[str], *, target: str = "feedback",
               feedback_type: str | None = None, hidden: int = 0) -> None:
    """Open the macro picker for ``record_ids`` (then a confirmation, then the run).

    ``hidden``: how many of them the current filter does not show (the confirmation warns).
    """
    record_ids = list(record_ids)
    if not record_ids:
        app.notify("Mark records with space first (or open one).", severity="warning")
        return
    app.run_worker(_open_picker(app, record_ids, target, feedback_type, hidden), group="bulk", exclusive=True)


async def _open_picker(app: CctuiApp, record_ids: list[str], target: str, feedback_type: str | None,
                       hidden: int) -> None:
    store = app.store

    def read() -> list[dict]:  # store reads: in a thread, never on the event loop
        types = {feedback_type} if feedback_type else None
        if target == "feedback" and types is None:
            types = {str(r.get("type")) for r in (store.feedback_get(i) for i in record_ids[:2000]) if r}
        return macros_for(store.macros_all(), target=target, feedback_types=types)

    macros = await asyncio.to_thread(read)
    if not macros:
        app.notify(f"No macro applies to these {target} records; create one on screen 2.",
                   severity="warning")
        return

    def picked(name: str | None) -> None:
        if name:
            confirm_and_start(app, name, record_ids, hidden=hidden)

    app.push_screen(MacroPicker(macros, len(record_ids)), picked)


def confirm_and_start(app: CctuiApp, name: str, record_ids: list[str], *, hidden: int = 0) -> None:
    """The confirmation for macro ``name`` on ``record_ids``; yes starts the run."""
    app.run_worker(_confirm_and_start(app, name, list(record_ids), hidden), group="bulk", exclusive=True)


async def _confirm_and_start(app: CctuiApp, name: str, record_ids: list[str], hidden: int) -> None:
    def read() -> tuple[dict | None, dict | None, str | None]:
        # The macro, the sample record and its render read the store: in a thread.
        macro = app.store.macro_get(name)
        if macro is None or not record_ids:
            return macro, None, None
        sample = _record(app, macro.get("target", "feedback"), record_ids[0])
        return (macro, *render_masked_sample(app, macro, sample))

    macro, masked, error = await asyncio.to_thread(read)
    if macro is None or not record_ids:
        app.notify("Mark records first (or open one)." if macro else f"No macro {name}.", severity="warning")
        return

    def confirmed(yes: bool | None) -> None:
        if yes:
            app.dispatcher.start(name, record_ids, trigger="bulk")
            show_dispatch(app)

    app.push_screen(run_confirmation(macro, len(record_ids), masked, record_ids[0], error, hidden=hidden),
                    confirmed)


def run_confirmation(macro: dict, count: int, sample: dict | None, sample_id: str | None,
                     error: str | None, *, hidden: int = 0) -> ConfirmScreen:
    """The last look before sending: macro, count, host and one masked sample.

    ``hidden``: how many of the records the current filter does not show."""
    host = urlsplit(str(macro.get("url", ""))).hostname or "?"
    noun = "record" if count == 1 else "records"
    details: list[Static] = []
    if hidden:
        # Marks survive a filter change: say so before records nobody sees are sent.
        details.append(Static(f"{count:,} {noun}, {hidden:,} not shown by the filter.",
                              id="confirm-hidden", classes="confirm-warning", markup=False))
    if macro.get("paused"):
        details.append(Static("[b $warning]This macro is paused.[/] Sending now runs it anyway."))
    if error:
        details.append(Static(f"Sample {sample_id or ''} does not render: {error}",
                              id="confirm-error", classes="confirm-error", markup=False))
    elif sample is not None:
        details.append(Static(f"[dim]Sample request for {sample_id} (secrets masked):[/]"))
        details.append(Static(request_text(sample), id="confirm-sample", classes="confirm-sample",
                              markup=False))
    question = (f"[b]Send {macro['name']}[/b] to [b]{count:,}[/b] {noun}\n"
                f"target host [b]{host}[/b] · {macro.get('method', 'POST')} · "
                f"for {macro.get('target', 'feedback')}")
    return ConfirmScreen(question, details=details, yes="Send", no="Cancel", width=90, default=True)

