"""Execution records (executions, task runs, attempts) and the indexes the executor needs.

:class:`ExecutionState` keeps derived indexes (children by scope, the outputs
tree) up to date incrementally, so each executor step costs the same however
many task runs the execution already has.

The records are :class:`~engine.model.plain.Plain` classes rather than dataclasses:
a task run is made for every task of every execution, and a hand-written
``__init__`` is as fast as the generated one, without generating and compiling
it when a process starts.
"""

from __future__ import annotations

from typing import Any

from engine.model.ids import now_iso
from engine.model.plain import Plain
from engine.model.state import State

#: Where an execution's and a task run's ``meta`` keep their state changes: [{"state", "date"}], oldest first.
HISTORY = "stateHistory"


def note_state(meta: dict[str, Any], state: State, date: str | None = None) -> None:
    """Record ``state`` in ``meta``'s state history unless it is already the latest entry.

    ``date``: when the change happened, if the caller already took the time for the record
    itself (an end date), so one state change has one timestamp everywhere; default: now.
    """
    history = meta.get(HISTORY)
    if history is None:
        history = meta[HISTORY] = []
    elif history and history[-1]["state"] == state:  # a StrEnum equals its text
        return
    # ``_value_``: the plain text without the enum's ``value`` descriptor (a call per read).
    history.append({"state": state._value_, "date": date or now_iso()})


class Attempt(Plain):
    __slots__ = ("state", "start_date", "end_date", "message", "log_file")
    state: State
    start_date: str | None
    end_date: str | None
    message: str | None
    #: Where the attempt's log lines are, in internal storage, when its task has ``logToFile``.
    log_file: str | None

    def __init__(self, state: State, start_date: str | None = None, end_date: str | None = None,
                 message: str | None = None, log_file: str | None = None) -> None:
        self.state = state
        self.start_date = start_date
        self.end_date = end_date
        self.message = message
        self.log_file = log_file

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"state": str(self.state), "startDate": self.start_date, "endDate": self.end_date}
        if self.message:
            d["message"] = self.message
        if self.log_file:
            d["logFile"] = self.log_file
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attempt:
        return cls(State(d["state"]), d.get("startDate"), d.get("endDate"), d.get("message"), d.get("logFile"))


class TaskRun(Plain):
    __slots__ = ("id", "execution_id", "task_id", "parent_task_run_id", "value", "iteration", "state", "seq",
                 "attempts", "outputs", "meta", "start_date", "end_date")
    id: str
    execution_id: str
    task_id: str
    parent_task_run_id: str | None
    value: str | None  # the nearest enclosing loop's value
    iteration: int | None  # set when the parent is a for_each: index of the iteration
    state: State
    seq: int
    attempts: list[Attempt]
    outputs: dict[str, Any] | None
    meta: dict[str, Any]  # executor bookkeeping (loop values, chosen branch)
    start_date: str | None
    end_date: str | None

    def __init__(self, id: str, execution_id: str, task_id: str, parent_task_run_id: str | None, value: str | None,
                 iteration: int | None, state: State, seq: int, attempts: list[Attempt] | None = None,
                 outputs: dict[str, Any] | None = None, meta: dict[str, Any] | None = None,
                 start_date: str | None = None, end_date: str | None = None) -> None:
        self.id = id
        self.execution_id = execution_id
        self.task_id = task_id
        self.parent_task_run_id = parent_task_run_id
        self.value = value
        self.iteration = iteration
        self.state = state
        self.seq = seq
        self.attempts = [] if attempts is None else attempts
        self.outputs = outputs
        self.meta = {} if meta is None else meta
        self.start_date = start_date
        self.end_date = end_date

    def to_summary(self) -> dict[str, Any]:
        summary = {
            "id": self.id,
            "taskId": self.task_id,
            "parentTaskRunId": self.parent_task_run_id,
            "value": self.value,
            "state": str(self.state),
            "attempts": [a.to_dict() for a in self.attempts],
            "outputs": self.outputs or {},
            "startDate": self.start_date,
            "endDate": self.end_date,
            "stateHistory": self.meta.get(HISTORY) or [],
        }
        if "metrics" in self.meta:
            summary["metrics"] = self.meta["metrics"]  # what the task published (metric Publish, RunContext.metric)
        return summary


