"""Kestra's execution tasks (``io.kestra.plugin.core.execution.*``) besides Fail: Labels, Exit, Assert,
Count, PurgeExecutions and Resume.

Labels and Exit change their own execution: they return it in their
:class:`~engine.sdk.TaskResult` and the executor applies it when it records
the result. Count, PurgeExecutions and Resume use the execution history
(``ctx.executions``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator

from engine.sdk import (
    LannerModel,
    RunContext,
    RunnableTask,
    ServiceError,
    TaskFailed,
    TaskResult,
    as_key,
    register_task,
    truthy,
)
from engine.tasks.values import iso_datetime, require_related_namespace, structured

#: Label keys of this prefix are set by the engine itself (Kestra's rule).
SYSTEM_PREFIX = "system."
STATES = ("CREATED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "SUCCESS", "WARNING", "FAILED", "KILLED",
          "CANCELLED", "QUEUED", "RETRYING", "SKIPPED")


def parse_date(value: object, field: str) -> datetime:
    """An ISO-8601 date-time with an offset (``2024-01-01T00:00:00Z``, ``{{ now() }}``'s text)."""
    return iso_datetime(value, field, zone_required=True)


def check_states(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out = []
    for value in values:
        state = str(value).upper().replace("CANCELED", "CANCELLED")
        if state not in STATES:
            raise ValueError(f"'{value}' is not an execution state (use one of {', '.join(STATES)})")
        out.append(state)
    return out


@register_task(
    "labels",
    "io.kestra.plugin.core.execution.Labels",
    "io.kestra.core.tasks.executions.Labels",
    group="Basics",
    title="Set execution labels",
    icon="🏷️",
    summary="Add or change labels of the current execution.",
)
class Labels(RunnableTask):
    light: ClassVar[bool] = True
    labels: dict[str, Any] | list[Any] | str = Field(
        description="A map of labels, a list of {key, value}, or an expression giving one of them (a JSON text too)."
    )

    def run(self, ctx: RunContext) -> TaskResult:
        raw = self.labels
        if isinstance(raw, str):
            raw = structured(ctx.render(raw), f"{self.id}.labels", (dict, list), "a map or a list of labels")
        if isinstance(raw, dict):
            pairs = [(ctx.render(k), ctx.render(v)) for k, v in raw.items()]
        elif isinstance(raw, list):
            pairs = []
            for i, item in enumerate(raw):
                if not isinstance(item, dict) or "key" not in item or "value" not in item:
                    raise TaskFailed(f"{self.id}.labels[{i}]: give a label as {{key: ..., value: ...}}")
                pairs.append((ctx.render(item["key"]), ctx.render(item["value"])))
        else:
            raise TaskFailed(f"{self.id}.labels: expected a map or a list of labels, got {type(raw).__name__}")
        labels: dict[str, str] = {}
        for key, value in pairs:
            key = as_key(key)
            if not key:
                raise TaskFailed(f"{self.id}.labels: a label key is empty")
            if key.startswith(SYSTEM_PREFIX):
                raise TaskFailed(f"{self.id}.labels: '{key}' is a system label, which only Lanner itself sets")
            labels[key] = "" if value is None else as_key(value)
        return TaskResult(labels=labels)


@register_task(
    "exit",
    "io.kestra.plugin.core.execution.Exit",
    group="Basics",
    title="End the execution",
    icon="🚪",
    summary="End the execution now in a given state (SUCCESS, WARNING, FAILED, CANCELED or KILLED).",
)
class Exit(RunnableTask):
    light: ClassVar[bool] = True
    state: str = Field(
        default="SUCCESS",
        description="SUCCESS, WARNING, FAILED, CANCELED or KILLED (may be an expression). KILLED also kills what "
        "still runs; with the others, tasks already running finish first and nothing new starts.",
    )

    @field_validator("state")
    @classmethod
    def _known(cls, value: str) -> str:
        if "{{" not in value and _exit_state(value) is None:
            raise ValueError(f"'{value}' is not an exit state: use SUCCESS, WARNING, FAILED, CANCELED or KILLED")
        return value

    def run(self, ctx: RunContext) -> TaskResult:
        rendered = str(ctx.render(self.state))
        state = _exit_state(rendered)
        if state is None:
            raise TaskFailed(f"{self.id}.state: '{rendered}' is not an exit state: use SUCCESS, WARNING, FAILED, CANCELED or KILLED")
        return TaskResult(exit_state=state)


def _exit_state(value: str) -> str | None:
    name = value.strip().upper()
    return {"SUCCESS": "SUCCESS", "WARNING": "WARNING", "FAILED": "FAILED", "KILLED": "KILLED",
            "CANCELED": "CANCELLED", "CANCELLED": "CANCELLED"}.get(name)


@register_task(
    "assert",
    "io.kestra.plugin.core.execution.Assert",
    group="Basics",
    title="Check conditions",
    icon="✅",
    summary="Fail when one of the conditions renders false; every false one is logged.",
)
class Assert(RunnableTask):
    light: ClassVar[bool] = True
    conditions: list[str | bool] = Field(min_length=1, description="Expressions that must all render true.")
    error_message: str | None = Field(default=None, description="Added to the failure message.")

    def run(self, ctx: RunContext) -> TaskResult:
        failed = 0
        for condition in self.conditions:
            if _asserted(ctx.render(condition)):
                continue
            failed += 1
            ctx.logger.error(f"Assertion `{condition}` failed!")
        ctx.metric("counter", "failed", failed)
        ctx.metric("counter", "success", len(self.conditions) - failed)
        if failed:
            message = f"{failed} assertion(s) failed"
            if self.error_message:
                message += f": {ctx.render(self.error_message)}"
            raise TaskFailed(message)
        return TaskResult()


def _asserted(value: object) -> bool:
    """Kestra's coercion for assertions: false, 0, -0, '' and null are false."""
    if isinstance(value, str) and value.strip() in ("-0", "0.0"):
        return False
    return truthy(value)


class FlowRef(LannerModel):
    """One flow, by namespace and id."""

    namespace: str = Field(description="Namespace of the flow.")
    id: str = Field(description="Id of the flow.")


@register_task(
    "count",
    "io.kestra.plugin.core.execution.Count",
    "io.kestra.core.tasks.executions.Counts",
    group="Executions",
    title="Count executions",
    icon="🔢",
    summary="Count the executions of flows in a time range and keep the flows whose count matches an expression.",
)
class Count(RunnableTask):
    uses_services: ClassVar[bool] = True
    flows: list[FlowRef] | None = Field(default=None, description="The flows to count (else give namespaces).")
    namespaces: list[str] | None = Field(default=None, description="Count every flow of these namespaces (and their children).")
    states: list[str] | None = Field(default=None, description="Count only executions in these states.")
    start_date: str = Field(description="Executions started from this date-time (ISO-8601, may be an expression).")
    end_date: str | None = Field(default=None, description="... until this date-time (default: now).")
    expression: str = Field(description="Kept flows: this renders true with `count` set, e.g. {{ count == 0 }} or {{ count >= 5 }}.")

    @field_validator("states")
    @classmethod
    def _states(cls, value: list[str] | None) -> list[str] | None:
        return check_states(value)

    def run(self, ctx: RunContext) -> TaskResult:
        if not self.flows and not self.namespaces:
            raise TaskFailed(f"{self.id}: give flows or namespaces to count the executions of")
        start = parse_date(ctx.render(self.start_date), f"{self.id}.startDate")
        end = parse_date(ctx.render(self.end_date), f"{self.id}.endDate") if self.end_date else None
        rows = ctx.executions.count(
            flows=[(f.namespace, f.id) for f in self.flows or []] or None,
            namespaces=self.namespaces,
            states=self.states,
            start=start,
            end=end,
        )
        results = []
        for namespace, flow_id, n in rows:
            if as_key(ctx.render(self.expression, {"count": n})).strip() == "true":
                results.append({"namespace": namespace, "flowId": flow_id, "count": n})
        ctx.logger.debug(f"{len(rows)} flows matching the filters, {len(results)} matching the expression")
        return TaskResult({"results": results, "total": sum(r["count"] for r in results)})


@register_task(
    "purge_executions",
    "io.kestra.plugin.core.execution.PurgeExecutions",
    "io.kestra.plugin.core.storage.Purge",
    "io.kestra.core.tasks.storages.Purge",
    group="Executions",
    title="Purge executions",
    icon="🧹",
    summary="Delete ended executions (with their logs and files) started before a date.",
)
class PurgeExecutions(RunnableTask):
    uses_services: ClassVar[bool] = True
    namespace: str | None = Field(default=None, description="Only this namespace (and its children, unless flowId is set).")
    flow_id: str | None = Field(default=None, description="Only this flow (needs namespace).")
    start_date: str | None = Field(default=None, description="Only executions started from this date-time.")
    end_date: str = Field(description="Only executions started before this date-time (ISO-8601, may be an expression).")
    states: list[str] | None = Field(default=None, description="Only executions in these states (default: every ended state).")
    purge_execution: bool = Field(default=True, description="Delete the executions themselves.")
    purge_log: bool = Field(default=True, description="Delete their logs.")
    purge_metric: bool = Field(default=True, description="Delete their metrics (kept on their task runs).")
    purge_storage: bool = Field(default=True, description="Delete their files from internal storage.")

    @field_validator("states")
    @classmethod
    def _states(cls, value: list[str] | None) -> list[str] | None:
        return check_states(value)

    def run(self, ctx: RunContext) -> TaskResult:
        if self.flow_id and not self.namespace:
            raise TaskFailed(f"{self.id}: flowId needs namespace too")
        counts = ctx.executions.purge(
            namespace=ctx.render(self.namespace) if self.namespace else None,
            flow_id=ctx.render(self.flow_id) if self.flow_id else None,
            start=parse_date(ctx.render(self.start_date), f"{self.id}.startDate") if self.start_date else None,
            end=parse_date(ctx.render(self.end_date), f"{self.id}.endDate"),
            states=self.states,
            executions=self.purge_execution,
            logs=self.purge_log,
            storage=self.purge_storage,
        )
        metrics = counts.executions if self.purge_execution and self.purge_metric else 0
        ctx.logger.info(f"purged {counts.executions} executions, {counts.logs} log lines, files of {counts.storage} executions")
        return TaskResult({"executionsCount": counts.executions, "logsCount": counts.logs,
                           "storagesCount": counts.storage, "metricsCount": metrics})


@register_task(
    "resume",
    "io.kestra.plugin.core.execution.Resume",
    group="Executions",
    title="Resume an execution",
    icon="▶️",
    summary="Resume a paused execution (by id), optionally with the pause's onResume inputs.",
)
class Resume(RunnableTask):
    uses_services: ClassVar[bool] = True
    execution_id: str | None = Field(default=None, description="The paused execution (default: this execution).")
    namespace: str | None = Field(default=None, description="Its namespace, checked when given.")
    flow_id: str | None = Field(default=None, description="Its flow id, checked when given.")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs given to the resumed execution.")

    def run(self, ctx: RunContext) -> TaskResult:
        target = str(ctx.render(self.execution_id)) if self.execution_id else ctx.execution_id
        found = ctx.executions.find(target)
        if found is None:
            raise TaskFailed(f"{self.id}: no execution {target}")
        require_related_namespace(self.id, ctx.namespace, found.namespace, "executions")
        for name, want, have in (("namespace", self.namespace, found.namespace), ("flowId", self.flow_id, found.flow_id)):
            if want is not None and str(ctx.render(want)) != have:
                raise TaskFailed(f"{self.id}: execution {target} is not of {name} {ctx.render(want)!r} (it is {have!r})")
        try:
            ctx.executions.resume(target, ctx.render(self.inputs) if self.inputs else None)
        except ServiceError as exc:
            raise TaskFailed(f"{self.id}: {exc}") from None
        ctx.logger.info(f"resumed execution {target}")
        return TaskResult()

