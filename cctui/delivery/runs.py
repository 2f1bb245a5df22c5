"""A run's record in the store: saved before its first request, stamped with a heartbeat
while it sends, closed with its outcome. ``cctui retry`` plans from these records alone
(:mod:`cctui.delivery.recovery`), so each field here is something a crash must not lose.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from cctui.core.clock import iso
from cctui.delivery.events import RunSummary
from cctui.delivery.recovery import machine_id
from cctui.errors import StoreWriteError

if TYPE_CHECKING:
    from cctui.store import Store


def persist(store: Store, macro_name: str, trigger: str, ids: list[str], width: int, resume: str | None) -> str:
    """Save the run as ``running`` (or mark a resumed one so again); returns its id."""
    fields = {"status": "running", "pid": os.getpid(), "host": machine_id(), "heartbeat_at": iso(),
              "concurrency": width}
    if resume:
        store.run_update(resume, {**fields, "resumed": iso()})
        return resume
    return store.run_create({"macro": macro_name, "trigger": trigger, "record_ids": ids,
                             "started": iso(), "dry_run": False, **fields})


def heartbeat(store: Store, run_id: str | None) -> Callable[[], None] | None:
    """What the recorder thread calls every few seconds while the run goes on, so other
    processes can tell a live run from a dead one (``recovery.run_is_live``)."""
    if not run_id:
        return None
    return lambda: store.run_beat(run_id, iso())


def final(summary: RunSummary) -> dict:
    """The fields that close a run. ``incomplete``: records not sent, or never reached
    because the run's task was cancelled (the TUI quit); ``cctui retry`` finishes it."""
    s = summary
    incomplete = s.not_sent > 0 or s.delivered + s.failed + s.skipped + s.retrying < s.total
    return {"status": "cancelled" if s.cancelled else "done", "finished": iso(),
            "summary": s.to_dict(), "incomplete": incomplete, "reason": s.reason}


def write_error(summary: RunSummary, exc: BaseException) -> BaseException:
    """What the caller sees when the run's log could not be written: one sentence."""
    if not isinstance(exc, StoreWriteError):
        return exc
    return StoreWriteError(f"{str(exc).rstrip('.')}; sending stopped after {summary.sent} request(s), "
                           f"and `cctui retry` finishes the run once the disk has room.")