class Execution(Plain):
    __slots__ = ("id", "namespace", "flow_id", "flow_revision", "state", "inputs", "outputs", "labels", "trigger",
                 "parent", "start_date", "end_date", "meta")
    id: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: State
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    labels: dict[str, str]
    trigger: dict[str, Any] | None
    parent: dict[str, Any] | None  # {"executionId", "taskRunId"} for subflow children
    start_date: str | None
    end_date: str | None
    meta: dict[str, Any]

    def __init__(self, id: str, namespace: str, flow_id: str, flow_revision: int, state: State,
                 inputs: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None,
                 labels: dict[str, str] | None = None, trigger: dict[str, Any] | None = None,
                 parent: dict[str, Any] | None = None, start_date: str | None = None, end_date: str | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.id = id
        self.namespace = namespace
        self.flow_id = flow_id
        self.flow_revision = flow_revision
        self.state = state
        self.inputs = {} if inputs is None else inputs
        self.outputs = {} if outputs is None else outputs
        self.labels = {} if labels is None else labels
        self.trigger = trigger
        self.parent = parent
        self.start_date = start_date
        self.end_date = end_date
        self.meta = {} if meta is None else meta

    def to_summary(self, task_runs: list[TaskRun]) -> dict[str, Any]:
        return {
            "id": self.id,
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "flowRevision": self.flow_revision,
            "state": str(self.state),
            "inputs": self.inputs,
            "outputs": self.outputs,
            "labels": self.labels,
            "trigger": self.trigger,
            "parent": self.parent,
            "startDate": self.start_date,
            "endDate": self.end_date,
            "stateHistory": self.meta.get(HISTORY) or [],
            "taskRuns": [tr.to_summary() for tr in task_runs],
        }


#: Labels Kestra sets itself start with this prefix; they are read as ``{{ labels.system.<name> }}``.
SYSTEM_LABEL_PREFIX = "system."
#: The label every execution carries: its own id, or the one of the execution that started it (a subflow's parent).
CORRELATION_ID = "system.correlationId"


def with_correlation_id(labels: dict[str, str], execution_id: str) -> dict[str, str]:
    """``labels`` plus ``system.correlationId`` (this execution's id) unless one was given (Kestra's rule)."""
    if CORRELATION_ID in labels:
        return labels
    return {**labels, CORRELATION_ID: execution_id}


def system_labels(labels: dict[str, str]) -> dict[str, str]:
    """The ``system.*`` labels: what a subflow execution always inherits from its parent."""
    return {k: v for k, v in labels.items() if k.startswith(SYSTEM_LABEL_PREFIX)}


def labels_context(labels: dict[str, str]) -> dict[str, Any]:
    """Labels as expressions see them: ``system.x`` labels under ``system`` (``{{ labels.system.correlationId }}``)."""
    out: dict[str, Any] = {}
    system: dict[str, str] = {}
    for key, value in labels.items():
        if key.startswith(SYSTEM_LABEL_PREFIX):
            system[key[len(SYSTEM_LABEL_PREFIX):]] = value
        else:
            out.setdefault(key, value)
    if system:
        out["system"] = system
    return out


def summary_context(summary: dict[str, Any]) -> dict[str, Any]:
    """The variables of an ended execution, from its summary: what a Flow trigger's inputs and a
    Subflow's deprecated ``outputs`` are rendered against (``{{ outputs.<task>.value }}`` of that run)."""
    outputs: dict[str, Any] = {}
    for tr in summary.get("taskRuns") or []:
        if tr.get("outputs") is None:
            continue
        if tr.get("value") is None:
            outputs[tr["taskId"]] = tr["outputs"]
        else:
            node = outputs.setdefault(tr["taskId"], {})
            if isinstance(node, dict):
                node[str(tr["value"])] = tr["outputs"]
    return {
        "outputs": outputs,
        "inputs": summary.get("inputs") or {},
        "labels": labels_context(summary.get("labels") or {}),
        "execution": {"id": summary.get("id"), "state": summary.get("state"), "startDate": summary.get("startDate")},
        "flow": {"namespace": summary.get("namespace"), "id": summary.get("flowId"), "revision": summary.get("flowRevision")},
    }


Scope = tuple[str | None, int | None]  # (parent task run id, iteration)


class ExecutionState:
    """An execution, its task runs, and incrementally maintained indexes."""

    def __init__(self, execution: Execution, task_runs: list[TaskRun] | None = None):
        self.execution = execution
        self.task_runs: dict[str, TaskRun] = {}
        self.scopes: dict[Scope, dict[str, TaskRun]] = {}
        self.iterations: dict[str, set[int]] = {}  # for_each task run id -> iterations started
        self.done_iterations: dict[str, dict[int, State]] = {}  # derived by the executor
        self.failed_iterations: dict[str, int] = {}  # derived by the executor
        self.outputs: dict[str, Any] = {}
        self.next_seq = 0
        self.dirty_runs: dict[str, TaskRun] = {}
        self.new_runs: set[str] = set()
        self.execution_dirty = False
        note_state(execution.meta, execution.state)
        for tr in sorted(task_runs or [], key=lambda t: t.seq):
            self._index(tr)
            self.next_seq = max(self.next_seq, tr.seq + 1)

    # --- indexes ---------------------------------------------------------------------------------

    def _index(self, tr: TaskRun) -> None:
        self.task_runs[tr.id] = tr
        key = (tr.parent_task_run_id, tr.iteration)
        scope = self.scopes.get(key)  # not setdefault: its default would be made for every task run
        if scope is None:
            scope = self.scopes[key] = {}
        scope[tr.task_id] = tr
        if tr.iteration is not None and tr.parent_task_run_id is not None:
            started = self.iterations.get(tr.parent_task_run_id)
            if started is None:
                started = self.iterations[tr.parent_task_run_id] = set()
            started.add(tr.iteration)
        if tr.outputs is not None and tr.state in (State.SUCCESS, State.WARNING, State.FAILED):
            self._set_output(tr)

    def loop_values(self, tr: TaskRun) -> list[str]:
        """Values of the enclosing loop iterations, outermost first.

        A round of a LoopUntil is an iteration that keeps its parent's value
        (``meta["loopRound"]``): its outputs replace the previous round's.
        """
        values: list[str] = []
        cur: TaskRun | None = tr
        while cur is not None:
            if cur.iteration is not None and cur.value is not None and "loopRound" not in cur.meta:
                values.append(cur.value)
            cur = self.task_runs.get(cur.parent_task_run_id) if cur.parent_task_run_id else None
        values.reverse()
        return values

    def _set_output(self, tr: TaskRun) -> None:
        keys = self.loop_values(tr)
        if not keys:
            self.outputs[tr.task_id] = tr.outputs
            return
        node = self.outputs.setdefault(tr.task_id, {})
        if not isinstance(node, dict):
            node = self.outputs[tr.task_id] = {}
        for key in keys[:-1]:
            nxt = node.setdefault(key, {})
            if not isinstance(nxt, dict):
                nxt = node[key] = {}
            node = nxt
        node[keys[-1]] = tr.outputs

    # --- mutations (recorded for the next store transaction) -------------------------------------

    def add(self, tr: TaskRun) -> TaskRun:
        tr.seq = self.next_seq
        self.next_seq += 1
        note_state(tr.meta, tr.state)
        self._index(tr)
        self.dirty_runs[tr.id] = tr
        self.new_runs.add(tr.id)
        return tr

    def touch(self, tr: TaskRun, date: str | None = None) -> None:
        """Mark ``tr`` changed (written with the next batch); ``date``: when its state changed, if known."""
        note_state(tr.meta, tr.state, date)
        self.dirty_runs[tr.id] = tr

    def set_outputs(self, tr: TaskRun, outputs: dict[str, Any] | None, date: str | None = None) -> None:
        tr.outputs = outputs
        if outputs is not None:
            self._set_output(tr)
        self.touch(tr, date)

    def forget_derived(self, tr_id: str) -> None:
        """Drop what the executor derived about a container's children (a restart re-runs some of them)."""
        self.done_iterations.pop(tr_id, None)
        self.failed_iterations.pop(tr_id, None)

    def touch_execution(self) -> None:
        note_state(self.execution.meta, self.execution.state)
        self.execution_dirty = True

    def take_changes(self) -> tuple[list[TaskRun], list[TaskRun], bool]:
        """(new task runs, updated task runs, execution changed), then forget them.

        The states they are written with join their state histories (a state set after the last touch too).
        """
        for tr in self.dirty_runs.values():
            history = tr.meta.get(HISTORY)
            if not history or history[-1]["state"] != tr.state:  # mostly noted already, with its date
                note_state(tr.meta, tr.state)
        if self.execution_dirty:
            note_state(self.execution.meta, self.execution.state)
        new = [tr for i, tr in self.dirty_runs.items() if i in self.new_runs]
        updated = [tr for i, tr in self.dirty_runs.items() if i not in self.new_runs]
        changed = self.execution_dirty
        self.dirty_runs = {}
        self.new_runs = set()
        self.execution_dirty = False
        return new, updated, changed

    # --- queries ---------------------------------------------------------------------------------

    def scope(self, parent_id: str | None, iteration: int | None = None) -> dict[str, TaskRun]:
        return self.scopes.get((parent_id, iteration), {})

    def ordered_runs(self) -> list[TaskRun]:
        return sorted(self.task_runs.values(), key=lambda t: t.seq)

    def summary(self) -> dict[str, Any]:
        return self.execution.to_summary(self.ordered_runs())
