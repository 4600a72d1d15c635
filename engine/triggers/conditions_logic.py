"""Kestra's combining and expression conditions: Or, Expression, ExecutionOutputs, HasRetryAttempt,
FlowCondition, FlowNamespaceCondition and MultipleCondition.

MultipleCondition is stateful: it remembers, in the trigger's stored state,
which of its named conditions some upstream execution satisfied within a time
window, and holds once all of them have (then it starts over). The Flow
trigger keeps that memory between firings (``ConditionContext.state``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from engine.sdk import (
    AnyCondition,
    Condition,
    ConditionContext,
    ConditionError,
    Duration,
    LannerModel,
    register_condition,
    render_expression,
)
from engine.triggers.conditions_time import offset_time

FALSE_TEXTS = ("", "false")


def _kestra(name: str) -> tuple[str, str, str]:
    return (f"io.kestra.plugin.core.condition.{name}", f"io.kestra.core.models.conditions.types.{name}Condition",
            f"io.kestra.plugin.core.condition.{name}Condition")


def _holds(condition: Condition, expression: str, variables: dict[str, Any]) -> bool:
    """Kestra's reading of a rendered condition: blank or ``false`` is false, anything else true."""
    try:
        rendered = render_expression(expression, variables)
    except Exception as exc:  # noqa: BLE001 - one sentence: which condition, what failed
        raise ConditionError(f"condition type '{condition.type}': {exc}") from None
    if isinstance(rendered, bool):
        return rendered
    return str("" if rendered is None else rendered).strip().lower() not in FALSE_TEXTS


@register_condition("or", *_kestra("Or"), title="Any of these", summary="Fire when at least one of the nested conditions holds.")
class Or(Condition):
    conditions: list[AnyCondition] = Field(min_length=1, description="Conditions of which one must hold.")

    def test(self, ctx: ConditionContext) -> bool:
        return any(c.test(ctx) for c in self.conditions)


@register_condition(
    "expression",
    "io.kestra.plugin.core.condition.Expression",
    "io.kestra.plugin.core.condition.ExpressionCondition",
    "io.kestra.core.models.conditions.types.VariableCondition",
    title="An expression",
    summary="Fire when an expression on the firing ({{ trigger.* }}, {{ flow.* }}, {{ execution.* }}) is true.",
)
class Expression(Condition):
    expression: str = Field(min_length=1, description="True (not blank, not 'false') lets the firing go ahead.")

    def test(self, ctx: ConditionContext) -> bool:
        return _holds(self, self.expression, ctx.variables())


@register_condition(
    "execution_outputs", *_kestra("ExecutionOutputs"), title="Upstream outputs",
    summary="Fire when an expression on the upstream execution's outputs ({{ trigger.outputs.x }}) is true.",
)
class ExecutionOutputs(Condition):
    expression: str = Field(min_length=1, description="E.g. {{ trigger.outputs.status == 'ok' }}.")

    def test(self, ctx: ConditionContext) -> bool:
        execution = ctx.require_execution(self)
        if not execution.get("outputs"):
            return False  # Kestra: an execution without outputs never matches
        return _holds(self, self.expression, ctx.variables())


@register_condition(
    "has_retry_attempt", *_kestra("HasRetryAttempt"), title="Upstream retried",
    summary="Fire when a task of the upstream execution was retried (with an attempt in / not in given states).",
)
class HasRetryAttempt(Condition):
    in_: list[str] | None = Field(default=None, alias="in", description="Attempt states that count.")
    not_in: list[str] | None = Field(default=None, description="Attempt states that do not count.")

    def test(self, ctx: ConditionContext) -> bool:
        execution = ctx.require_execution(self)
        ins = {s.upper() for s in self.in_ or []}
        outs = {s.upper() for s in self.not_in or []}
        for tr in execution.get("taskRuns") or []:
            attempts = tr.get("attempts") or []
            if len(attempts) <= 1:
                continue
            for attempt in attempts:
                state = str(attempt.get("state"))
                if (not ins or state in ins) and state not in outs:
                    return True
        return False


@register_condition(
    "flow_condition", "io.kestra.plugin.core.condition.FlowCondition", "io.kestra.core.models.conditions.types.FlowCondition",
    title="This flow", summary="Hold only for the flow with this namespace and id (Kestra's listener conditions).",
)
class FlowCondition(Condition):
    namespace: str = Field(description="Namespace of the flow.")
    flow_id: str = Field(description="Id of the flow.")

    def test(self, ctx: ConditionContext) -> bool:
        return ctx.flow.get("namespace") == self.namespace and ctx.flow.get("id") == self.flow_id


