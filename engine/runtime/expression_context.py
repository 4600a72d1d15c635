"""Build the expression context of a task run: Kestra's names, plain data only.

A context is built for every task run (and every flowable property rendered),
so what does not change within an execution is built once and shared: the
flow, inputs, labels, trigger, variables (the *base*), the ``execution`` entry
while its state stays the same, and each task's ``task`` entry. Templates
cannot change a value (the sandbox refuses mutation), so sharing is safe.
"""

from __future__ import annotations

import os
from typing import Any

from engine.model.execution import ExecutionState, TaskRun, labels_context
from engine.model.flow import Flow
from engine.model.ids import now_iso
from engine.model.task import Task

#: Kestra's open-source edition has one fixed tenant, ``main`` (``{{ flow.tenantId }}``); so has Lanner.
TENANT_ID = "main"


class _Shared:
    """The parts of the contexts of one execution that stay the same from one task run to the next."""

    __slots__ = ("base", "state", "execution", "tasks", "labels", "labels_source")

    def __init__(self, base: dict[str, Any]):
        self.base = base
        self.state: str | None = None  # the state text ``execution`` was built for
        self.execution: dict[str, Any] = base["execution"]
        self.tasks: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, Any] = base["labels"]
        self.labels_source: dict[str, str] | None = None  # a copy of the labels ``labels`` was built from


def _shared(flow: Flow, st: ExecutionState, render: Any | None) -> _Shared:
    cached = st.__dict__.get("_context_shared")
    if cached is not None:
        return cached
    shared = _Shared(_build_base(flow, st, render))
    st.__dict__["_context_shared"] = shared
    return shared


def base_context(flow: Flow, st: ExecutionState, render: Any | None = None) -> dict[str, Any]:
    """The part of the context shared by every task run of an execution (built once per execution)."""
    return _shared(flow, st, render).base


def _build_base(flow: Flow, st: ExecutionState, render: Any | None) -> dict[str, Any]:
    ex = st.execution
    ctx: dict[str, Any] = {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": ex.flow_revision, "tenantId": TENANT_ID},
        "execution": {
            "id": ex.id,
            "startDate": ex.start_date,
            "state": str(ex.state),
            "originalId": ex.meta.get("originalId", ex.id),
        },
        "inputs": ex.inputs,
        "outputs": st.outputs,
        "labels": labels_context(ex.labels),
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
    shared = _shared(flow, st, render)
    ctx = shared.base.copy()
    ex = st.execution
    state = ex.meta.get("finalState") or str(ex.state)
    if state != shared.state:
        shared.execution = {**shared.base["execution"], "state": state}
        shared.state = state
    ctx["execution"] = shared.execution
    if ex.labels != shared.labels_source:  # a Labels task changes them during the run (compared in C)
        shared.labels = labels_context(ex.labels)
        shared.labels_source = dict(ex.labels)
    ctx["labels"] = shared.labels
    if task is not None:
        entry = shared.tasks.get(task.id)
        if entry is None:
            entry = shared.tasks[task.id] = {"id": task.id, "type": task.type}
        ctx["task"] = entry
    ctx["taskrun"] = {
        "id": tr.id if tr else None,
        "value": value,
        "attemptsCount": max(0, len(tr.attempts) - 1) if tr else 0,
        # A task run not started yet is about to be: its attempt starts now (Kestra's date is never null).
        "startDate": (tr.start_date or now_iso()) if tr else None,
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
