"""Restart and replay: state transitions on an ended execution.

**Restart** re-runs an execution from its failed task runs, keeping the
successful ones. It happens in two loop steps so each is committed before it is
acted on: :func:`restart_step` marks the execution RESTARTED and resets every
FAILED/KILLED task run (a runnable task gets a new attempt, its history kept; a
flowable container goes back to RUNNING); :func:`continue_restart` marks it
RUNNING and dispatches the new attempts. The executor then carries on as if
the failures had not happened.

**Replay** creates a *new* execution that copies the task runs before a chosen
one (its containers reset to RUNNING) and lets the executor run from there.
"""

from __future__ import annotations

from typing import Any

from engine.model.execution import Attempt, Execution, ExecutionState, TaskRun
from engine.model.ids import new_id, now_iso
from engine.model.state import State
from engine.model.task import RunnableTask
from engine.runtime.executor import Executor, Step
from engine.tasks.flow import Subflow

RESTARTABLE = (State.FAILED, State.KILLED)
RESET = (State.FAILED, State.KILLED)


class ReplayError(ValueError):
    """A replay that cannot be made; the message says why."""


def restart_step(executor: Executor, st: ExecutionState) -> Step:
    """Phase 1: RESTARTED, failed task runs reset (nothing dispatched yet)."""
    step = Step()
    ex = st.execution
    if ex.state not in RESTARTABLE:
        return step
    reset: list[str] = []
    for tr in st.ordered_runs():
        if tr.state not in RESET:
            continue
        task = executor.index.get(tr.task_id)
        if task is None:
            continue  # the task no longer exists in this revision
        if isinstance(task, RunnableTask):
            tr.attempts.append(Attempt(State.CREATED))
            tr.state = State.CREATED
            tr.meta["restarted"] = tr.meta.get("restarted", 0) + 1
            tr.meta.pop("lost", None)
        else:
            tr.state = State.RUNNING
            tr.meta["restarted"] = tr.meta.get("restarted", 0) + 1
            if isinstance(task, Subflow):
                tr.outputs = None  # a new child execution is started
        tr.end_date = None
        st.touch(tr)
        reset.append(tr.task_id)
    ex.state = State.RESTARTED
    ex.end_date = None
    ex.meta.pop("finalState", None)
    st.touch_execution()
    names = ", ".join(dict.fromkeys(reset)) or "none"
    step.logs.append((None, None, "INFO", f"execution restarted; task runs re-run: {names}"))
    return step


def continue_restart(executor: Executor, st: ExecutionState) -> Step:
    """Phase 2: RUNNING, new attempts dispatched, containers re-evaluated."""
    step = Step()
    ex = st.execution
    if ex.state != State.RESTARTED:
        return step
    ex.state = State.RUNNING
    st.touch_execution()
    containers: list[TaskRun] = []
    for tr in st.ordered_runs():
        if not tr.meta.get("restarted") or tr.state.terminal:
            continue
        task = executor.index.get(tr.task_id)
        if isinstance(task, RunnableTask):
            if tr.state == State.CREATED and tr.attempts and tr.attempts[-1].state == State.CREATED:
                step.dispatch.append(tr)
        elif isinstance(task, Subflow):
            if not (tr.outputs or {}).get("executionId"):
                step.subflows.append(tr)
        else:
            containers.append(tr)
    # Innermost containers first, so an outer one sees its children's fresh state.
    for tr in sorted(containers, key=lambda t: t.seq, reverse=True):
        executor._advance(st, tr, None, step)
    executor._advance(st, None, None, step)
    return step


def build_replay(execution: Execution, runs: list[TaskRun], task_run_id: str | None) -> tuple[Execution, list[TaskRun]]:
    """A new RUNNING execution with copies of the task runs before ``task_run_id`` (all of them dropped when None)."""
    if not execution.state.terminal:
        raise ReplayError(f"execution {execution.id} is {execution.state}; replay it once it has ended")
    by_id = {tr.id: tr for tr in runs}
    keep: list[TaskRun] = []
    ancestors: set[str] = set()
    if task_run_id is not None:
        chosen = by_id.get(task_run_id)
        if chosen is None:
            raise ReplayError(f"execution {execution.id} has no task run {task_run_id}")
        cur: TaskRun | None = chosen
        while cur is not None and cur.parent_task_run_id:
            ancestors.add(cur.parent_task_run_id)
            cur = by_id.get(cur.parent_task_run_id)
        kept_ids: set[str] = set()
        for tr in sorted(runs, key=lambda t: t.seq):
            if tr.seq >= chosen.seq:
                continue
            if tr.parent_task_run_id and tr.parent_task_run_id not in kept_ids:
                continue
            keep.append(tr)
            kept_ids.add(tr.id)
    new_ex_id = new_id()
    ids = {tr.id: new_id() for tr in keep}
    copies = []
    for tr in keep:
        copy = TaskRun(
            id=ids[tr.id],
            execution_id=new_ex_id,
            task_id=tr.task_id,
            parent_task_run_id=ids.get(tr.parent_task_run_id) if tr.parent_task_run_id else None,
            value=tr.value,
            iteration=tr.iteration,
            state=tr.state,
            seq=tr.seq,
            attempts=[Attempt(a.state, a.start_date, a.end_date, a.message) for a in tr.attempts],
            outputs=tr.outputs,
            meta=dict(tr.meta),
            start_date=tr.start_date,
            end_date=tr.end_date,
        )
        if tr.id in ancestors:
            copy.state = State.RUNNING
            copy.end_date = None
        copies.append(copy)
    meta: dict[str, Any] = {"originalId": execution.meta.get("originalId", execution.id), "replayOf": execution.id}
    if task_run_id:
        meta["replayFromTaskRunId"] = task_run_id
    new_ex = Execution(
        id=new_ex_id,
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        flow_revision=execution.flow_revision,
        state=State.RUNNING,
        inputs=dict(execution.inputs),
        labels=dict(execution.labels),
        trigger=execution.trigger,
        parent=None,
        start_date=now_iso(),
        meta=meta,
    )
    return new_ex, copies
