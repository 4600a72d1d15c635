"""Cron ticks in time zones (DST gaps and overlaps), previous/next, backfill ranges, day conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.model.validation import validate_text
from engine.triggers import conditions as cond
from engine.triggers.ticks import local_iso, next_tick, parse_instant, prev_tick, ticks_between

PARIS = "Europe/Paris"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def paris_ticks(cron: str, start: str, end: str) -> list[str]:
    return [local_iso(t, PARIS) for t in ticks_between(cron, PARIS, utc(start), utc(end))]


def test_spring_forward_fires_once_at_0330_local() -> None:
    # 2024-03-31: clocks jump from 02:00 to 03:00 in Paris; 02:30 does not exist.
    ticks = paris_ticks("30 2 * * *", "2024-03-30T00:00:00+01:00", "2024-04-02T00:00:00+02:00")
    assert ticks == ["2024-03-30T02:30:00+01:00", "2024-03-31T03:30:00+02:00", "2024-04-01T02:30:00+02:00"]


def test_fall_back_fires_once_at_the_first_0230() -> None:
    # 2024-10-27: 02:00-03:00 happens twice in Paris (CEST then CET).
    ticks = paris_ticks("30 2 * * *", "2024-10-26T00:00:00+02:00", "2024-10-29T00:00:00+01:00")
    assert ticks == ["2024-10-26T02:30:00+02:00", "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"]


def test_dst_nights_exactly_one_tick_per_local_day() -> None:
    for start, end in [("2024-03-25T00:00:00+01:00", "2024-04-05T00:00:00+02:00"), ("2024-10-20T00:00:00+02:00", "2024-11-02T00:00:00+01:00")]:
        ticks = list(ticks_between("30 2 * * *", PARIS, utc(start), utc(end)))
        days = [local_iso(t, PARIS)[:10] for t in ticks]
        local_days = (datetime.fromisoformat(end).date() - datetime.fromisoformat(start).date()).days
        assert len(days) == len(set(days)) == local_days


def test_every_quarter_hour_keeps_real_time_through_both_changes() -> None:
    spring = list(ticks_between("*/15 * * * *", PARIS, utc("2024-03-31T01:00:00+01:00"), utc("2024-03-31T04:00:00+02:00")))
    assert [local_iso(t, PARIS)[11:19] for t in spring] == ["01:00:00", "01:15:00", "01:30:00", "01:45:00", "03:00:00", "03:15:00", "03:30:00", "03:45:00"]
    fall = list(ticks_between("*/15 * * * *", PARIS, utc("2024-10-27T02:00:00+02:00"), utc("2024-10-27T03:00:00+01:00")))
    assert len(fall) == 8  # the repeated hour runs too: every 15 real minutes
    assert all(b - a == timedelta(minutes=15) for a, b in zip(fall, fall[1:], strict=False))


def test_next_and_previous_ticks() -> None:
    t = utc("2024-05-01T10:07:00+00:00")
    assert next_tick("*/15 * * * *", "UTC", t) == utc("2024-05-01T10:15:00+00:00")
    assert prev_tick("*/15 * * * *", "UTC", t) == utc("2024-05-01T10:00:00+00:00")
    exact = utc("2024-05-01T10:15:00+00:00")
    assert next_tick("*/15 * * * *", "UTC", exact) == utc("2024-05-01T10:30:00+00:00")  # strictly after
    assert prev_tick("*/15 * * * *", "UTC", exact) == utc("2024-05-01T10:00:00+00:00")  # strictly before
    assert next_tick("@daily", "Asia/Tokyo", t) == utc("2024-05-02T00:00:00+09:00")
    assert next_tick("*/10 * * * * *", "UTC", t) == utc("2024-05-01T10:07:10+00:00")  # seconds first
    assert prev_tick("30 2 * * *", PARIS, utc("2024-04-01T00:00:00+02:00")) == utc("2024-03-31T03:30:00+02:00")


def test_backfill_range_is_start_inclusive_end_exclusive() -> None:
    ticks = list(ticks_between("*/15 * * * *", "UTC", utc("2024-01-01T10:00:00+00:00"), utc("2024-01-01T11:00:00+00:00")))
    assert [t.strftime("%H:%M") for t in ticks] == ["10:00", "10:15", "10:30", "10:45"]


def test_parse_instant_reads_naive_times_in_the_trigger_zone() -> None:
    assert parse_instant("2024-01-01T10:00:00", PARIS) == utc("2024-01-01T09:00:00+00:00")
    assert parse_instant("2024-01-01T10:00:00Z", PARIS) == utc("2024-01-01T10:00:00+00:00")
    with pytest.raises(ValueError):
        parse_instant("yesterday")


def test_day_conditions() -> None:
    monday, first_friday, last_friday = datetime(2024, 5, 6, 9), datetime(2024, 5, 3, 9), datetime(2024, 5, 31, 9)
    day_week = [{"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "MONDAY"}]
    assert cond.schedule_ok(day_week, monday) and not cond.schedule_ok(day_week, first_friday)
    legacy = [{"type": "io.kestra.core.models.conditions.types.DayWeekInMonthCondition", "dayOfWeek": "FRIDAY", "dayInMonth": "FIRST"}]
    assert cond.schedule_ok(legacy, first_friday) and not cond.schedule_ok(legacy, last_friday)
    last = [{"type": "io.kestra.plugin.core.condition.DayWeekInMonth", "dayOfWeek": "FRIDAY", "dayInMonth": "LAST"}]
    assert cond.schedule_ok(last, last_friday) and not cond.schedule_ok(last, datetime(2024, 5, 24, 9))
    assert cond.schedule_ok([{"type": "io.kestra.plugin.core.condition.Weekend"}], datetime(2024, 5, 5))
    bad_day = validate_text(
        "id: f\nnamespace: t\ntasks: [{id: a, type: log, message: hi}]\n"
        "triggers: [{id: s, type: schedule, cron: '0 9 * * *', conditions: [{type: DayWeek, dayOfWeek: FUNDAY}]}]\n"
    )
    assert [str(e) for e in bad_day.errors] == ["triggers[0].conditions[0].dayOfWeek: 'FUNDAY' is not a day name such as MONDAY (line 4)"]
    with pytest.raises(cond.ConditionError):
        cond.schedule_ok([{"type": "io.kestra.plugin.core.condition.ExecutionStatus"}], monday)


def test_execution_conditions() -> None:
    summary = {"id": "e1", "namespace": "company.team", "flowId": "up", "state": "FAILED", "labels": {"env": "prod"}}
    assert cond.execution_ok([{"type": "io.kestra.plugin.core.condition.ExecutionStatusCondition", "in": ["FAILED", "WARNING"]}], summary)
    assert not cond.execution_ok([{"type": "io.kestra.plugin.core.condition.ExecutionStatusCondition", "notIn": ["FAILED"]}], summary)
    assert cond.execution_ok([{"type": "io.kestra.plugin.core.condition.ExecutionFlowCondition", "namespace": "company.team", "flowId": "up"}], summary)
    assert not cond.execution_ok([{"type": "io.kestra.plugin.core.condition.ExecutionFlowCondition", "namespace": "company", "flowId": "up"}], summary)
    prefix = {"type": "io.kestra.plugin.core.condition.ExecutionNamespaceCondition", "namespace": "company", "comparison": "PREFIX"}
    assert cond.execution_ok([prefix], summary)
    assert not cond.execution_ok([{**prefix, "comparison": "EQUALS"}], summary)
    assert cond.execution_ok([{"type": "ExecutionLabelsCondition", "labels": {"env": "prod"}}], summary)
