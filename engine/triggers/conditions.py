"""Kestra's trigger conditions: on the tick's day (schedules) and on the upstream execution (Flow triggers).

Each condition is a type like any plugin's (registered in the ``lanner.conditions``
entry point group); the time, expression and combining conditions are in
:mod:`engine.triggers.conditions_time` and :mod:`engine.triggers.conditions_logic`. The current (``io.kestra.plugin.core.condition.DayWeek``) and
legacy (``io.kestra.core.models.conditions.types.DayWeekCondition``) names are
aliases; like Kestra, any name whose last segment is the same, with or without
the ``Condition`` suffix, is accepted too.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, TypeAdapter, field_validator

from engine.sdk import AnyCondition, Condition, ConditionContext, ConditionError, register_condition

__all__ = ["ConditionError", "execution_ok", "schedule_ok", "test_all"]

DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
DAY_IN_MONTH = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "LAST": -1}

_DATE_DOC = "Kestra compatibility: the date of the firing ({{ trigger.date }}) is what is tested."


def _kestra(name: str) -> tuple[str, str, str]:
    """A condition's Kestra names: current, legacy, and the current package with the old suffix."""
    return (f"io.kestra.plugin.core.condition.{name}", f"io.kestra.core.models.conditions.types.{name}Condition",
            f"io.kestra.plugin.core.condition.{name}Condition")


# --- schedule conditions (on the firing's local date) -----------------------------------------------


class _OnWeekday(Condition):
    """Kestra's day conditions: a day of the week, tested on the firing's date."""

    needs: ClassVar[frozenset[str]] = frozenset({"date"})

    day_of_week: str = Field(description="MONDAY ... SUNDAY.")
    date: str | None = Field(default=None, description=_DATE_DOC)

    @field_validator("day_of_week")
    @classmethod
    def _day_name(cls, value: object) -> str:
        day = str(value).upper()
        if day not in DAYS:
            raise ValueError(f"'{value}' is not a day name such as MONDAY")
        return day

    def _same_weekday(self, ctx: ConditionContext) -> datetime | None:
        day = ctx.require_date(self)
        return day if day.weekday() == DAYS.index(self.day_of_week) else None


@register_condition("day_week", *_kestra("DayWeek"), title="On a day of the week", summary="Fire only on one day of the week.")
class DayWeek(_OnWeekday):
    def test(self, ctx: ConditionContext) -> bool:
        return self._same_weekday(ctx) is not None


@register_condition(
    "day_week_in_month", *_kestra("DayWeekInMonth"), title="On the nth weekday of the month",
    summary="Fire only on the first, second, third, fourth or last given weekday of the month.",
)
class DayWeekInMonth(_OnWeekday):
    day_in_month: str = Field(description="FIRST, SECOND, THIRD, FOURTH or LAST.")

    @field_validator("day_in_month")
    @classmethod
    def _which(cls, value: object) -> str:
        which = str(value).upper()
        if which not in DAY_IN_MONTH:
            raise ValueError("use FIRST, SECOND, THIRD, FOURTH or LAST")
        return which

    def test(self, ctx: ConditionContext) -> bool:
        day = self._same_weekday(ctx)
        if day is None:
            return False
        n = DAY_IN_MONTH[self.day_in_month]
        if n == -1:
            return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        return (day.day - 1) // 7 + 1 == n


@register_condition("weekend", *_kestra("Weekend"), title="On weekends", summary="Fire only on Saturdays and Sundays.")
class Weekend(Condition):
    needs: ClassVar[frozenset[str]] = frozenset({"date"})
    date: str | None = Field(default=None, description=_DATE_DOC)

    def test(self, ctx: ConditionContext) -> bool:
        return ctx.require_date(self).weekday() >= 5


@register_condition("not", *_kestra("Not"), title="None of these", summary="Fire only when none of the nested conditions holds.")
class Not(Condition):
    conditions: list[AnyCondition] = Field(min_length=1, description="The conditions that must all be false.")

    def test(self, ctx: ConditionContext) -> bool:
        return not any(c.test(ctx) for c in self.conditions)


# --- execution conditions (on the upstream execution that ended) ----------------------------------------


@register_condition(
    "execution_status", *_kestra("ExecutionStatus"), title="Upstream state",
    summary="Fire only when the upstream execution ended in (or not in) given states.",
)
class ExecutionStatus(Condition):
    needs: ClassVar[frozenset[str]] = frozenset({"execution"})
    in_: list[str] | None = Field(default=None, alias="in", description="States that match (any when empty).")
    not_in: list[str] | None = Field(default=None, description="States that do not match.")

    def test(self, ctx: ConditionContext) -> bool:
        state = str(ctx.require_execution(self).get("state"))
        ins = [s.upper() for s in self.in_ or []]
        return (not ins or state in ins) and state not in [s.upper() for s in self.not_in or []]


