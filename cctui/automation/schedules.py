"""Schedules: run a macro once per period (``cron`` or ``every``), never as a backlog.

A schedule divides time into periods. A period starts at each cron tick (``cron``) or at
each hour/day/week/month boundary (``every``); ``run_due`` runs a macro when the period
that contains *now* has not been run yet, and records that period before the run starts.
Calling it every minute, twice at once, or after a week of downtime therefore sends once
for the current period: missed periods are skipped, never replayed.

All times are UTC (cron expressions too). ``start`` and ``end`` accept an ISO date or
datetime; a date-only ``end`` includes that whole day. With ``every`` and a ``start``,
periods are anchored on ``start`` (weekly from a Wednesday runs on Wednesdays); without
one they follow the calendar (hour, midnight, Monday, the 1st).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from croniter import croniter

from cctui.core.clock import iso, parse_iso
from cctui.core.clock import now as clock_now
from cctui.errors import InputError

if TYPE_CHECKING:
    from cctui.store import Store

EVERY = ("hourly", "daily", "weekly", "monthly")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Where ``run_due`` records the last period it started, per macro.
STATE_PREFIX = "schedule:"
#: How far back ``current_period`` looks for a cron tick: a yearly cron still resolves.
_CRON_LOOKBACK = timedelta(days=400)


class DueRun(NamedTuple):
    """One schedule that ``run_due`` started: the macro, its period's start, the records."""

    macro: str
    period: datetime
    #: how many records the run covers (not ``count``: that is tuple.count)
    record_count: int


Runner = Callable[[str, list[str], str], Any]


def _macro_dict(macro: Any) -> Mapping[str, Any]:
    return macro.to_dict() if hasattr(macro, "to_dict") else macro


def _bound(value: Any, *, where: str, end: bool = False) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    moment = parse_iso(text, where=where)
    if end and _DATE_ONLY.match(text):
        moment += timedelta(days=1)  # a date-only end includes that whole day
    return moment


