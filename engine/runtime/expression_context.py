"""Build the expression context of a task run: Kestra's names, plain data only.

A context is asked for every task run (and every flowable property rendered), so it
costs nothing until a template reads it: :class:`TaskVariables` makes each group of
entries on the first read of one of its names, and a text without ``{{`` never makes
any. What does not change within an execution is built once and shared: the flow,
inputs, labels, trigger, variables (the *base*), the ``execution`` entry while its
state stays the same, and each task's ``task`` entry. Templates cannot change a value
(the sandbox refuses mutation), so sharing is safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from engine.model.execution import HISTORY, ExecutionState, TaskRun, labels_context
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
) -> TaskVariables:
    """The expression context of a task run (``task``: None for the flow's own renders; ``parent``: the
    task run it runs in). Its entries are made when a template first reads them (:class:`TaskVariables`)."""
    return TaskVariables(flow, st, task, parent, value, tr, render)


#: The groups of entries a :class:`TaskVariables` makes on first read, and which group makes each name.
_BASE, _TASK, _TASKRUN, _PARENT = 1, 2, 4, 8
_GROUP_OF: dict[str, int] = {
    "flow": _BASE, "execution": _BASE, "inputs": _BASE, "outputs": _BASE, "labels": _BASE, "trigger": _BASE,
    "envs": _BASE, "vars": _BASE, "task": _TASK, "taskrun": _TASKRUN, "parent": _PARENT, "parents": _PARENT,
}  # fmt: skip
#: The order of the names once every entry is made (the order an eagerly built context had).
_ORDER = tuple(_GROUP_OF)


class TaskVariables(dict[str, Any]):
    """A task run's expression context, a dict whose entries are made when first read.

    Most renders read one or two names (``{{ taskrun.value }}``, ``{{ outputs.t.value }}``)
    and many read none (a text without ``{{``): building every entry for every task run
    (its ``taskrun``, ``parent`` and ``parents`` entries, the execution's state) cost more
    than running a light task. Entries come in groups (the shared ones, ``task``,
    ``taskrun``, ``parent``/``parents``), each made on the first read of one of its names
    by ``[]``, ``get`` or ``in``; anything that sees the whole mapping (iteration,
    ``keys``/``items``/``values``, ``len``, ``**`` unpacking, ``copy``, ``==``, JSON,
    pickling) makes all of them first, so every reader sees the same values as with an
    eager dict. A value set before its group is made stays (a made entry never
    overwrites one that is there).

    A lazy context reads the live execution state when an entry is made, so it must be
    read in the runner's loop thread, the only writer of that state: the light tasks the
    loop runs inline and the executor's own renders use it as it is; a job for a worker
    gets :meth:`materialize`'d first.
    """

    __slots__ = ("_flow", "_st", "_task", "_parent", "_value", "_tr", "_render", "_todo")

    def __init__(
        self, flow: Flow, st: ExecutionState, task: Task | None, parent: TaskRun | None, value: str | None,
        tr: TaskRun | None = None, render: Any | None = None,
    ) -> None:  # fmt: skip
        self._flow = flow
        self._st = st
        self._task = task
        self._parent = parent
        self._value = value
        self._tr = tr
        self._render = render
        self._todo = _BASE | _TASKRUN | (_TASK if task is not None else 0) | (_PARENT if parent is not None else 0)
        # Never empty: C code that sees an empty dict takes it at its word without asking (the JSON
        # encoder writes ``{}``). ``flow`` is the same for every task run of the execution.
        dict.__setitem__(self, "flow", _shared(flow, st, render).base["flow"])

    # --- making entries --------------------------------------------------------------------------

    def _make(self, groups: int) -> None:
        """Make the entries of ``groups`` that are still to make (never replacing one already there)."""
        groups &= self._todo
        if not groups:
            return
        st = self._st
        made: dict[str, Any] = {}
        if groups & _BASE:
            shared = _shared(self._flow, st, self._render)
            made.update(shared.base)
            made["execution"] = _execution_entry(shared, st)
            made["labels"] = _labels_entry(shared, st)
        if groups & _TASK:
            made["task"] = _task_entry(_shared(self._flow, st, self._render), self._task)  # type: ignore[arg-type]
        if groups & _TASKRUN:
            made["taskrun"] = _taskrun_entry(self._tr, self._value, self._parent)
        if groups & _PARENT:
            made.update(_parent_entries(st, self._parent))  # type: ignore[arg-type]
        has = dict.__contains__
        for key, value in made.items():
            if not has(self, key):
                dict.__setitem__(self, key, value)
        self._todo &= ~groups
        if not self._todo:  # nothing left to make: let go of the execution
            self._flow = self._st = self._task = self._parent = self._tr = self._render = None  # type: ignore[assignment]

    def _make_for(self, key: object) -> None:
        if self._todo:
            group = _GROUP_OF.get(key, 0) if type(key) is str else 0
            if group:
                self._make(group)

    def materialize(self) -> TaskVariables:
        """Make every entry now (in the canonical order); afterwards this is a plain dict in all but its type."""
        if self._todo:
            before = dict(dict.items(self))
            self._make(self._todo)
            if before:  # names read or set before: put every entry back in the usual order
                ordered = {k: dict.__getitem__(self, k) for k in _ORDER if dict.__contains__(self, k)}
                ordered.update(dict.items(self))
                dict.clear(self)
                dict.update(self, ordered)
        return self

    # --- reading one name ------------------------------------------------------------------------

    def __missing__(self, key: str) -> Any:
        if key == "taskrun" and self._todo & _TASKRUN:  # the name most templates read: made directly
            value = _taskrun_entry(self._tr, self._value, self._parent)
            dict.__setitem__(self, key, value)
            self._todo &= ~_TASKRUN
            return value
        self._make_for(key)
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: str, default: object = None) -> Any:
        if not dict.__contains__(self, key):
            self._make_for(key)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        self._make_for(key)
        return dict.__contains__(self, key)

    def setdefault(self, key: str, default: object = None) -> Any:
        self._make_for(key)
        return dict.setdefault(self, key, default)

    def pop(self, key: str, *default: object) -> Any:
        self._make_for(key)
        return dict.pop(self, key, *default)

    def __delitem__(self, key: str) -> None:
        self._make_for(key)
        dict.__delitem__(self, key)

    # --- seeing the whole mapping ----------------------------------------------------------------

    def __iter__(self) -> Any:
        return dict.__iter__(self.materialize())

    def __reversed__(self) -> Any:
        return dict.__reversed__(self.materialize())

    def __len__(self) -> int:
        return dict.__len__(self.materialize())

    def keys(self) -> Any:
        return dict.keys(self.materialize())

    def values(self) -> Any:
        return dict.values(self.materialize())

    def items(self) -> Any:
        return dict.items(self.materialize())

    def copy(self) -> dict[str, Any]:
        return dict(dict.items(self.materialize()))

    def popitem(self) -> tuple[str, Any]:
        return dict.popitem(self.materialize())

    def clear(self) -> None:
        dict.clear(self.materialize())

    def __eq__(self, other: object) -> bool:
        return dict.__eq__(self.materialize(), other)

    def __ne__(self, other: object) -> bool:
        return dict.__ne__(self.materialize(), other)

    __hash__ = None

    def __or__(self, other: Mapping[str, object]) -> dict[str, Any]:  # type: ignore[override]
        if not isinstance(other, dict):
            return NotImplemented
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other: Mapping[str, object]) -> dict[str, Any]:  # type: ignore[override]
        return dict.__or__(dict(other), self.copy()) if isinstance(other, dict) else NotImplemented

    def __repr__(self) -> str:
        return dict.__repr__(self.materialize())

    def __reduce__(self) -> Any:
        # Pickled and copied as the plain dict it stands for (never the execution it reads from).
        return (dict, (self.copy(),))


def _execution_entry(shared: _Shared, st: ExecutionState) -> dict[str, Any]:
    ex = st.execution
    state = ex.meta.get("finalState") or str(ex.state)
    if state != shared.state:
        shared.execution = {**shared.base["execution"], "state": state}
        shared.state = state
    return shared.execution


def _labels_entry(shared: _Shared, st: ExecutionState) -> dict[str, Any]:
    labels = st.execution.labels
    if labels != shared.labels_source:  # a Labels task changes them during the run (compared in C)
        shared.labels = labels_context(labels)
        shared.labels_source = dict(labels)
    return shared.labels


def _task_entry(shared: _Shared, task: Task) -> dict[str, Any]:
    entry = shared.tasks.get(task.id)
    if entry is None:
        entry = shared.tasks[task.id] = {"id": task.id, "type": task.type}
    return entry


def _taskrun_entry(tr: TaskRun | None, value: str | None, parent: TaskRun | None) -> dict[str, Any]:
    return {
        "id": tr.id if tr else None,
        "value": value,
        "attemptsCount": max(0, len(tr.attempts) - 1) if tr else 0,
        "startDate": _start_date(tr) if tr else None,
        "parentId": parent.id if parent else None,
    }


def _start_date(tr: TaskRun) -> str:
    """When a task run started; one whose attempt has not started yet gives its creation date, the
    first date of its state history (Kestra's ``taskrun.startDate`` is that date, never null)."""
    if tr.start_date:
        return tr.start_date
    history = tr.meta.get(HISTORY)
    return history[0]["date"] if history else now_iso()


def _parent_entries(st: ExecutionState, parent: TaskRun) -> dict[str, Any]:
    grand = st.task_runs.get(parent.parent_task_run_id) if parent.parent_task_run_id else None
    entry: dict[str, Any] = {"taskrun": {"id": parent.id, "value": parent.value}, "outputs": parent.outputs or {}}
    parents = []
    cur: TaskRun | None = parent
    while cur is not None:
        parents.append({"taskrun": {"id": cur.id, "value": cur.value}, "outputs": cur.outputs or {}})
        cur = st.task_runs.get(cur.parent_task_run_id) if cur.parent_task_run_id else None
    if grand is not None:
        entry["parent"] = {"taskrun": {"id": grand.id, "value": grand.value}}
    return {"parent": entry, "parents": parents}
