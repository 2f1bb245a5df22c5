"""What ``cctui retry`` has to do: finish interrupted runs, resend failed deliveries.

Read from the store only (runs and the log), so a crash at any point leaves a state this
module can plan from:

- a run still marked ``running`` that nobody is sending any more (its process is gone
  after ``kill -9``, a closed terminal or a power loss; see :func:`run_crashed`), or one
  that ended early with records never sent (cancelled with Ctrl-C, circuit breaker): its
  records without a successful attempt *in that run* are sent again, in the same run with
  the same delivery ids (``webhook-id``), so a receiver can recognise the one that was in
  flight;
- every (macro, record) whose newest attempt failed is sent again, continuing its
  delivery id and attempt count. A record whose newest attempt succeeded is never resent.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from cctui.core.clock import now as clock_now
from cctui.core.clock import parse_iso
from cctui.errors import InputError

if TYPE_CHECKING:
    from cctui.store import Store

#: A running engine stamps its run's ``heartbeat_at`` at least this often (seconds) ...
HEARTBEAT_EVERY = 2.0
#: ... and a run whose heartbeat is older than this is not being sent by anyone.
LIVE_WITHIN = 15.0
#: Run ids an engine of *this* process is sending right now (the engine keeps it).
ACTIVE_HERE: set[str] = set()


@dataclass
class RetryPlan:
    """One engine run to do: ``run_id`` set = resume that run."""

    macro: str
    record_ids: list[str]
    run_id: str | None = None
    deliveries: dict[str, tuple[str, int]] = field(default_factory=dict)


def pid_alive(pid: int | None) -> bool:
    """True if a process with that id exists (it may be a zombie until reaped)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@lru_cache(maxsize=1)
def machine_id() -> str:
    """This machine and this boot: a pid means something only where and while it was
    taken (after a reboot an old run's pid may belong to anyone)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
    except OSError:  # not Linux: the host name alone
        boot = ""
    return f"{socket.gethostname()}/{boot}" if boot else socket.gethostname()


def _here(run: dict) -> bool:
    """Was the run started on this machine since its last boot? (Runs from before the
    heartbeat existed carry no ``host``: assume here, as cctui always did.)"""
    host = run.get("host")
    return host is None or host == machine_id()


def heartbeat_age(run: dict, now: datetime | None = None) -> float | None:
    """Seconds since the run's engine last said it was alive; None if it never did."""
    stamp = run.get("heartbeat_at")
    if not isinstance(stamp, str):
        return None
    try:
        beat = parse_iso(stamp)
    except InputError:
        return None
    return ((now or clock_now()) - beat) / timedelta(seconds=1)


def run_is_live(run: dict, now: datetime | None = None) -> bool:
    """True when some process is sending this run right now: its status says
    ``running`` and its engine's heartbeat is at most :data:`LIVE_WITHIN` seconds old
    (and, for a run of this machine, its process still exists: a ``kill -9`` shows at
    once, not 15 s later). For screens: a running run that is not live was interrupted
    and ``cctui retry`` finishes it."""
    if run.get("status") != "running":
        return False
    age = heartbeat_age(run, now)
    if age is None or age > LIVE_WITHIN:
        return False
    return not (_here(run) and not pid_alive(run.get("pid")))


def run_crashed(run: dict) -> bool:
    """Is this run marked ``running`` although nobody sends it any more?

    On this machine the run's pid decides: gone means crashed, alive means it is still
    sending (or stopped with Ctrl-Z and may go on: resuming it would double-send). A run
    of this process is crashed unless one of its engines has it. A run from another
    machine (a shared data dir) or from before a reboot has only its heartbeat to go by.
    """
    if run.get("status") != "running" or run.get("id") in ACTIVE_HERE:
        return False
    if not _here(run):
        return not run_is_live(run)
    pid = run.get("pid")
    return pid == os.getpid() or not pid_alive(pid)


def interrupted_runs(store: Store, macro: str | None = None, active: AbstractSet[str] = frozenset()) -> list[dict]:
    """Runs that stopped before all their records were handled."""
    found = []
    for run in store.runs_all():
        if macro and run.get("macro") != macro:
            continue
        if run.get("dry_run") or run.get("id") in active:
            continue
        status = run.get("status")
        crashed = run_crashed(run)
        # Cancelled (Ctrl-C) or cut short (circuit breaker, 410): records left unsent.
        unsent = run.get("incomplete") or (run.get("summary") or {}).get("not_sent")
        if crashed or (status in ("done", "cancelled") and unsent):
            found.append(run)
    return found


def plan_retry(store: Store, *, macro: str | None = None, record_id: str | None = None,
               active: AbstractSet[str] = frozenset(),
               skip: AbstractSet[tuple[str, str]] = frozenset()) -> list[RetryPlan]:
    """The runs ``retry`` should make, resumes first, in the order the runs started.
    ``skip``: (macro, record id) pairs left alone (they have a retry scheduled)."""
    runs = interrupted_runs(store, macro, active)
    run_ids = {run["id"] for run in runs}
    newest: dict[tuple[str, str], dict] = {}
    delivered_in: set[tuple[str, str]] = set()  # (run id, record id) delivered in that run
    last_attempt: dict[tuple[str, str], int] = {}  # (run id, record id) -> attempts made
    for entry in store.log_iter(macro=macro, record_id=record_id):
        record = str(entry.get("record_id") or "")
        key = (str(entry.get("macro") or ""), record)
        if entry.get("skipped"):
            continue  # a dropped scheduled retry (see scheduled.dropped_entry) was no attempt
        newest.setdefault(key, entry)  # newest first: the first one seen is the last attempt
        run_key = (str(entry.get("run_id") or ""), record)
        if entry.get("run_id") in run_ids:
            if entry.get("ok"):
                delivered_in.add(run_key)
            last_attempt[run_key] = max(last_attempt.get(run_key, 0), int(entry.get("attempt") or 0))
    plans: list[RetryPlan] = []
    resumed: set[tuple[str, str]] = set()
    for run in runs:
        ids = [r for r in run.get("record_ids", [])
               if (record_id is None or r == record_id) and (run["id"], r) not in delivered_in]
        # A record delivered by a later run needs nothing more.
        ids = [r for r in ids if not _delivered_after(newest.get((run["macro"], r)), run)
               and (run["macro"], r) not in skip]
        if not ids and record_id is not None:
            continue
        from cctui.delivery.worker import delivery_id_for

        deliveries = {r: (delivery_id_for(run["id"], r), last_attempt.get((run["id"], r), 0)) for r in ids}
        plans.append(RetryPlan(run["macro"], ids, run["id"], deliveries))
        resumed.update((run["macro"], r) for r in ids)
    failed: dict[str, RetryPlan] = {}
    for (macro_name, rid), entry in newest.items():
        if entry.get("ok") or (macro_name, rid) in resumed or (macro_name, rid) in skip:
            continue
        plan = failed.setdefault(macro_name, RetryPlan(macro_name, []))
        plan.record_ids.append(rid)
        plan.deliveries[rid] = (str(entry["delivery_id"]), int(entry.get("attempt") or 0))
    for plan in failed.values():
        plan.record_ids.reverse()  # oldest failure first
    return plans + list(failed.values())


def _delivered_after(entry: dict | None, run: dict) -> bool:
    return bool(entry and entry.get("ok") and entry.get("run_id") != run["id"]
                and (entry.get("started_at") or "") >= (run.get("started") or ""))
