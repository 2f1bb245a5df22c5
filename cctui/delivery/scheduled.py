"""Scheduled retries: the retries a run could not wait for, kept in the store until sent.

A foreground run waits for retries only within its budget (``[delivery] max_wait``,
:class:`cctui.delivery.retries.Budget`); a retry due later (a 120 s backoff step, ``Retry-After: 999999``) is
persisted as a *scheduled retry*: record, macro, delivery id (the ``webhook-id``), the
next attempt's number, how much of the retry schedule is used, and when it is due. The
run ends and its record counts as ``retrying``, not failed.

``cctui run-due``, ``cctui retry`` (``--now`` for all of them) and the open TUI send
the due ones. Each sender first *claims* its entries inside ``store.batch()`` (the data
directory's lock, as schedule periods are claimed), so two processes never send the same
one; a claim whose process died is taken over. The engine then removes each entry when
its record is delivered or fails for good, replaces it when a further retry is
scheduled, and hands it back (unclaimed) when it was never tried (run cancelled).

Each entry names the runs that ended with its delivery *retrying* (``runs``: the run
that scheduled it, then each retry run that scheduled it again). Whoever forgets an
entry because its delivery ended (:func:`forget`) tells those runs how, in the same
store commit, so a run's card and counts stop saying "retrying" (see
``cctui.delivery.runs.standing``).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cctui.core.clock import iso
from cctui.core.clock import now as clock_now
from cctui.delivery.events import SKIPPED

if TYPE_CHECKING:
    from cctui.delivery.engine import Engine
    from cctui.store import Store

#: What to tell a user who has scheduled retries waiting.
HINT = "run 'cctui run-due' or 'cctui retry --now'"
#: A claim made on another machine (a shared data dir; its pid means nothing here) or
#: before a reboot is taken over once it is this old (seconds).
CLAIM_TTL = 900.0


def _claim_live(entry: dict) -> bool:
    """Is the process that claimed ``entry`` still (possibly) sending it?"""
    from cctui.core.clock import parse_iso
    from cctui.delivery.recovery import machine_id, pid_alive
    from cctui.errors import InputError

    pid = entry.get("claimed_by")
    if not isinstance(pid, int):
        return False
    if entry.get("claimed_on") in (None, machine_id()):
        return pid_alive(pid)
    try:
        age = (clock_now() - parse_iso(str(entry.get("claimed_at")))).total_seconds()
    except InputError:
        return False
    return age < CLAIM_TTL


def being_sent(entry: dict) -> bool:
    """Is ``entry`` claimed by another live cctui process (sent by it now, not by us)?"""
    return _claim_live(entry)


def _matches(entry: dict, macro: str | None, record_id: str | None) -> bool:
    return (macro is None or entry.get("macro") == macro) and (record_id is None or entry.get("record_id") == record_id)


def counted_by(entry: dict) -> list[str]:
    """The runs whose outcome for this entry's delivery was ``retrying`` (an entry stored
    before ``runs`` existed: the run that scheduled it)."""
    runs = entry.get("runs")
    if isinstance(runs, list):
        return [str(run) for run in runs]
    return [str(entry["run_id"])] if entry.get("run_id") else []


def counting(entry: dict, run_id: str | None) -> dict:
    """``entry`` as left *retrying* by ``run_id`` (which now counts it too)."""
    runs = counted_by(entry)
    return {**entry, "runs": runs + [run_id] if run_id and run_id not in runs else runs}


def forget(store: Store, ended: dict[str, str]) -> None:
    """Forget the scheduled retries of deliveries that ended (delivery id -> ``delivered``,
    ``failed`` or ``skipped``) and settle them in every run that counted them as
    retrying (``store.run_settle``). Call it inside ``store.batch()``: the settlement and
    the removal are one commit, so no crash leaves a run counting a retry that is gone."""
    if not ended:
        return
    stored = {e["delivery_id"]: e for e in store.retries_all() if e["delivery_id"] in ended}
    tally: dict[tuple[str, str], int] = {}
    for delivery_id, entry in stored.items():
        for run_id in counted_by(entry):
            key = (run_id, ended[delivery_id])
            tally[key] = tally.get(key, 0) + 1
    for (run_id, outcome), count in tally.items():
        store.run_settle(run_id, outcome, count)
    store.retry_remove(list(stored))


def pending(store: Store, *, macro: str | None = None, record_id: str | None = None) -> list[dict]:
    """Scheduled retries not yet sent (claimed ones included), soonest first."""
    return [e for e in store.retries_all() if _matches(e, macro, record_id)]


def claim(store: Store, *, now: datetime | None = None, everything: bool = False,
          macro: str | None = None, record_id: str | None = None) -> list[dict]:
    """Take the scheduled retries that are due (``everything``: all of them) for this
    process and return them. Read and write happen in one ``store.batch()``: a
    compare-and-set across processes, so each entry goes to one sender. Entries of a
    paused macro wait; entries of a macro that no longer exists are dropped."""
    moment = iso(now or clock_now())
    mine = _claim_fields(moment)
    taken: list[dict] = []
    if not any(_matches(e, macro, record_id) and (everything or (e.get("due") or "") <= moment)
               for e in store.retries_all()):
        return taken  # the usual case: no lock taken, nothing written
    with store.batch():
        gone: list[dict] = []
        for entry in store.retries_all():
            if not _matches(entry, macro, record_id):
                continue
            if not everything and (entry.get("due") or "") > moment:
                continue
            if _claim_live(entry):
                continue  # another live process (or this one) is sending it
            stored = store.macro_get(str(entry.get("macro") or ""))
            if stored is None:
                gone.append(dropped_entry(entry, f"retry dropped: macro {entry.get('macro')!r} was removed"))
                continue
            if stored.get("paused"):
                continue
            taken.append({**entry, **mine})
        store.retry_put(taken)
        if gone:
            # The log says so first (a crash before the commit drops it again, logged
            # again): the delivery's newest entry must not keep saying "retry scheduled".
            store.log_append(gone)
            forget(store, {e["delivery_id"]: SKIPPED for e in gone})
    return taken


def drop_removed(store: Store, macro: str) -> int:
    """Drop the scheduled retries of ``macro`` once it is removed (``macro remove``, the
    TUI), each with its final log entry, so they stop counting as retrying right away;
    a claimed one being sent now is left to its sender. Returns how many were dropped."""
    if not any(e.get("macro") == macro for e in store.retries_all()):
        return 0
    with store.batch():
        if store.macro_get(macro) is not None:
            return 0  # re-added meanwhile: its retries go on
        gone = [dropped_entry(e, f"retry dropped: macro {macro!r} was removed")
                for e in store.retries_all() if e.get("macro") == macro and not _claim_live(e)]
        if gone:
            store.log_append(gone)
            forget(store, {e["delivery_id"]: SKIPPED for e in gone})
    return len(gone)


def _claim_fields(moment: str) -> dict:
    from cctui.delivery.recovery import machine_id

    return {"claimed_by": os.getpid(), "claimed_at": moment, "claimed_on": machine_id()}


def held_here(entry: dict) -> dict:
    """``entry`` claimed by this process: how a run keeps a retry it waits for in the
    foreground, so that after a kill -9 the next sender takes it over when due, and a
    ``retry`` in another process leaves the record to this one meanwhile."""
    return {**entry, **_claim_fields(iso())}


def release(store: Store, entries: list[dict]) -> None:
    """Hand claimed entries back unsent (due as before), for the next sender."""
    if entries:
        with store.batch():
            stored = {e["delivery_id"]: e for e in store.retries_all()}
            # Only what is still exactly our claim: the engine may already have removed
            # an entry (sent) or replaced it (a further retry scheduled).
            store.retry_put([{**e, "claimed_by": None, "claimed_at": None, "claimed_on": None} for e in entries
                             if _same_claim(stored.get(e["delivery_id"]), e)])


def _same_claim(stored: dict | None, claimed: dict) -> bool:
    return stored is not None and all(stored.get(k) == claimed.get(k)
                                      for k in ("claimed_by", "claimed_at", "attempt", "due"))


def _delivered_since(store: Store, entries: list[dict]) -> dict[str, str]:
    """Delivery ids among ``entries`` whose record this macro delivered after the retry
    was scheduled (by another run), each with the run that delivered it: sending them
    would re-send a delivered record."""
    if not entries:
        return {}
    oldest = min(e.get("scheduled_at") or "" for e in entries)
    wanted = {(e["macro"], e["record_id"]): e for e in entries}
    found: dict[str, str] = {}
    for logged in store.log_iter(status="ok"):
        if (logged.get("started_at") or "") < oldest:
            break  # newest first: nothing older can matter
        entry = wanted.get((logged.get("macro"), logged.get("record_id")))
        if entry is not None and logged.get("delivery_id") != entry["delivery_id"] \
                and (logged.get("started_at") or "") >= (entry.get("scheduled_at") or ""):
            found.setdefault(entry["delivery_id"], str(logged.get("run_id") or "another run"))
    return found


def _runs(entries: list[dict]) -> list[tuple[str, dict[str, dict]]]:
    """Group claimed entries into engine runs: one per macro, a record at most once per run."""
    groups: list[tuple[str, dict[str, dict]]] = []
    for entry in entries:
        for name, members in groups:
            if name == entry["macro"] and entry["record_id"] not in members:
                members[entry["record_id"]] = entry
                break
        else:
            groups.append((entry["macro"], {entry["record_id"]: entry}))
    return groups


async def send(engine: Engine, claimed: list[dict], *, listener: Any = None, concurrency: int | None = None,
               max_wait: float | None = None) -> Any:
    """Send claimed scheduled retries (trigger ``retry``) with their own delivery ids and
    attempt numbers; returns one summary over all of them. Once the engine is stopping
    (:meth:`Engine.stop`), no further macro's run starts: its retries are handed back,
    due as before."""
    import asyncio

    from cctui.delivery.events import RunSummary
    from cctui.errors import CctuiError

    total = RunSummary(None, "*", "retry")
    store = engine.store
    delivered = await asyncio.to_thread(_delivered_since, store, claimed)
    reasons = {key: f"retry dropped: {_record(claimed, key)} was delivered since by run {run}"
               for key, run in delivered.items()}
    # Two deliveries of one record waiting (sent twice, failed twice): send the newest
    # only, as `retry` resends a record's newest failed delivery, never the record twice.
    newest: dict[tuple[str, str], dict] = {}
    for entry in claimed:
        key = (entry["macro"], entry["record_id"])
        if key not in newest or (entry.get("scheduled_at") or "") >= (newest[key].get("scheduled_at") or ""):
            newest[key] = entry
    for entry in claimed:
        kept = newest[(entry["macro"], entry["record_id"])]
        if kept is not entry:
            reasons.setdefault(entry["delivery_id"], f"retry dropped: {entry['record_id']} is retried by its newer "
                                                     f"delivery {kept['delivery_id']} instead")
    superseded = set(reasons)
    if superseded:
        await asyncio.to_thread(_drop, store, [dropped_entry(e, reasons[e["delivery_id"]])
                                               for e in claimed if e["delivery_id"] in superseded])
        total.total += len(superseded)
        total.skipped += len(superseded)
    todo = [e for e in claimed if e["delivery_id"] not in superseded]
    groups = _runs(todo)
    for index, (macro, members) in enumerate(groups):
        if engine.stopping:
            await asyncio.to_thread(release, store, [e for _, rest in groups[index:] for e in rest.values()])
            break
        try:
            result = await engine.run(macro, list(members), trigger="retry", concurrency=concurrency,
                                      listener=listener, max_wait=max_wait, scheduled=members)
        except CctuiError as exc:
            # Nothing of this group was sent (paused, missing ${SECRET}, ...): it stays
            # scheduled for a later try; say why.
            await asyncio.to_thread(release, store, list(members.values()))
            total.reason = total.reason or f"macro {macro!r}: {exc}"
            continue
        except BaseException:
            for _, rest in groups[index:]:
                await asyncio.shield(asyncio.to_thread(release, store, list(rest.values())))
            raise
        total.run_id = result.run_id
        total.merge(result)
    return total


def _record(entries: list[dict], delivery_id: str) -> str:
    return next(str(e["record_id"]) for e in entries if e["delivery_id"] == delivery_id)


def _drop(store: Store, logged: list[dict]) -> None:
    """Forget dropped scheduled retries, each with its final log entry (see dropped_entry)."""
    with store.batch():
        store.log_append(logged)
        forget(store, {e["delivery_id"]: SKIPPED for e in logged})


def dropped_entry(entry: dict, reason: str) -> dict:
    """The last log entry of a delivery whose scheduled retry is dropped unsent (its record
    was delivered by another run, its macro removed, or a newer delivery of the record is
    retried instead). Without it the delivery's newest entry would still say "retry
    scheduled at T" and count as ``retrying`` forever. It is honest about being no
    request: status 0, ``not_sent`` and ``skipped`` true, so the delivery is ``skipped``."""
    from cctui.delivery.prepared import stamp

    _, started_at = stamp()
    serial = os.urandom(3).hex()  # dropped twice (a crash before the commit): two entries
    delivery_id, attempt = str(entry["delivery_id"]), int(entry.get("attempt") or 0)
    return {
        "id": f"{delivery_id}-{attempt}-dropped-{serial}", "delivery_id": delivery_id,
        "run_id": entry.get("run_id"), "macro": entry.get("macro"), "record_id": entry.get("record_id"),
        "trigger": "retry", "attempt": attempt, "method": "", "url": "", "status_code": 0, "ok": False,
        "error": reason, "duration_ms": 0, "started_at": started_at, "request_headers": {},
        "request_body": "", "response_headers": {}, "response_body": "", "response_truncated": False,
        "not_sent": True, "skipped": True,
        "explanation": {"title": "skipped: scheduled retry dropped", "meaning": reason,
                        "action": "Nothing to do: this delivery is not sent again."},
    }


def describe(count: int, next_at: str | None) -> str:
    """``3 retries scheduled, next at 2026-12-01T10:15:00Z; run 'cctui run-due' or ...``."""
    noun = "retry" if count == 1 else "retries"
    when = f", next at {next_at}" if next_at else ""
    return f"{count} {noun} scheduled{when}; {HINT}"
