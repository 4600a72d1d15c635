"""Drive the executor by hand: events in, task-run states out; no runner thread, no store, no worker.

A *script* says what each runnable attempt (or each child execution) reports, by
task id (``"inner[b]"`` for one loop value), one entry per attempt, SUCCESS when
absent:

* ``"SUCCESS"``, ``"WARNING"``, ``"FAILED"`` (a tuple ``(state, outputs)`` adds outputs);
* ``"HOLD"``: the attempt keeps running (or the child execution never ends);
* ``"KILL"``: the execution is killed while this attempt runs;
* for a task that starts a child execution: the child's end state, or ``"ERROR"``
  when it cannot be started.

Work is handled first in, first out, the way the runner's loop takes its events;
timers (retry delays, a pause's duration or timeout) fire, shortest first, once
nothing else is left to do, as if time passed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from textwrap import dedent
from typing import Any

from engine import expressions
from engine.model import registry
from engine.model.execution import Execution, ExecutionState, TaskRun
from engine.model.flow import Flow
from engine.model.state import State
from engine.model.validation import load_flow
from engine.runtime.executor import Executor, Step, WorkerOutcome
from engine.runtime.expression_context import task_context

Outcome = str | tuple[str, dict[str, Any]]


def make_flow(tasks_yaml: str, extra: str = "") -> Flow:
    """A flow whose ``tasks:`` (and any other top-level keys in ``extra``) are given as YAML."""
    registry.finalize()
    text = "id: table\nnamespace: test.executor\n" + dedent(extra) + "tasks:\n" + _indent(dedent(tasks_yaml))
    flow = load_flow(text)
    flow.revision = 1
    return flow


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.strip("\n").splitlines())


def _render(value: Any, ctx: Any) -> Any:
    return expressions.render(value, ctx)


@dataclass
class Harness:
    flow: Flow
    script: dict[str, list[Outcome]] = field(default_factory=dict)
    executor: Executor = field(init=False)
    st: ExecutionState = field(init=False)
    killed_attempts: list[str] = field(default_factory=list)  # task ids whose running attempt a kill stops
    killed_children: list[str] = field(default_factory=list)  # child execution ids a kill stops
    started_children: list[dict[str, Any]] = field(default_factory=list)
    logs: list[tuple[str | None, str, str]] = field(default_factory=list)  # (task id, level, message)
    ended: int = 0
    clock_runs: bool = True  # False: timers wait (a process that dies before they fire)

    def __post_init__(self) -> None:
        flow = self.flow

        def context(st: ExecutionState, task: Any, parent: Any, value: Any, tr: Any = None) -> dict[str, Any]:
            return task_context(flow, st, task, parent, value, tr, _render)

        self.executor = Executor(flow, _render, context)
        ex = Execution(id="ex-1", namespace=flow.namespace, flow_id=flow.id, flow_revision=1, state=State.CREATED)
        self.st = ExecutionState(ex)
        self._work: deque[tuple[str, str]] = deque()  # ("attempt" | "child", task run id)
        self._timers: list[tuple[float, int, str, str]] = []
        self._seq = 0
        self._used: dict[str, int] = {}

    # --- driving ----------------------------------------------------------------------------------

    def start(self) -> Harness:
        self.apply(self.executor.start(self.st))
        return self.settle()

    def resume(self, inputs: dict[str, Any] | None = None) -> Harness:
        self.apply(self.executor.resume(self.st, None, inputs))
        return self.settle()

    def kill(self) -> Harness:
        self.apply(self.executor.kill(self.st))
        return self.settle()

    def restart(self, script: dict[str, list[Outcome]] | None = None) -> Harness:
        """Restart (both phases, each applied as the runner would after its commit) with a new script."""
        self.script = dict(script or {})
        self._used = {}
        self.apply(self.executor.restart(self.st))
        self.apply(self.executor.continue_restart(self.st))
        return self.settle()

    def recover(self, script: dict[str, list[Outcome]] | None = None) -> Harness:
        """What a new process does with this unfinished execution loaded from the store (its clock runs)."""
        self.script = dict(script or {})
        self._used = {}
        self.clock_runs = True
        loaded = ExecutionState(self.st.execution, list(self.st.task_runs.values()))
        self.st = loaded
        self._work.clear()
        self._timers.clear()
        self.apply(self.executor.recover(self.st))
        return self.settle()

    def settle(self) -> Harness:
        """Handle every pending piece of work, then the timers (unless the clock is stopped), until nothing moves."""
        while True:
            while self._work:
                kind, tr_id = self._work.popleft()
                if kind == "attempt":
                    self._attempt(tr_id)
                else:
                    self._child(tr_id)
            if not self._timers or not self.clock_runs:
                return self
            self._timers.sort()
            _, _, kind, tr_id = self._timers.pop(0)
            self.apply(self.executor.on_timer(self.st, kind, tr_id))

    def apply(self, step: Step) -> None:
        # The runner starts child executions right after the commit; attempts report later.
        for child in step.children:
            self.started_children.append({"task": self.st.task_runs[child.task_run_id].task_id, "flowId": child.flow_id,
                                          "inputs": child.inputs, "labels": child.labels, "wait": child.wait})
            self._work.append(("child", child.task_run_id))
        for tr in step.dispatch:
            self._work.append(("attempt", tr.id))
        for tr_id in step.kill:
            self.killed_attempts.append(self.st.task_runs[tr_id].task_id)
        self.killed_children.extend(step.kill_children)
        for seconds, kind, tr_id in step.timers:
            self._seq += 1
            self._timers.append((seconds, self._seq, kind, tr_id))
        self.logs.extend((task_id, level, message) for _, task_id, level, message in step.logs)
        self.ended += step.ended

    def _next(self, tr: TaskRun) -> Outcome:
        key = _key(tr)
        script = self.script.get(key) or self.script.get(tr.task_id) or []
        n = self._used.get(key, 0)
        self._used[key] = n + 1
        return script[n] if n < len(script) else "SUCCESS"

    def _attempt(self, tr_id: str) -> None:
        tr = self.st.task_runs[tr_id]
        if tr.state.terminal or self.st.execution.state.terminal:
            return
        attempt = len(tr.attempts) - 1
        outcome = self._next(tr)
        self.executor.on_started(self.st, tr.id, attempt, "2024-01-01T00:00:00+00:00")
        state, outputs = (outcome, None) if isinstance(outcome, str) else outcome
        if state == "HOLD":
            return
        if state == "KILL":
            self.kill()
            return
        self.apply(self.executor.on_result(self.st, tr.id, attempt, WorkerOutcome(State(state), outputs, message=f"{tr.task_id} said {state}")))

    def _child(self, tr_id: str) -> None:
        tr = self.st.task_runs[tr_id]
        outcome = self._next(tr)
        state = outcome if isinstance(outcome, str) else outcome[0]
        if state == "ERROR":
            self.apply(self.executor.on_child_error(self.st, tr.id, f"{tr.task_id}: flow does not exist"))
            return
        child_id = f"child-of-{tr.task_id}"
        tr.outputs = {"executionId": child_id}  # what the runner records once the child is started
        self.st.touch(tr)
        if state == "HOLD":
            return
        outputs = {} if isinstance(outcome, str) else outcome[1]
        summary = {"id": child_id, "namespace": "test.executor", "flowId": "child", "state": state, "outputs": outputs}
        self.apply(self.executor.on_child_end(self.st, tr.id, summary))

    # --- reading --------------------------------------------------------------------------------

    def states(self) -> dict[str, str]:
        """``{"execution": state, task id (or "id[value]" in a loop): state}``."""
        out = {"execution": str(self.st.execution.state)}
        for tr in self.st.ordered_runs():
            out[_key(tr)] = str(tr.state)
        return out

    def attempts(self, key: str) -> list[str]:
        tr = next(t for t in self.st.ordered_runs() if _key(t) == key)
        return [str(a.state) for a in tr.attempts]

    def run(self, key: str) -> TaskRun:
        return next(t for t in self.st.ordered_runs() if _key(t) == key)


def _key(tr: TaskRun) -> str:
    return f"{tr.task_id}[{tr.value}]" if tr.value is not None else tr.task_id
