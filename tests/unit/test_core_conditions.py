"""Kestra's time, expression and combining conditions: what each holds for, and the errors bad ones give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from engine.model.condition import AnyCondition, ConditionContext, ConditionError
from engine.model.validation import validate_text
from engine.triggers import conditions as cond

PARIS = ZoneInfo("Europe/Paris")
ONE: TypeAdapter[Any] = TypeAdapter(AnyCondition)


def make(data: dict[str, Any]) -> Any:
    return ONE.validate_python(data)


def tick(*args: int) -> ConditionContext:
    return ConditionContext(where="schedule", date=datetime(*args, tzinfo=PARIS), flow={"namespace": "a.b", "id": "f"})


def upstream(**summary: Any) -> ConditionContext:
    base = {"id": "e1", "namespace": "team.x", "flowId": "up", "state": "SUCCESS", "outputs": {}, "labels": {}, "taskRuns": []}
    return ConditionContext(where="Flow trigger", execution={**base, **summary}, flow={"namespace": "team.y", "id": "down"}, state={})


def validation_errors(condition: str) -> list[str]:
    text = dedent(f"""
        id: f
        namespace: t
        tasks: [{{id: a, type: log, message: hi}}]
        triggers:
          - id: s
            type: schedule
            cron: "0 * * * *"
            conditions:
              - {condition}
    """)
    return [str(e) for e in validate_text(text).errors]


def test_time_between_compares_times_of_day_with_their_offsets() -> None:
    office = make({"type": "io.kestra.plugin.core.condition.TimeBetween", "after": "08:00:00+02:00", "before": "17:00:00+02:00"})
    assert office.test(tick(2024, 6, 3, 9, 0))  # 09:00 Paris summer time (+02:00)
    assert not office.test(tick(2024, 6, 3, 18, 0))
    assert not office.test(tick(2024, 6, 3, 8, 0))  # bounds are exclusive
    # In winter Paris is +01:00: 07:30 local is 08:30 at +02:00, inside; in summer it is outside.
    assert office.test(tick(2024, 1, 8, 7, 30)) and not office.test(tick(2024, 6, 3, 7, 30))
    assert not office.test(tick(2024, 1, 8, 6, 30))
    only_after = make({"type": "io.kestra.core.models.conditions.types.TimeBetweenCondition", "after": "12:00:00Z"})
    assert only_after.test(tick(2024, 6, 3, 15, 0)) and not only_after.test(tick(2024, 6, 3, 13, 0))


def test_time_between_reads_a_date_expression() -> None:
    explicit = make({"type": "io.kestra.plugin.core.condition.TimeBetween", "date": "{{ trigger.date | dateAdd(2, 'HOURS') }}",
                     "before": "12:00:00+02:00"})
    assert explicit.test(tick(2024, 6, 3, 9, 0)) and not explicit.test(tick(2024, 6, 3, 10, 30))


def test_date_time_between() -> None:
    summer = make({"type": "io.kestra.plugin.core.condition.DateTimeBetween",
                   "after": "2024-06-01T00:00:00Z", "before": "2024-09-01T00:00:00+02:00"})
    assert summer.test(tick(2024, 7, 14, 10)) and not summer.test(tick(2024, 9, 2, 10)) and not summer.test(tick(2024, 5, 31, 10))


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("{type: io.kestra.plugin.core.condition.TimeBetween}", "give after, before or both"),
        ("{type: io.kestra.plugin.core.condition.TimeBetween, after: '25:00'}", "is not an ISO-8601 time such as 08:00:00+02:00"),
        ("{type: io.kestra.plugin.core.condition.DateTimeBetween, after: yesterday}", "after"),
        ("{type: io.kestra.plugin.core.condition.PublicHoliday}", "country: is required"),
        ("{type: io.kestra.plugin.core.condition.PublicHoliday, country: XX}", "no public holiday calendar for 'XX'"),
        ("{type: io.kestra.plugin.core.condition.Or, conditions: []}", "conditions"),
        ("{type: io.kestra.plugin.core.condition.MultipleCondition, id: m, conditions: {}}", "conditions"),
        ("{type: io.kestra.plugin.core.condition.MultipleCondition, id: m, conditions: {a: {type: io.kestra.plugin.core.condition.Weekend}},"
         " timeWindow: {type: DAILY_TIME_DEADLINE}}", "needs deadline"),
    ],
)
def test_bad_conditions_are_validation_errors_with_the_field(condition: str, message: str) -> None:
    errors = validation_errors(condition)
    assert errors and any(message in e and "triggers[0].conditions[0]" in e for e in errors), errors


def test_public_holiday_uses_the_holidays_package() -> None:
    bastille = make({"type": "io.kestra.plugin.core.condition.PublicHoliday", "country": "FR"})
    assert bastille.test(tick(2024, 7, 14, 10)) and not bastille.test(tick(2024, 7, 15, 10))
    state_holiday = make({"type": "io.kestra.plugin.core.condition.PublicHolidayCondition", "country": "US", "subDivision": "MA"})
    assert state_holiday.test(tick(2024, 4, 15, 10))  # Patriots' Day, Massachusetts only
    assert not make({"type": "io.kestra.plugin.core.condition.PublicHoliday", "country": "US"}).test(tick(2024, 4, 15, 10))
    skip_holidays = [{"type": "io.kestra.plugin.core.condition.Not",
                      "conditions": [{"type": "io.kestra.plugin.core.condition.PublicHoliday", "country": "FR"}]}]
    assert cond.schedule_ok(skip_holidays, datetime(2024, 7, 15, 9, tzinfo=PARIS))
    assert not cond.schedule_ok(skip_holidays, datetime(2024, 7, 14, 9, tzinfo=PARIS))


def test_a_date_condition_on_a_flow_trigger_says_it_needs_a_date() -> None:
    holiday = make({"type": "io.kestra.plugin.core.condition.PublicHoliday", "country": "FR"})
    with pytest.raises(ConditionError, match="needs a date"):
        holiday.test(upstream())


def test_or_holds_when_one_holds() -> None:
    monday_or_friday = make({"type": "io.kestra.plugin.core.condition.Or", "conditions": [
        {"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "MONDAY"},
        {"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "FRIDAY"},
    ]})
    assert monday_or_friday.test(tick(2024, 6, 3, 9)) and monday_or_friday.test(tick(2024, 6, 7, 9))
    assert not monday_or_friday.test(tick(2024, 6, 5, 9))


def test_expression_sees_the_trigger_the_flow_and_the_upstream_execution() -> None:
    failed_up = make({"type": "io.kestra.plugin.core.condition.Expression",
                      "expression": "{{ execution.state == 'FAILED' and trigger.namespace | startsWith('team') }}"})
    assert failed_up.test(upstream(state="FAILED")) and not failed_up.test(upstream(state="SUCCESS"))
    on_flow = make({"type": "io.kestra.core.models.conditions.types.VariableCondition", "expression": "{{ flow.id }}"})
    assert on_flow.test(tick(2024, 6, 3, 9))
    blank = make({"type": "io.kestra.plugin.core.condition.ExpressionCondition", "expression": "{{ trigger.missing ?? '' }}"})
    assert not blank.test(tick(2024, 6, 3, 9))
    broken = make({"type": "io.kestra.plugin.core.condition.Expression", "expression": "{{ 1 / 0 }}"})
    with pytest.raises(ConditionError, match="condition type 'io.kestra.plugin.core.condition.Expression'"):
        broken.test(tick(2024, 6, 3, 9))


def test_execution_outputs_reads_the_upstream_outputs() -> None:
    ready = make({"type": "io.kestra.plugin.core.condition.ExecutionOutputs", "expression": "{{ trigger.outputs.status == 'ready' }}"})
    assert ready.test(upstream(outputs={"status": "ready"}))
    assert not ready.test(upstream(outputs={"status": "late"}))
    assert not ready.test(upstream(outputs={}))  # no outputs never match
    with pytest.raises(ConditionError, match="cannot be used on a schedule"):
        ready.test(tick(2024, 6, 3, 9))


def test_has_retry_attempt() -> None:
    retried = [{"taskId": "t", "attempts": [{"state": "FAILED"}, {"state": "SUCCESS"}]}]
    once = [{"taskId": "t", "attempts": [{"state": "FAILED"}]}]
    any_retry = make({"type": "io.kestra.plugin.core.condition.HasRetryAttempt"})
    failed_retry = make({"type": "io.kestra.plugin.core.condition.HasRetryAttempt", "in": ["FAILED"]})
    not_success = make({"type": "io.kestra.plugin.core.condition.HasRetryAttempt", "notIn": ["SUCCESS", "FAILED"]})
    assert any_retry.test(upstream(taskRuns=retried)) and not any_retry.test(upstream(taskRuns=once))
    assert failed_retry.test(upstream(taskRuns=retried))
    assert not not_success.test(upstream(taskRuns=retried))


def test_flow_and_flow_namespace_conditions_test_the_listening_flow() -> None:
    ctx = upstream()
    assert make({"type": "io.kestra.plugin.core.condition.FlowCondition", "namespace": "team.y", "flowId": "down"}).test(ctx)
    assert not make({"type": "io.kestra.core.models.conditions.types.FlowCondition", "namespace": "team.y", "flowId": "other"}).test(ctx)
    assert make({"type": "io.kestra.plugin.core.condition.FlowNamespaceCondition", "namespace": "team", "prefix": True}).test(ctx)
    assert not make({"type": "io.kestra.plugin.core.condition.FlowNamespaceCondition", "namespace": "team"}).test(ctx)


MULTIPLE = {
    "type": "io.kestra.plugin.core.condition.MultipleCondition",
    "id": "both",
    "conditions": {
        "a": {"type": "io.kestra.plugin.core.condition.ExecutionFlow", "namespace": "team.x", "flowId": "a"},
        "b": {"type": "io.kestra.plugin.core.condition.ExecutionFlow", "namespace": "team.x", "flowId": "b"},
    },
}


def test_multiple_condition_holds_once_every_named_condition_was_met_in_the_window() -> None:
    multiple = make(MULTIPLE)
    memory: dict[str, Any] = {}

    def end_of(flow_id: str, at: datetime) -> bool:
        ctx = upstream(flowId=flow_id)
        ctx = ConditionContext(where=ctx.where, execution=ctx.execution, flow=ctx.flow, state=memory)
        return multiple.test(ctx, now=at)

    day = datetime(2024, 6, 3, 8, tzinfo=UTC)
    assert not end_of("a", day)
    assert not end_of("a", day + timedelta(hours=1))  # a again: still waiting for b
    assert end_of("b", day + timedelta(hours=2))  # both met the same day
    assert not end_of("b", day + timedelta(hours=3))  # reset after success: b alone is not enough
    assert not end_of("a", day + timedelta(days=1, hours=1))  # the next day's window dropped b
    assert end_of("b", day + timedelta(days=1, hours=2))


def test_multiple_condition_windows() -> None:
    now = datetime(2024, 6, 3, 10, tzinfo=UTC)
    sliding = make({**MULTIPLE, "timeWindow": {"type": "SLIDING_WINDOW", "window": "PT1H"}})._window()
    assert sliding.bounds(now) == (now - timedelta(hours=1), now)
    advanced = make({**MULTIPLE, "window": "PT6H", "windowAdvance": "PT6H"})._window()
    assert advanced.bounds(now) == (datetime(2024, 6, 3, 6, tzinfo=UTC), datetime(2024, 6, 3, 12, tzinfo=UTC))
    deadline = make({**MULTIPLE, "timeWindow": {"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00Z"}})._window()
    assert deadline.bounds(now) is None and deadline.bounds(now.replace(hour=8))
    daily = make({**MULTIPLE, "timeWindow": {"type": "DAILY_TIME_WINDOW", "startTime": "09:00:00Z", "endTime": "11:00:00Z"}})._window()
    assert daily.bounds(now) and daily.bounds(now.replace(hour=12)) is None


def test_multiple_condition_needs_stored_progress_and_runs_after_the_plain_conditions() -> None:
    with pytest.raises(ConditionError, match="use it on a Flow trigger"):
        make(MULTIPLE).test(tick(2024, 6, 3, 9))
    memory: dict[str, Any] = {}
    failed_a = {"id": "e", "namespace": "team.x", "flowId": "a", "state": "FAILED"}
    rules = [MULTIPLE, {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["SUCCESS"]}]
    assert not cond.execution_ok(rules, failed_a, state=memory)
    assert memory == {}  # the failed execution was rejected before the MultipleCondition saw it
    assert not cond.execution_ok(rules, {**failed_a, "state": "SUCCESS"}, state=memory)
    assert memory["multiple:both"]["met"].keys() == {"a"}