@register_condition(
    "execution_flow", *_kestra("ExecutionFlow"), title="Upstream flow",
    summary="Fire only after an execution of one given flow.",
)
class ExecutionFlow(Condition):
    needs: ClassVar[frozenset[str]] = frozenset({"execution"})
    namespace: str = Field(description="Namespace of the upstream flow.")
    flow_id: str = Field(description="Id of the upstream flow.")

    def test(self, ctx: ConditionContext) -> bool:
        execution = ctx.require_execution(self)
        return execution.get("namespace") == self.namespace and execution.get("flowId") == self.flow_id


@register_condition(
    "execution_namespace", *_kestra("ExecutionNamespace"), title="Upstream namespace",
    summary="Fire only after an execution in a namespace (equal, prefix or suffix).",
)
class ExecutionNamespace(Condition):
    needs: ClassVar[frozenset[str]] = frozenset({"execution"})
    namespace: str = Field(description="The namespace to compare with.")
    comparison: Literal["EQUALS", "PREFIX", "SUFFIX"] | None = Field(default=None, description="How to compare (default EQUALS).")
    prefix: bool = Field(default=False, description="Shortcut for comparison: PREFIX (used when comparison is not set).")

    @field_validator("comparison", mode="before")
    @classmethod
    def _upper(cls, value: object) -> Any:
        return value.upper() if isinstance(value, str) else value

    def test(self, ctx: ConditionContext) -> bool:
        namespace = str(ctx.require_execution(self).get("namespace", ""))
        comparison = self.comparison or ("PREFIX" if self.prefix else "EQUALS")
        if comparison == "PREFIX":
            return namespace == self.namespace or namespace.startswith(self.namespace.rstrip(".") + ".") or namespace.startswith(self.namespace)
        if comparison == "SUFFIX":
            return namespace.endswith(self.namespace)
        return namespace == self.namespace


@register_condition(
    "execution_labels", *_kestra("ExecutionLabels"), title="Upstream labels",
    summary="Fire only after an execution that carries given labels.",
)
class ExecutionLabels(Condition):
    needs: ClassVar[frozenset[str]] = frozenset({"execution"})
    labels: dict[str, Any] | list[dict[str, Any]] = Field(description="Labels the upstream execution must have (map or list of key/value).")

    def test(self, ctx: ConditionContext) -> bool:
        have = ctx.require_execution(self).get("labels") or {}
        wanted = self.labels
        if isinstance(wanted, list):
            wanted = {str(x.get("key")): x.get("value") for x in wanted if isinstance(x, Mapping)}
        return all(str(have.get(key)) == str(value) for key, value in wanted.items())


# --- evaluation ---------------------------------------------------------------------------------------

_CONDITIONS: TypeAdapter[list[Condition]] = TypeAdapter(list[AnyCondition])


def _typed(conditions: Iterable[Condition | Mapping[str, Any]] | None) -> list[Condition]:
    items = list(conditions or [])
    if all(isinstance(c, Condition) for c in items):
        return items  # type: ignore[return-value]
    try:
        return _CONDITIONS.validate_python(items)
    except ValueError as exc:
        raise ConditionError(f"invalid condition: {exc}") from None


def test_all(conditions: Iterable[Condition | Mapping[str, Any]] | None, ctx: ConditionContext) -> bool:
    """All conditions hold for this firing (the first that does not hold stops the evaluation).

    Stateful conditions (MultipleCondition) come last, as in Kestra: an event the
    other conditions reject is never remembered by them.
    """
    typed = _typed(conditions)
    ordered = [c for c in typed if not c.stateful] + [c for c in typed if c.stateful]
    return all(c.test(ctx) for c in ordered)


def schedule_ok(
    conditions: Iterable[Condition | Mapping[str, Any]] | None, local: datetime, flow: Mapping[str, Any] | None = None
) -> bool:
    """All conditions hold for a tick at ``local`` (its wall time in the schedule's time zone)."""
    return test_all(conditions, ConditionContext(where="schedule", date=local, flow=flow or {}))


def execution_ok(
    conditions: Iterable[Condition | Mapping[str, Any]] | None,
    summary: Mapping[str, Any],
    *,
    flow: Mapping[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> bool:
    """All conditions hold for the ended upstream execution ``summary`` (``state``: memory of stateful ones)."""
    return test_all(conditions, ConditionContext(where="Flow trigger", execution=summary, flow=flow or {}, state=state))

