"""Schedule period math: cron and every, start/end, next run (pure functions)."""

from datetime import UTC, datetime

import pytest

from cctui.automation.schedules import Schedule, describe_schedule, next_run
from cctui.errors import InputError


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "table, moment, period, upcoming",
    [
        ({"cron": "0 9 * * *"}, "2026-11-28T22:15", "2026-11-28T09:00", "2026-11-29T09:00"),
        ({"cron": "0 9 * * *"}, "2026-11-28T09:00", "2026-11-28T09:00", "2026-11-29T09:00"),
        ({"cron": "0 9 * * *"}, "2026-11-28T08:59:59", "2026-11-27T09:00", "2026-11-28T09:00"),
        ({"every": "hourly"}, "2026-11-28T22:15", "2026-11-28T22:00", "2026-11-28T23:00"),
        ({"every": "daily"}, "2026-11-28T22:15", "2026-11-28T00:00", "2026-11-29T00:00"),
        # 2026-11-28 is a Saturday: calendar weeks start on Monday
        ({"every": "weekly"}, "2026-11-28T22:15", "2026-11-23T00:00", "2026-11-30T00:00"),
        ({"every": "monthly"}, "2026-12-31T23:59", "2026-12-01T00:00", "2027-01-01T00:00"),
        # anchored on start: the 31st clamps to the month's last day
        ({"every": "monthly", "start": "2026-01-31"}, "2026-11-28T12:00", "2026-10-31T00:00", "2026-11-30T00:00"),
        ({"every": "weekly", "start": "2026-11-25T10:00"}, "2026-11-28T12:00", "2026-11-25T10:00", "2026-12-02T10:00"),
    ],
)
def test_period_and_next_start(table, moment, period, upcoming):
    schedule = Schedule(table)
    assert schedule.current_period(at(moment)) == at(period)
    assert schedule.next_start(at(moment)) == at(upcoming)


def test_before_start_nothing_is_due_and_next_run_is_the_start():
    schedule = Schedule({"every": "daily", "start": "2026-12-01"})
    assert schedule.current_period(at("2026-11-30T23:00")) is None
    assert schedule.next_start(at("2026-11-30T23:00")) == at("2026-12-01T00:00")


def test_cron_with_start_waits_for_the_first_tick_after_start():
    schedule = Schedule({"cron": "*/5 * * * *", "start": "2026-11-28T22:16:00"})
    assert schedule.current_period(at("2026-11-28T22:17")) is None
    assert schedule.current_period(at("2026-11-28T22:21")) == at("2026-11-28T22:20")


def test_a_date_only_end_includes_that_day_and_nothing_after():
    schedule = Schedule({"every": "hourly", "end": "2026-11-28"})
    assert schedule.current_period(at("2026-11-28T23:30")) == at("2026-11-28T23:00")
    assert schedule.current_period(at("2026-11-29T00:00")) is None
    assert schedule.next_start(at("2026-11-28T23:30")) is None


def test_next_run_for_macros_respects_pause_and_absence():
    macro = {"name": "weekly-digest", "schedule": {"every": "weekly"}}
    assert next_run(macro, at("2026-11-28T12:00")) == at("2026-11-30T00:00")
    assert next_run({**macro, "paused": True}, at("2026-11-28T12:00")) is None
    assert next_run({"name": "no-schedule"}, at("2026-11-28T12:00")) is None


def test_next_run_uses_cctui_now(monkeypatch):
    monkeypatch.setenv("CCTUI_NOW", "2026-11-28T12:00:00Z")
    assert next_run({"name": "d", "schedule": {"every": "daily"}}) == at("2026-11-29T00:00")


def test_describe_schedule():
    macro = {"name": "m", "schedule": {"cron": "0 9 * * 1", "filter": "status:new",
                                        "start": "2026-12-01", "end": "2027-06-30"}}
    text = describe_schedule(macro)
    assert text == "cron 0 9 * * 1 (UTC), filter status:new, from 2026-12-01T00:00:00Z, until 2027-07-01T00:00:00Z"
    assert describe_schedule({"name": "x"}) == ""


@pytest.mark.parametrize(
    "table, words",
    [
        ({}, "exactly one of 'cron' or 'every'"),
        ({"cron": "0 9 * * *", "every": "daily"}, "exactly one"),
        ({"cron": "61 * * * *"}, "not a valid cron expression"),
        ({"every": "fortnightly"}, "not one of hourly, daily, weekly, monthly"),
        ({"every": "daily", "start": "2027-01-01", "end": "2026-01-01"}, "end must come after start"),
        ({"every": "daily", "start": "next tuesday"}, "start"),
    ],
)
def test_invalid_schedules_name_the_key(table, words):
    with pytest.raises(InputError, match="schedule") as info:
        Schedule(table)
    assert words in str(info.value)
