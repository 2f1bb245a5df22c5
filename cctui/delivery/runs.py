"""A run's record in the store: saved before its first request, stamped with a heartbeat
while it sends, closed with its outcome. ``cctui retry`` plans from these records alone
(:mod:`cctui.delivery.recovery`), so each field here is something a crash must not lose.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

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


class Waiting(NamedTuple):
    """A run's scheduled retries still waiting: how many, and the soonest one's due time."""

    retries: int
    next_retry: str | None


def waiting_by_run(pending: list[dict]) -> dict[str, Waiting]:
    """``store.retries_all()`` folded per run that counts each entry (its ``runs``): one
    pass, however many runs a screen shows."""
    from cctui.delivery.scheduled import counted_by

    found: dict[str, Waiting] = {}
    for entry in pending:
        due = str(entry["due"]) if entry.get("due") else None
        for run_id in counted_by(entry):
            retries, soonest = found.get(run_id, (0, None))
            if due and (soonest is None or due < soonest):
                soonest = due
            found[run_id] = Waiting(retries + 1, soonest)
    return found


def standing(run: dict, waiting: Mapping[str, Waiting] | None = None) -> dict[str, Any]:
    """A stored run's counts as they stand now: its closing ``summary``, with each
    delivery it left *retrying* that has ended since (a later ``retry``, ``run-due`` or
    TUI run delivered it, it failed for good, or it was dropped) moved to how it ended
    (the ``settled`` tally, ``store.run_settle``). ``waiting``
    (``waiting_by_run(store.retries_all())``) makes ``retrying`` and ``next_retry`` the
    live scheduled retries this run counts; without it they are the summary's less what
    has settled.

    Returns ``delivered``, ``failed``, ``skipped``, ``retrying`` and ``next_retry``."""
    stored, tally = run.get("summary"), run.get("settled")
    summary: dict = stored if isinstance(stored, dict) else {}
    settled: dict = tally if isinstance(tally, dict) else {}
    counts: dict[str, Any] = {name: int(summary.get(name) or 0) + int(settled.get(name) or 0)
                              for name in ("delivered", "failed", "skipped")}
    if waiting is None:
        left = max(0, int(summary.get("retrying") or 0) - sum(int(v or 0) for v in settled.values()))
        counts["retrying"] = left
        counts["next_retry"] = summary.get("next_retry") if left else None
        return counts
    counts["retrying"], counts["next_retry"] = waiting.get(str(run.get("id")), Waiting(0, None))
    return counts