class Schedule:
    """A parsed ``[schedule]`` table: when its periods start and whether one is current."""

    def __init__(self, table: Mapping[str, Any], *, where: str = "schedule") -> None:
        self.cron = str(table.get("cron") or "").strip() or None
        self.every = str(table.get("every") or "").strip().lower() or None
        self.filter = str(table.get("filter") or "").strip()
        self.start = _bound(table.get("start"), where=f"{where}: start")
        self.end = _bound(table.get("end"), where=f"{where}: end", end=True)
        if bool(self.cron) == bool(self.every):
            raise InputError(f"{where}: set exactly one of 'cron' or 'every'.")
        if self.cron and not croniter.is_valid(self.cron):
            raise InputError(f"{where}: cron {self.cron!r} is not a valid cron expression.")
        if self.every and self.every not in EVERY:
            raise InputError(
                f"{where}: every {self.every!r} is not one of {', '.join(EVERY)}."
            )
        if self.start and self.end and self.end <= self.start:
            raise InputError(f"{where}: end must come after start.")

    # -- period arithmetic ---------------------------------------------------------
    def _ticks_before(self, moment: datetime) -> datetime | None:
        """The latest period start at or before ``moment`` (ignoring start/end)."""
        if self.cron:
            # croniter's get_prev is strict, so ask from one second later to include
            # a tick that falls exactly on ``moment``.
            base = moment.replace(microsecond=0) + timedelta(seconds=1)
            tick = croniter(self.cron, base).get_prev(datetime)
            return tick.astimezone(UTC)
        if self.start is not None:
            return self._anchored_before(moment)
        if self.every == "hourly":
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.every == "daily":
            return day
        if self.every == "weekly":
            return day - timedelta(days=day.weekday())
        return day.replace(day=1)

    def _anchored(self, k: int) -> datetime:
        assert self.start is not None
        if self.every == "hourly":
            return self.start + timedelta(hours=k)
        if self.every == "daily":
            return self.start + timedelta(days=k)
        if self.every == "weekly":
            return self.start + timedelta(weeks=k)
        return _add_months(self.start, k)

    def _anchored_before(self, moment: datetime) -> datetime | None:
        assert self.start is not None
        if moment < self.start:
            return None
        step = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}.get(self.every or "")
        if step:
            k = int((moment - self.start).total_seconds() // step)
        else:
            k = (moment.year - self.start.year) * 12 + moment.month - self.start.month
            if _add_months(self.start, k) > moment:
                k -= 1
        return self._anchored(k)

    def current_period(self, moment: datetime) -> datetime | None:
        """The start of the period containing ``moment``, or None outside start..end."""
        if self.start is not None and moment < self.start:
            return None
        if self.end is not None and moment >= self.end:
            return None
        tick = self._ticks_before(moment)
        if tick is None or (self.start is not None and tick < self.start):
            return None
        return tick

    def next_start(self, moment: datetime) -> datetime | None:
        """The first period start strictly after ``moment`` that lies before ``end``."""
        if self.start is not None and moment < self.start:
            candidate = self.start
            if self.cron and not croniter.match(self.cron, self.start):
                candidate = croniter(self.cron, self.start).get_next(datetime)
        elif self.cron:
            candidate = croniter(self.cron, moment.replace(microsecond=0)).get_next(datetime)
        elif self.start is not None:
            current = self._anchored_before(moment)
            k = 0
            candidate = self.start
            if current is not None:
                # step from the current anchor; the loop guards month clamping
                while candidate <= moment:
                    k += 1
                    candidate = self._anchored(k)
        else:
            current = self._ticks_before(moment)
            assert current is not None
            candidate = _calendar_next(current, self.every or "daily")
        candidate = candidate.astimezone(UTC)
        if self.end is not None and candidate >= self.end:
            return None
        return candidate

    def describe(self) -> str:
        """One line for screens: ``cron 0 9 * * * (UTC), filter status:new, from ...``."""
        parts = [f"cron {self.cron} (UTC)" if self.cron else str(self.every)]
        if self.filter:
            parts.append(f"filter {self.filter}")
        if self.start:
            parts.append(f"from {iso(self.start)}")
        if self.end:
            parts.append(f"until {iso(self.end)}")
        return ", ".join(parts)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _calendar_next(current: datetime, every: str) -> datetime:
    if every == "hourly":
        return current + timedelta(hours=1)
    if every == "daily":
        return current + timedelta(days=1)
    if every == "weekly":
        return current + timedelta(weeks=1)
    return _add_months(current, 1)


def schedule_of(macro: Any) -> Schedule | None:
    """The macro's parsed schedule, or None when it has none."""
    data = _macro_dict(macro)
    table = data.get("schedule")
    if not table:
        return None
    return Schedule(table, where=f"macro {data.get('name', '?')}: [schedule]")


def next_run(macro: Any, now: datetime | None = None) -> datetime | None:
    """When the macro's schedule next starts a period (None: no schedule, or ended).

    A period that has started but not yet run is reported by ``run_due``, not here: this
    is the time the TUI shows as "next run".
    """
    schedule = schedule_of(macro)
    if schedule is None or _is_paused(macro):
        return None
    return schedule.next_start(now or clock_now())


def describe_schedule(macro: Any) -> str:
    """A short human description of the macro's schedule ("" when it has none)."""
    schedule = schedule_of(macro)
    return schedule.describe() if schedule else ""


def _is_paused(macro: Any) -> bool:
    data = _macro_dict(macro)
    return bool(data.get("paused")) or data.get("enabled") is False


def _already_ran(state: Any, period: datetime) -> bool:
    if isinstance(state, Mapping) and state.get("period"):
        return parse_iso(str(state["period"])) >= period
    return False


def claim_period(store: Store, name: str, period: datetime, moment: datetime) -> bool:
    """Record that ``period`` of macro ``name`` is being run; False if someone already did.

    The claim is written before the run starts so that a second ``run-due`` (another
    cron tick, another host on the same data dir) sees it and does not send again. The
    read and the write happen in one ``store.batch()`` transaction, which holds the data
    directory's lock and first catches up with other processes' commits: a
    compare-and-set across processes.
    """
    key = STATE_PREFIX + name
    claim = {"period": iso(period), "claimed_at": iso(moment)}
    with store.batch():
        if _already_ran(store.state_get(key), period):
            return False
        store.state_set(key, claim)
        return True


def schedule_targets(store: Store, macro: Mapping[str, Any], schedule: Schedule, schema: Any = None) -> list[str]:
    """The ids of the records the scheduled run covers (the macro's target, filtered)."""
    from cctui.core.query import compile_query

    if macro.get("target") == "users":
        records = store.users_all()
    else:
        records = store.feedback_all()
        wanted = macro.get("feedback_type")
        if wanted and schema is not None:
            wanted = schema.type_named(str(wanted)).name
        if wanted:
            records = [r for r in records if r.get("type") == wanted]
    if schedule.filter:
        query = compile_query(schedule.filter, schema)
        records = [r for r in records if query(r)]
    return [str(r["id"]) for r in records]


def run_due(
    store: Store,
    runner: Runner,
    now: datetime | None = None,
    *,
    schema: Any = None,
    warn: Callable[[str], None] | None = None,
) -> list[DueRun]:
    """Start every schedule whose current period has not run yet; one run per period.

    ``runner(macro_name, record_ids, "schedule")`` starts the run (the CLI runs it before
    exiting, the TUI schedules it on its loop). A period with no matching records is
    recorded as run (count 0) without calling the runner. A macro whose schedule is
    invalid is skipped with a ``warn`` message so one bad macro cannot stop the others.
    """
    moment = now or clock_now()
    schema = schema if schema is not None else getattr(store, "schema", None)
    started: list[DueRun] = []
    for macro in store.macros_all():
        name = str(macro.get("name"))
        if not macro.get("schedule") or _is_paused(macro):
            continue
        try:
            schedule = schedule_of(macro)
            assert schedule is not None
            period = schedule.current_period(moment)
            if period is None or _already_ran(store.state_get(STATE_PREFIX + name), period):
                continue
            ids = schedule_targets(store, macro, schedule, schema)
        except InputError as exc:
            if warn:
                warn(f"schedule of macro {name} skipped: {exc}")
            continue
        if not claim_period(store, name, period, moment):
            continue
        if ids:
            runner(name, ids, "schedule")
        started.append(DueRun(name, period, len(ids)))
    return started
