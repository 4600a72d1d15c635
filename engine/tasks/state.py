"""Kestra's state tasks (``io.kestra.plugin.core.state.*``, deprecated there for the KV store): Set, Get, Delete.

A state is a small JSON document kept in internal storage between
executions, per namespace and flow (``namespace: true`` shares it with the
whole namespace), per ``name``, and per loop value unless ``taskrunValue`` is
false. Set merges its ``data`` into what is there.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from engine.sdk import RunContext, RunnableTask, TaskFailed, TaskResult, register_task, truthy


class _State(RunnableTask):
    """Where a state lives; ``errorOnMissing`` is read by Get and Delete."""

    name: str = Field(default="default", description="Name of the state.")
    namespace: bool | str = Field(default=False, description="Share the state with every flow of the namespace.")
    taskrun_value: bool | str = Field(default=True, description="Keep one state per loop value (taskrun.value).")

    def _where(self, ctx: RunContext) -> tuple[str, str | None, str, str | None]:
        shared = truthy(ctx.render(self.namespace))
        value = ctx.variables.get("taskrun", {}).get("value") if truthy(ctx.render(self.taskrun_value)) else None
        return ctx.namespace, None if shared else ctx.flow_id, str(ctx.render(self.name)), value

    def _read(self, ctx: RunContext) -> dict[str, Any] | None:
        data = ctx.storage.state_get(*self._where(ctx))
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise TaskFailed(f"{self.id}: the stored state '{ctx.render(self.name)}' is not JSON") from None


def _check_found(task: StateGet | StateDelete, ctx: RunContext, found: bool) -> None:
    if not found and truthy(ctx.render(task.error_on_missing)):
        raise TaskFailed(f"{task.id}: state '{ctx.render(task.name)}' does not exist (errorOnMissing is true)")


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


@register_task(
    "state_set",
    "io.kestra.plugin.core.state.Set",
    "io.kestra.core.tasks.states.Set",
    group="Storage",
    title="Set a state (deprecated)",
    icon="💾",
    summary="Merge values into a state kept between executions (Kestra's deprecated state; prefer the KV store).",
)
class StateSet(_State):
    data: dict[str, Any] | None = Field(default=None, description="Values to merge into the state (expressions rendered).")

    def run(self, ctx: RunContext) -> TaskResult:
        merged = _merge(self._read(ctx) or {}, ctx.render(self.data or {}))
        key = ctx.storage.state_put(*self._where(ctx), json.dumps(merged, default=str).encode("utf-8"))
        return TaskResult({"count": len(merged), "key": key})


@register_task(
    "state_get",
    "io.kestra.plugin.core.state.Get",
    "io.kestra.core.tasks.states.Get",
    group="Storage",
    title="Get a state (deprecated)",
    icon="💾",
    summary="Read a state kept between executions as outputs.<id>.data.",
)
class StateGet(_State):
    error_on_missing: bool | str = Field(default=False, description="Fail when the state does not exist.")

    def run(self, ctx: RunContext) -> TaskResult:
        data = self._read(ctx)
        _check_found(self, ctx, data is not None)
        return TaskResult({"count": len(data or {}), "data": data or {}})


@register_task(
    "state_delete",
    "io.kestra.plugin.core.state.Delete",
    "io.kestra.core.tasks.states.Delete",
    group="Storage",
    title="Delete a state (deprecated)",
    icon="💾",
    summary="Delete a state kept between executions.",
)
class StateDelete(_State):
    error_on_missing: bool | str = Field(default=False, description="Fail when the state does not exist.")

    def run(self, ctx: RunContext) -> TaskResult:
        deleted = ctx.storage.state_delete(*self._where(ctx))
        _check_found(self, ctx, deleted)
        return TaskResult({"deleted": deleted})