@register_condition(
    "flow_namespace_condition", "io.kestra.plugin.core.condition.FlowNamespaceCondition",
    "io.kestra.core.models.conditions.types.FlowNamespaceCondition",
    title="This namespace", summary="Hold only for flows of a namespace (or below it, with prefix).",
)
class FlowNamespaceCondition(Condition):
    namespace: str = Field(description="The namespace.")
    prefix: bool = Field(default=False, description="Also its child namespaces (any namespace starting with it).")

    def test(self, ctx: ConditionContext) -> bool:
        namespace = str(ctx.flow.get("namespace", ""))
        return namespace.startswith(self.namespace) if self.prefix else namespace == self.namespace


# --- MultipleCondition -------------------------------------------------------------------------------


class TimeWindow(LannerModel):
    """The period in which all the named conditions must be met (Kestra's ``timeWindow``)."""

    type: Literal["DURATION_WINDOW", "SLIDING_WINDOW", "DAILY_TIME_DEADLINE", "DAILY_TIME_WINDOW"] = Field(
        default="DURATION_WINDOW", description="How the window moves."
    )
    window: Duration | None = Field(default=None, description="Length of the window (DURATION_WINDOW, SLIDING_WINDOW; default P1D).")
    window_advance: Duration | None = Field(default=None, description="Offset of a DURATION_WINDOW's start from midnight UTC.")
    deadline: str | None = Field(default=None, description="DAILY_TIME_DEADLINE: all met before this time of day, e.g. 09:00:00.")
    start_time: str | None = Field(default=None, description="DAILY_TIME_WINDOW: start of the daily window.")
    end_time: str | None = Field(default=None, description="DAILY_TIME_WINDOW: end of the daily window.")

    @field_validator("deadline", "start_time", "end_time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None:
            offset_time(value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> TimeWindow:
        if self.type == "DAILY_TIME_DEADLINE" and self.deadline is None:
            raise ValueError("a DAILY_TIME_DEADLINE window needs deadline")
        if self.type == "DAILY_TIME_WINDOW" and (self.start_time is None or self.end_time is None):
            raise ValueError("a DAILY_TIME_WINDOW window needs startTime and endTime")
        return self

    def bounds(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window ``now`` falls in (None: outside any window, nothing counts)."""
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.type == "SLIDING_WINDOW":
            return now - (self.window or timedelta(days=1)), now
        if self.type == "DAILY_TIME_DEADLINE":
            end = _at(midnight, offset_time(self.deadline or "00:00:00"))
            return (midnight, end) if now <= end else None
        if self.type == "DAILY_TIME_WINDOW":
            start = _at(midnight, offset_time(self.start_time or "00:00:00"))
            end = _at(midnight, offset_time(self.end_time or "23:59:59"))
            return (start, end) if start <= now <= end else None
        window = self.window or timedelta(days=1)
        start = midnight + (self.window_advance or timedelta(0))
        while start > now:
            start -= window
        while start + window <= now:
            start += window
        return start, start + window


def _at(midnight: datetime, moment: time) -> datetime:
    local = datetime.combine(midnight.date(), moment.replace(tzinfo=None), tzinfo=moment.tzinfo)
    return local.astimezone(UTC)


@register_condition(
    "multiple_condition", "io.kestra.plugin.core.condition.MultipleCondition",
    "io.kestra.core.models.conditions.types.MultipleCondition",
    title="All of these within a window",
    summary="Fire once each named condition has been met by some upstream execution within a time window.",
)
class MultipleCondition(Condition):
    stateful: ClassVar[bool] = True

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", description="Unique in the trigger: names its stored progress.")
    conditions: dict[str, AnyCondition] = Field(min_length=1, description="Name -> condition; each must be met once in the window.")
    time_window: TimeWindow | None = Field(default=None, description="The window (default: one day from midnight UTC).")
    window: Duration | None = Field(default=None, description="Kestra's older spelling of timeWindow.window.")
    window_advance: Duration | None = Field(default=None, description="Kestra's older spelling of timeWindow.windowAdvance.")
    reset_on_success: bool = Field(default=True, description="After firing, wait for all conditions to be met again.")

    def _window(self) -> TimeWindow:
        base = self.time_window or TimeWindow()
        updates = {k: v for k, v in (("window", self.window), ("window_advance", self.window_advance)) if v is not None}
        return base.model_copy(update=updates) if updates else base

    def test(self, ctx: ConditionContext, now: datetime | None = None) -> bool:
        if ctx.state is None:
            raise ConditionError(f"condition type '{self.type}' keeps progress between executions: use it on a Flow trigger")
        now = now or datetime.now(UTC)
        bounds = self._window().bounds(now)
        memory = ctx.state.setdefault(f"multiple:{self.id}", {})
        if bounds is None:
            memory.clear()  # outside the daily window: nothing counts
            return False
        start, end = (b.isoformat() for b in bounds)
        met: dict[str, str] = {name: when for name, when in (memory.get("met") or {}).items() if start <= when <= end}
        for name, condition in self.conditions.items():
            if name not in met and condition.test(ctx):
                met[name] = now.isoformat()
        done = len(met) == len(self.conditions)
        memory["met"] = {} if done and self.reset_on_success else met
        return done
