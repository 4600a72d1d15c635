"""Kestra's deprecated Echo task, and metric Publish."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from engine.sdk import (
    LannerModel,
    RunContext,
    RunnableTask,
    TaskFailed,
    TaskResult,
    parse_duration,
    register_task,
)


@register_task(
    "echo",
    "io.kestra.plugin.core.debug.Echo",
    "io.kestra.core.tasks.debugs.Echo",
    group="Basics",
    title="Echo (deprecated)",
    icon="🔊",
    summary="Write a message to the logs (Kestra's deprecated Echo; use log).",
)
class Echo(RunnableTask):
    light: ClassVar[bool] = True
    format: str = Field(min_length=1, description="The message; expressions are rendered.")
    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = Field(default="INFO", description="Log level of the message.")

    def run(self, ctx: RunContext) -> TaskResult:
        ctx.logger.log(self.level, str(ctx.render(self.format)))
        return TaskResult()


class Metric(LannerModel):
    """One metric to publish: a counter, a gauge or a timer."""

    type: Literal["counter", "gauge", "timer"] = Field(description="counter (adds up), gauge (a level) or timer (a duration).")
    name: str = Field(min_length=1, description="Name of the metric.")
    value: Any = Field(description="A number (counter, gauge) or an ISO-8601 duration (timer); may be an expression.")
    tags: dict[str, Any] | None = Field(default=None, description="Tags of the metric (expressions rendered).")
    description: str | None = Field(default=None, description="What it measures.")

    @field_validator("type", mode="before")
    @classmethod
    def _lower(cls, value: object) -> Any:
        return value.lower() if isinstance(value, str) else value


@register_task(
    "metric_publish",
    "io.kestra.plugin.core.metric.Publish",
    group="Basics",
    title="Publish metrics",
    icon="📈",
    summary="Publish counters, gauges and timers on the task run (shown with its outputs).",
)
class Publish(RunnableTask):
    light: ClassVar[bool] = True
    metrics: list[Metric] | str = Field(description="The metrics, or an expression giving a list of them.")

    def run(self, ctx: RunContext) -> TaskResult:
        raw = ctx.render(self.metrics) if isinstance(self.metrics, str) else self.metrics
        if not isinstance(raw, list):
            raise TaskFailed(f"{self.id}.metrics: expected a list of metrics, got {type(raw).__name__}")
        for i, item in enumerate(raw):
            metric = item if isinstance(item, Metric) else _metric(item, f"{self.id}.metrics[{i}]")
            value = ctx.render(metric.value)
            where = f"{self.id}.metrics[{i}].value"
            if metric.type == "timer":
                try:
                    number = parse_duration(str(value)).total_seconds()
                except ValueError:
                    raise TaskFailed(f"{where}: {value!r} is not an ISO-8601 duration such as PT10M") from None
            else:
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    raise TaskFailed(f"{where}: {value!r} is not a number") from None
                number = int(number) if number.is_integer() else number
            ctx.metric(metric.type, str(ctx.render(metric.name)), number, ctx.render(metric.tags or {}))
        return TaskResult()


def _metric(item: object, where: str) -> Metric:
    try:
        return Metric.model_validate(item)
    except ValueError as exc:
        raise TaskFailed(f"{where}: not a metric ({exc.__class__.__name__}); give type, name and value") from None
