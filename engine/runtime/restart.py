"""Replay: a new execution from an ended one.

(**Restart**, which re-runs an execution from its failed task runs, is a state
transition of the executor: ``Executor.restart`` and ``Executor.continue_restart``.)

**Change state** (Kestra's "change status" of a task run) sets an ended task run's
state and re-opens the execution the way a restart does (:func:`change_task_run_state`).

**Replay** creates a *new* execution that copies the task runs before a chosen
one (its containers reset to RUNNING) and lets the executor run from there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.model.execution import Attempt, Execution, ExecutionState, TaskRun
from engine.model.ids import new_id, now_iso
from engine.model.state import State


class ReplayError(ValueError):
    """A replay that cannot be made; the message says why."""


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
    return _copy(execution, new_ex_id, State.RUNNING, None, now_iso(), meta), copies


def build_pinned(runs: list[TaskRun], execution_id: str, skip_task_id: str, pinned_from: str) -> list[TaskRun]:
    """Copies, for ``execution_id``, of the finished task runs of another execution ("Test this task").

    A tested task reads ``outputs.<earlier task>`` from these copies: every SUCCESS or WARNING run
    except those of ``skip_task_id`` and its descendants, each kept only with its parent container,
    and marked ``pinnedFrom`` so pages can tell a copied result from one this execution produced.
    """
    kept: dict[str, str] = {}  # old task run id -> new id
    copies = []
    for tr in sorted(runs, key=lambda t: t.seq):
        if tr.task_id == skip_task_id or tr.state not in (State.SUCCESS, State.WARNING):
            continue
        if tr.parent_task_run_id and tr.parent_task_run_id not in kept:
            continue
        kept[tr.id] = new_id()
        copies.append(TaskRun(
            id=kept[tr.id], execution_id=execution_id, task_id=tr.task_id,
            parent_task_run_id=kept.get(tr.parent_task_run_id) if tr.parent_task_run_id else None,
            value=tr.value, iteration=tr.iteration, state=tr.state, seq=tr.seq,
            attempts=[Attempt(a.state, a.start_date, a.end_date, a.message) for a in tr.attempts],
            outputs=tr.outputs, meta={**tr.meta, "pinnedFrom": pinned_from},
            start_date=tr.start_date, end_date=tr.end_date,
        ))
    return copies


def build_retry(execution: Execution, new_execution_id: str, delay: float) -> Execution:
    """The next execution of a CREATE_NEW_EXECUTION retry: the same revision, inputs, labels and parent,
    CREATED until ``delay`` seconds have passed; it counts as the next attempt of the first execution."""
    meta = execution.meta
    meta_out = {
        "originalId": meta.get("originalId", execution.id),
        "replayOf": execution.id,
        "attemptNumber": int(meta.get("attemptNumber", 1)) + 1,
        "originalCreatedDate": meta.get("originalCreatedDate") or execution.start_date or now_iso(),
        "startAfter": (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(),
    }
    return _copy(execution, new_execution_id, State.CREATED, execution.parent, None, meta_out)


def _copy(execution: Execution, new_id_: str, state: State, parent: dict[str, Any] | None, start: str | None,
          meta: dict[str, Any]) -> Execution:
    return Execution(
        id=new_id_,
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        flow_revision=execution.flow_revision,
        state=state,
        inputs=dict(execution.inputs),
        labels=dict(execution.labels),
        trigger=execution.trigger,
        parent=parent,
        start_date=start,
        meta=meta,
    )


#: What a user may set a task run to (Kestra's "change status" of a task run).
CHANGEABLE_TO = (State.SUCCESS, State.WARNING, State.FAILED)


def change_task_run_state(st: ExecutionState, task_run_id: str, state: State) -> str:
    """Phase 1 of Kestra's "change status": set an ended task run's state and reopen what depends on it.

    The task run (and its last attempt) takes ``state``; its ended containers go back to
    RUNNING (marked ``restarted`` so phase 2, ``Executor.continue_restart``, re-evaluates
    them innermost first), and the execution becomes RESTARTED. A FAILED task marked
    SUCCESS thus lets the tasks after it run, as in Kestra. Raises ReplayError when the
    change cannot be made; returns the log line that records it.
    """
    ex = st.execution
    tr = st.task_runs.get(task_run_id)
    if tr is None:
        raise ReplayError(f"execution {ex.id} has no task run {task_run_id}")
    if not tr.state.terminal:
        raise ReplayError(f"task run {tr.task_id} is {tr.state}; only an ended task run can change state")
    if state not in CHANGEABLE_TO:
        raise ReplayError(f"a task run can be set to {', '.join(map(str, CHANGEABLE_TO))}, not {state}")
    before = tr.state
    tr.state = state
    if tr.attempts:
        tr.attempts[-1].state = state
    tr.end_date = tr.end_date or now_iso()
    st.touch(tr)
    parent_id = tr.parent_task_run_id
    while parent_id:
        parent = st.task_runs.get(parent_id)
        if parent is None:
            break
        if parent.state.terminal:
            parent.meta["restarted"] = parent.meta.get("restarted", 0) + 1
            parent.state = State.RUNNING
            parent.end_date = None
            st.forget_derived(parent.id)
            st.touch(parent)
        parent_id = parent.parent_task_run_id
    ex.state = State.RESTARTED
    ex.end_date = None
    ex.meta.pop("finalState", None)
    st.touch_execution()
    return f"task run {tr.task_id}{f' [{tr.value}]' if tr.value is not None else ''} changed from {before} to {state} by a user"
