"""A flow's ``concurrency`` limit, applied by the runner's loop when an execution starts.

Over the limit, the execution is QUEUED (and started, oldest first, when a
running one ends), CANCELLED, or FAILED, as the flow's ``behavior`` says.
Running means any unfinished execution of the flow (RUNNING, PAUSED,
RESTARTED...) except the queued ones. These functions run on the loop thread,
which is the only writer of execution state, so counting is race-free.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.model.execution import ExecutionState
from engine.model.ids import now_iso
from engine.model.state import State
from engine.runtime.executor import Executor, Step


def _running(states: Iterable[ExecutionState], namespace: str, flow_id: str, exclude: ExecutionState | None = None) -> int:
    n = 0
    for other in states:
        ex = other.execution
        if other is exclude or ex.namespace != namespace or ex.flow_id != flow_id:
            continue
        if ex.state.terminal or ex.state in (State.QUEUED, State.CREATED):
            continue
        n += 1
    return n


def admit(executor: Executor, st: ExecutionState, active: Iterable[ExecutionState]) -> Step:
    """Start the execution, or queue/cancel/fail it when its flow is at its concurrency limit."""
    ex = st.execution
    limit = executor.flow.concurrency
    if limit is None or _running(active, ex.namespace, ex.flow_id, exclude=st) < limit.limit:
        return executor.start(st)
    step = Step()
    reason = f"flow {ex.namespace}.{ex.flow_id} already runs {limit.limit} execution(s) (concurrency limit)"
    if limit.behavior == "QUEUE":
        if ex.state != State.QUEUED:
            ex.state = State.QUEUED
            st.touch_execution()
            step.logs.append((None, None, "INFO", f"{reason}: execution queued until one ends"))
        return step
    ex.state = State.CANCELLED if limit.behavior == "CANCEL" else State.FAILED
    ex.end_date = now_iso()
    st.touch_execution()
    step.logs.append((None, None, "WARN" if limit.behavior == "CANCEL" else "ERROR", f"{reason}: execution {ex.state.lower()}"))
    step.ended = True
    return step


def to_dequeue(active: Iterable[ExecutionState], namespace: str, flow_id: str, limit: int) -> list[str]:
    """Ids of the oldest queued executions of the flow that fit in the free slots."""
    states = list(active)
    free = limit - _running(states, namespace, flow_id)
    if free <= 0:
        return []
    queued = [
        s.execution
        for s in states
        if s.execution.namespace == namespace and s.execution.flow_id == flow_id and s.execution.state == State.QUEUED
    ]
    queued.sort(key=lambda e: (e.start_date or "", e.id))
    return [e.id for e in queued[:free]]
