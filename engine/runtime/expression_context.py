"""Build the expression context of a task run: Kestra's names, plain data only."""

from __future__ import annotations

import os
from typing import Any

from engine.model.execution import ExecutionState, TaskRun
from engine.model.flow import Flow
from engine.model.task import Task


def base_context(flow: Flow, st: ExecutionState, render: Any | None = None) -> dict[str, Any]:
    """The part of the context shared by every task run of an execution (cached on it)."""
    cached = getattr(st, "_base_ctx", None)
    if cached is not None:
        return cached
    ex = st.execution
    ctx: dict[str, Any] = {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": ex.flow_revision},
        "execution": {
            "id": ex.id,
            "startDate": ex.start_date,
            "state": str(ex.state),
            "originalId": ex.meta.get("originalId", ex.id),
        },
        "inputs": ex.inputs,
        "outputs": st.outputs,
        "labels": ex.labels,
        "trigger": ex.trigger or {},
        "envs": {k[len("ENV_"):].lower(): v for k, v in os.environ.items() if k.startswith("ENV_")},
        "vars": {},
    }
    if flow.variables:
        variables = dict(flow.variables)
        if render is not None:
            try:
                variables = render(variables, ctx)
            except Exception:  # noqa: BLE001 - a bad variable fails where it is used, with its name
                variables = dict(flow.variables)
        ctx["vars"] = variables
    st.__dict__["_base_ctx"] = ctx
    return ctx


def task_context(
    flow: Flow,
    st: ExecutionState,
    task: Task | None,
    parent: TaskRun | None,
    value: str | None,
    tr: TaskRun | None = None,
    render: Any | None = None,
) -> dict[str, Any]:
    ctx = dict(base_context(flow, st, render))
    ctx["execution"] = {**ctx["execution"], "state": st.execution.meta.get("finalState", str(st.execution.state))}
    if task is not None:
        ctx["task"] = {"id": task.id, "type": task.type}
    ctx["taskrun"] = {
        "id": tr.id if tr else None,
        "value": value,
        "attemptsCount": max(0, len(tr.attempts) - 1) if tr else 0,
        "startDate": tr.start_date if tr else None,
        "parentId": parent.id if parent else None,
    }
    if parent is not None:
        grand = st.task_runs.get(parent.parent_task_run_id) if parent.parent_task_run_id else None
        ctx["parent"] = {
            "taskrun": {"id": parent.id, "value": parent.value},
            "outputs": parent.outputs or {},
        }
        parents = []
        cur: TaskRun | None = parent
        while cur is not None:
            parents.append({"taskrun": {"id": cur.id, "value": cur.value}, "outputs": cur.outputs or {}})
            cur = st.task_runs.get(cur.parent_task_run_id) if cur.parent_task_run_id else None
        ctx["parents"] = parents
        if grand is not None:
            ctx["parent"]["parent"] = {"taskrun": {"id": grand.id, "value": grand.value}}
    return ctx
