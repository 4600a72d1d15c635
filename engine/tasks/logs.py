"""Kestra's log tasks besides Log (``io.kestra.plugin.core.log.*``): Fetch and PurgeLogs."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field

from engine.sdk import RunContext, RunnableTask, ServiceError, TaskFailed, TaskResult, dump_row, register_task
from engine.tasks.execution import parse_date
from engine.tasks.values import require_related_namespace

Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"]


@register_task(
    "log_fetch",
    "io.kestra.plugin.core.log.Fetch",
    "io.kestra.core.tasks.log.Fetch",
    group="Executions",
    title="Fetch logs",
    icon="📜",
    summary="Store the log lines of this (or another) execution as an Ion file; outputs.<id>.uri and .size.",
)
class Fetch(RunnableTask):
    uses_services: ClassVar[bool] = True
    execution_id: str | None = Field(default=None, description="The execution (default: this one).")
    namespace: str | None = Field(default=None, description="Its namespace, checked when given.")
    flow_id: str | None = Field(default=None, description="Its flow id, checked when given.")
    tasks_id: list[str] | None = Field(
        default=None, validation_alias=AliasChoices("tasksId", "taskIds", "tasks_id"), description="Only the lines of these tasks."
    )
    level: Level = Field(default="INFO", description="The lowest level fetched.")

    def run(self, ctx: RunContext) -> TaskResult:
        target = str(ctx.render(self.execution_id)) if self.execution_id else ctx.execution_id
        if target != ctx.execution_id:
            found = ctx.executions.find(target)
            if found is None:
                raise TaskFailed(f"{self.id}: no execution {target}")
            require_related_namespace(self.id, ctx.namespace, found.namespace, "executions")
            namespace = str(ctx.render(self.namespace)) if self.namespace else ctx.namespace
            flow_id = str(ctx.render(self.flow_id)) if self.flow_id else (ctx.flow_id if not self.namespace else found.flow_id)
            if (found.namespace, found.flow_id) != (namespace, flow_id):
                raise TaskFailed(
                    f"{self.id}: execution {target} belongs to {found.namespace}.{found.flow_id}, not {namespace}.{flow_id}; "
                    "set namespace and flowId to fetch another flow's logs"
                )
        uri = ctx.file_uri("logs.ion")
        size = 0
        try:
            lines = ctx.executions.logs(target, task_ids=self.tasks_id, min_level=self.level)
            with ctx.storage.open_write(uri, namespace=ctx.namespace) as out:
                for line in lines:
                    out.write(dump_row({"namespace": ctx.namespace, "flowId": ctx.flow_id, **line}))
                    size += 1
        except ServiceError as exc:
            raise TaskFailed(f"{self.id}: {exc}") from None
        return TaskResult({"uri": uri, "size": size})


@register_task(
    "purge_logs",
    "io.kestra.plugin.core.log.PurgeLogs",
    group="Executions",
    title="Purge logs",
    icon="🧹",
    summary="Delete log lines written before a date (of a namespace or flow, of some levels).",
)
class PurgeLogs(RunnableTask):
    uses_services: ClassVar[bool] = True
    namespace: str | None = Field(default=None, description="Only the logs of this namespace (and its children, unless flowId is set).")
    flow_id: str | None = Field(default=None, description="Only the logs of this flow (needs namespace).")
    log_levels: list[Level] | None = Field(default=None, description="Only lines of these levels.")
    start_date: str | None = Field(default=None, description="Only lines written from this date-time.")
    end_date: str = Field(description="Only lines written before this date-time (ISO-8601, may be an expression).")

    def run(self, ctx: RunContext) -> TaskResult:
        if self.flow_id and not self.namespace:
            raise TaskFailed(f"{self.id}: flowId needs namespace too")
        count = ctx.executions.purge_logs(
            namespace=ctx.render(self.namespace) if self.namespace else None,
            flow_id=ctx.render(self.flow_id) if self.flow_id else None,
            levels=list(self.log_levels) if self.log_levels else None,
            start=parse_date(ctx.render(self.start_date), f"{self.id}.startDate") if self.start_date else None,
            end=parse_date(ctx.render(self.end_date), f"{self.id}.endDate"),
        )
        ctx.logger.info(f"purged {count} log lines")
        return TaskResult({"count": count})
