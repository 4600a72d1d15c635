"""Kestra's trigger.Toggle task: enable or disable a trigger of a deployed flow."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from engine.sdk import RunContext, RunnableTask, ServiceError, TaskFailed, TaskResult, register_task
from engine.tasks.values import require_related_namespace


@register_task(
    "trigger_toggle",
    "io.kestra.plugin.core.trigger.Toggle",
    "io.kestra.core.tasks.trigger.Toggle",
    group="Executions",
    title="Enable or disable a trigger",
    icon="🎚️",
    summary="Enable or disable a trigger of this flow or of another deployed flow.",
)
class Toggle(RunnableTask):
    uses_services: ClassVar[bool] = True
    trigger: str = Field(description="Id of the trigger.")
    enabled: bool = Field(default=False, description="true enables the trigger, false (the default) disables it.")
    namespace: str | None = Field(default=None, description="Namespace of the flow (default: this flow's).")
    flow_id: str | None = Field(default=None, description="Id of the flow (default: this flow).")

    def run(self, ctx: RunContext) -> TaskResult:
        namespace = str(ctx.render(self.namespace)) if self.namespace else ctx.namespace
        flow_id = str(ctx.render(self.flow_id)) if self.flow_id else ctx.flow_id
        trigger = str(ctx.render(self.trigger))
        require_related_namespace(self.id, ctx.namespace, namespace, "triggers")
        try:
            ctx.triggers.set_enabled(namespace, flow_id, trigger, self.enabled)
        except ServiceError as exc:
            raise TaskFailed(f"{self.id}: {exc}") from None
        ctx.logger.info(f"trigger {trigger} of {namespace}.{flow_id} {'enabled' if self.enabled else 'disabled'}")
        return TaskResult()
