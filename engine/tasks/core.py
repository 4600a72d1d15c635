"""Core runnable tasks: return, output_values, fail, sleep (``log`` is in :mod:`engine.tasks.log`)."""

from typing import Any, ClassVar

from pydantic import AliasChoices, Field

from engine.sdk import (
    DynamicDuration,
    RunContext,
    RunnableTask,
    TaskFailed,
    TaskResult,
    register_task,
    resolve_duration,
    truthy,
)


@register_task(
    "return",
    "io.kestra.plugin.core.debug.Return",
    "io.kestra.core.tasks.debugs.Return",
    group="Basics",
    title="Return a value",
    icon="↩️",
    summary="Render a value and make it available to later tasks as outputs.<id>.value.",
)
class Return(RunnableTask):
    light: ClassVar[bool] = True
    format: Any = Field(description="The value to return; an expression keeps its native type.")

    def run(self, ctx: RunContext) -> TaskResult:
        return TaskResult({"value": ctx.render(self.format)})


@register_task(
    "output_values",
    "io.kestra.plugin.core.output.OutputValues",
    "io.kestra.core.tasks.outputs.OutputValues",
    group="Basics",
    title="Set output values",
    icon="📤",
    summary="Publish several named values as outputs.<id>.values.",
)
class OutputValues(RunnableTask):
    light: ClassVar[bool] = True
    values: dict[str, Any] = Field(description="Named values; each may be an expression.")

    def run(self, ctx: RunContext) -> TaskResult:
        return TaskResult({"values": ctx.render(self.values)})


@register_task(
    "fail",
    "io.kestra.plugin.core.execution.Fail",
    "io.kestra.core.tasks.executions.Fail",
    group="Basics",
    title="Fail the execution",
    icon="⛔",
    summary="Fail on purpose, optionally only when a condition is true.",
)
class Fail(RunnableTask):
    light: ClassVar[bool] = True
    message: str = Field(
        default="Task failure",
        validation_alias=AliasChoices("message", "errorMessage"),
        description="The error message (Kestra's `errorMessage`).",
    )
    condition: str | bool | None = Field(default=None, description="Fail only when this renders true.")

    def run(self, ctx: RunContext) -> TaskResult:
        if self.condition is not None and not truthy(ctx.render(self.condition)):
            return TaskResult()
        raise TaskFailed(str(ctx.render(self.message)))


@register_task(
    "sleep",
    "io.kestra.plugin.core.flow.Sleep",
    "io.kestra.core.tasks.flows.Sleep",
    group="Basics",
    title="Wait",
    icon="⏳",
    summary="Wait for a duration before going on.",
)
class Sleep(RunnableTask):
    duration: DynamicDuration = Field(description="How long to wait, e.g. PT5S (or an expression giving a duration).")

    def run(self, ctx: RunContext) -> TaskResult:
        try:
            duration = resolve_duration(self.duration, ctx.render, f"{self.id}.duration")
        except ValueError as exc:
            raise TaskFailed(str(exc)) from None
        if ctx.kill_event.wait(duration.total_seconds() if duration is not None else 0):
            reason = ctx.kill_reason[0] if ctx.kill_reason else "killed"
            raise TaskFailed("Timed out" if reason == "timeout" else "Killed")
        return TaskResult()
