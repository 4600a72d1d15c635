"""The executor: a state machine over an execution's stored state.

Given a flow, the current :class:`ExecutionState` and one event (start, a
worker result, a subflow that ended, a timer, resume, kill), it mutates the
in-memory state and returns a :class:`Step` saying what to do next: which
runnable task runs to dispatch, which subflows to start, which timers to set.
The runner commits the mutated task runs in one transaction *before* acting on
the step, so any process can die and another continue from the store.

Each event only re-evaluates the container whose child changed (and, for a
for_each, only the iteration that changed), so a step costs the same whether
the execution has ten task runs or ten thousand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from engine.model.execution import Attempt, ExecutionState, TaskRun
from engine.model.flow import Flow
from engine.model.ids import new_id, now_iso, parse_iso
from engine.model.state import State, worst
from engine.model.task import FlowableTask, RunnableTask, Task
from engine.runtime.flow_index import FlowIndex
from engine.tasks.core import truthy
from engine.tasks.flow import Dag, ForEach, If, Parallel, Pause, Sequential, Subflow, Switch, WorkingDirectory

Renderer = Callable[[Any, Mapping[str, Any]], Any]


class RenderFailure(Exception):
    """An expression of a flowable task (condition, values) could not be rendered."""


@dataclass
class WorkerOutcome:
    """What a worker reports for one attempt."""

    state: State
    outputs: dict[str, Any] | None = None
    message: str | None = None
    start_date: str | None = None
    end_date: str | None = None


@dataclass
class Step:
    dispatch: list[TaskRun] = field(default_factory=list)
    subflows: list[TaskRun] = field(default_factory=list)
    kill: list[str] = field(default_factory=list)  # task run ids whose attempt must be killed
    kill_children: list[str] = field(default_factory=list)  # child execution ids to kill
    timers: list[tuple[float, str, str]] = field(default_factory=list)  # (seconds, kind, task run id)
    logs: list[tuple[str | None, str | None, str, str]] = field(default_factory=list)  # (tr id, task id, level, msg)
    ended: bool = False


class Executor:
    """Decides what happens next in executions of one flow revision."""

    def __init__(self, flow: Flow, render: Renderer, context: Callable[..., dict[str, Any]]):
        self.flow = flow
        self.index = FlowIndex(flow)
        self._render = render
        self._context = context  # (state, task, parent_tr, value, tr=None) -> expression context

    # --- events ----------------------------------------------------------------------------------

    def start(self, st: ExecutionState) -> Step:
        step = Step()
        ex = st.execution
        if ex.state.terminal:
            return step
        if ex.start_date is None:
            ex.start_date = now_iso()
        ex.state = State.RUNNING
        st.touch_execution()
        self._advance(st, None, None, step)
        return step

    def on_started(self, st: ExecutionState, tr_id: str, attempt_no: int, start_date: str) -> None:
        tr = st.task_runs.get(tr_id)
        if tr is None or tr.state.terminal or attempt_no >= len(tr.attempts):
            return
        tr.state = State.RUNNING
        tr.attempts[attempt_no].state = State.RUNNING
        tr.attempts[attempt_no].start_date = start_date
        if tr.start_date is None:
            tr.start_date = start_date
        st.touch(tr)

    def on_result(self, st: ExecutionState, tr_id: str, attempt_no: int, outcome: WorkerOutcome) -> Step:
        step = Step()
        tr = st.task_runs.get(tr_id)
        if tr is None or tr.state.terminal or st.execution.state.terminal:
            return step  # a late result for a killed run: the kill already decided
        if attempt_no != len(tr.attempts) - 1:
            return step  # a result of an attempt that was already replaced
        att = tr.attempts[attempt_no]
        att.state = outcome.state
        att.start_date = att.start_date or outcome.start_date or now_iso()
        att.end_date = outcome.end_date or now_iso()
        att.message = outcome.message
        tr.start_date = tr.start_date or att.start_date
        task = self.index.task(tr.task_id)
        if outcome.state in (State.SUCCESS, State.WARNING):
            state = outcome.state
            if len(tr.attempts) > 1 and task.retry is not None and task.retry.warning_on_retry:
                state = State.WARNING
            self._finish(st, tr, state, outcome.outputs, step)
            return step
        if outcome.state == State.KILLED:
            self._finish(st, tr, State.KILLED, outcome.outputs, step)
            return step
        # A failed attempt: retry or fail.
        if outcome.outputs:
            st.set_outputs(tr, outcome.outputs)
        delay = self._retry_delay(task, tr)
        if delay is not None:
            tr.state = State.RETRYING
            st.touch(tr)
            step.logs.append((tr.id, tr.task_id, "WARN", f"attempt {attempt_no + 1} failed ({outcome.message}); retrying in {delay.total_seconds():g}s"))
            step.timers.append((delay.total_seconds(), "retry", tr.id))
            return step
        final = State.WARNING if task.allow_failure else State.FAILED
        if outcome.message:
            step.logs.append((tr.id, tr.task_id, "ERROR", f"{tr.task_id} failed: {outcome.message}"))
        self._finish(st, tr, final, outcome.outputs, step)
        return step

    def on_timer(self, st: ExecutionState, kind: str, tr_id: str) -> Step:
        step = Step()
        tr = st.task_runs.get(tr_id)
        if tr is None or tr.state.terminal or st.execution.state.terminal:
            return step
        if kind == "retry" and tr.state == State.RETRYING:
            self._new_attempt(st, tr, step)
        elif kind == "pause-resume" and tr.state == State.PAUSED:
            return self.resume(st, tr.id, None)
        elif kind == "pause-timeout" and tr.state == State.PAUSED:
            task = self.index.task(tr.task_id)
            behavior = (getattr(task, "behavior", None) or "FAIL").upper()
            target = {"RESUME": State.SUCCESS, "WARN": State.WARNING, "CANCEL": State.CANCELLED}.get(behavior, State.FAILED)
            step.logs.append((tr.id, tr.task_id, "WARN", f"pause timed out; task ends {target}"))
            self._set_running_after_pause(st)
            self._finish(st, tr, target, None, step)
        return step

    def on_subflow_end(self, st: ExecutionState, tr_id: str, child: dict[str, Any]) -> Step:
        step = Step()
        tr = st.task_runs.get(tr_id)
        if tr is None or tr.state.terminal:
            return step
        task = self.index.task(tr.task_id)
        child_state = State(child["state"])
        outputs = {"executionId": child["id"], "state": str(child_state), "outputs": child.get("outputs") or {}}
        if child_state.failed and getattr(task, "transmit_failed", True):
            state = State.WARNING if task.allow_failure else State.FAILED
            step.logs.append((tr.id, tr.task_id, "ERROR", f"subflow {child.get('namespace')}.{child.get('flowId')} execution {child['id']} ended {child_state}"))
        else:
            state = State.WARNING if child_state == State.WARNING else State.SUCCESS
        self._finish(st, tr, state, outputs, step)
        return step

    def on_subflow_error(self, st: ExecutionState, tr_id: str, message: str) -> Step:
        step = Step()
        tr = st.task_runs.get(tr_id)
        if tr is None or tr.state.terminal:
            return step
        step.logs.append((tr.id, tr.task_id, "ERROR", message))
        task = self.index.task(tr.task_id)
        self._finish(st, tr, State.WARNING if task.allow_failure else State.FAILED, None, step)
        return step

    def resume(self, st: ExecutionState, tr_id: str | None, inputs: dict[str, Any] | None) -> Step:
        step = Step()
        paused = [tr for tr in st.task_runs.values() if tr.state == State.PAUSED and (tr_id is None or tr.id == tr_id)]
        if not paused:
            return step
        self._set_running_after_pause(st)
        for tr in paused:
            self._finish(st, tr, State.SUCCESS, {"onResume": inputs or {}} if inputs else tr.outputs, step)
        return step

    def kill(self, st: ExecutionState) -> Step:
        step = Step()
        ex = st.execution
        if ex.state.terminal:
            return step
        end = now_iso()
        for tr in st.task_runs.values():
            if tr.state.terminal:
                continue
            task = self.index.get(tr.task_id)
            if isinstance(task, RunnableTask) and tr.state in (State.RUNNING, State.CREATED):
                step.kill.append(tr.id)
            if isinstance(task, Subflow) and tr.outputs and tr.outputs.get("executionId"):
                step.kill_children.append(tr.outputs["executionId"])
            for att in tr.attempts:
                if not att.state.terminal:
                    att.state = State.KILLED
                    att.end_date = end
            tr.state = State.KILLED
            tr.end_date = end
            st.touch(tr)
        ex.state = State.KILLED
        ex.end_date = end
        st.touch_execution()
        step.ended = True
        return step

    def recover(self, st: ExecutionState) -> Step:
        """Continue an execution loaded after a restart: re-dispatch lost attempts, re-evaluate."""
        step = Step()
        if st.execution.state.terminal:
            return step
        for tr in st.ordered_runs():
            task = self.index.get(tr.task_id)
            if isinstance(task, RunnableTask) and tr.state in (State.CREATED, State.RUNNING):
                lost = tr.meta.get("lost", 0)
                if tr.attempts and not tr.attempts[-1].state.terminal:
                    tr.attempts[-1].state = State.FAILED
                    tr.attempts[-1].end_date = now_iso()
                    tr.attempts[-1].message = "worker lost (process restarted)"
                if lost >= 3:
                    self._finish(st, tr, State.FAILED, None, step)
                    continue
                tr.meta["lost"] = lost + 1
                step.logs.append((tr.id, tr.task_id, "WARN", "the worker running this task was lost; starting a new attempt"))
                self._new_attempt(st, tr, step)
            elif tr.state == State.RETRYING:
                step.timers.append((0.0, "retry", tr.id))
            elif tr.state == State.PAUSED and isinstance(task, Pause):
                self._pause_timers(tr, task, step)
            elif isinstance(task, Subflow) and tr.state == State.RUNNING and not (tr.outputs or {}).get("executionId"):
                step.subflows.append(tr)
        # Re-evaluate every running container (cheap: once per recovery).
        for tr in st.ordered_runs():
            if not tr.state.terminal and isinstance(self.index.get(tr.task_id), FlowableTask):
                self._advance(st, tr, None, step)
        if not st.execution.state.terminal:
            self._advance(st, None, None, step)
        return step

    def waiting_children(self, st: ExecutionState) -> list[tuple[str, str]]:
        """(child execution id, task run id) of every running task run that waits for a child execution."""
        out: list[tuple[str, str]] = []
        for tr in list(st.task_runs.values()):
            child = (tr.outputs or {}).get("executionId") if tr.state == State.RUNNING else None
            if child and isinstance(self.index.get(tr.task_id), Subflow):
                out.append((child, tr.id))
        return out

    # --- internals -------------------------------------------------------------------------------

    def _retry_delay(self, task: Task, tr: TaskRun) -> timedelta | None:
        if task.retry is None:
            return None
        first = parse_iso(tr.attempts[0].start_date) if tr.attempts and tr.attempts[0].start_date else None
        elapsed = (parse_iso(now_iso()) - first) if first else timedelta(0)
        return task.retry.next_delay(len(tr.attempts), elapsed)

    def _new_attempt(self, st: ExecutionState, tr: TaskRun, step: Step) -> None:
        tr.attempts.append(Attempt(State.CREATED))
        tr.state = State.CREATED
        st.touch(tr)
        step.dispatch.append(tr)

    def _set_running_after_pause(self, st: ExecutionState) -> None:
        if st.execution.state == State.PAUSED:
            st.execution.state = State.RUNNING
            st.touch_execution()

    def _finish(self, st: ExecutionState, tr: TaskRun, state: State, outputs: dict[str, Any] | None, step: Step) -> None:
        """End a task run and re-evaluate its parent."""
        tr.state = state
        tr.end_date = now_iso()
        if tr.start_date is None:
            tr.start_date = tr.end_date
        if outputs is not None:
            st.set_outputs(tr, outputs)
        st.touch(tr)
        parent = st.task_runs.get(tr.parent_task_run_id) if tr.parent_task_run_id else None
        self._advance(st, parent, tr.iteration, step)

    def _advance(self, st: ExecutionState, container: TaskRun | None, iteration: int | None, step: Step) -> None:
        """Re-evaluate a container (None: the flow itself); end it when it is done."""
        if st.execution.state.terminal:
            return
        if container is None:
            self._advance_root(st, step)
            return
        if container.state.terminal:
            return
        task = self.index.task(container.task_id)
        try:
            result = self._evaluate(st, container, task, iteration, step)
        except RenderFailure as exc:
            step.logs.append((container.id, container.task_id, "ERROR", str(exc)))
            result = State.FAILED
        if result is None:
            return
        if result.failed and task.allow_failure:
            result = State.WARNING
        self._finish(st, container, result, container.outputs, step)

    def _advance_root(self, st: ExecutionState, step: Step) -> None:
        flow = self.flow
        main = self._sequence(st, flow.tasks, None, None, None, step)
        if main is None:
            return
        state = self._handlers(st, main, flow.errors, flow.finally_, None, None, step)
        if state is None:
            return
        if flow.after_execution:
            st.execution.meta["finalState"] = str(state)
            after = self._sequence(st, flow.after_execution, None, None, None, step)
            if after is None:
                return
        self._end_execution(st, state, step)

    def _end_execution(self, st: ExecutionState, state: State, step: Step) -> None:
        ex = st.execution
        if state.successful and self.flow.outputs:
            ctx = self._context(st, None, None, None)
            try:
                ex.outputs = {o.id: self._render(o.value, ctx) for o in self.flow.outputs}
            except Exception as exc:  # noqa: BLE001 - any render error fails the execution with its message
                step.logs.append((None, None, "ERROR", f"flow outputs could not be rendered: {exc}"))
                state = State.FAILED
        ex.state = State.SUCCESS if state == State.SKIPPED else state
        ex.end_date = now_iso()
        st.touch_execution()
        step.ended = True

    def _handlers(
        self,
        st: ExecutionState,
        main: State,
        errors: list[Task] | None,
        finally_: list[Task] | None,
        parent: TaskRun | None,
        value: str | None,
        step: Step,
    ) -> State | None:
        """Run ``errors`` after a failure and ``finally`` in any case; None while they run."""
        state = main
        if main == State.FAILED and errors:
            if self._sequence(st, errors, parent, None, value, step) is None:
                return None
        if finally_:
            fin = self._sequence(st, finally_, parent, None, value, step)
            if fin is None:
                return None
            if fin.failed and not state.failed:
                state = State.FAILED
        return state

    def _evaluate(self, st: ExecutionState, tr: TaskRun, task: Task, iteration: int | None, step: Step) -> State | None:
        if tr.state == State.PAUSED or isinstance(task, (Subflow, Pause)):
            return None  # ended by on_subflow_end / resume
        if isinstance(task, (Sequential, WorkingDirectory)):
            main = self._sequence(st, task.tasks, tr, None, tr.value, step)
        elif isinstance(task, Parallel):
            main = self._parallel(st, task.tasks, tr, None, tr.value, task.concurrent, step)
        elif isinstance(task, (If, Switch)):
            branch = tr.meta.get("branch")
            tasks = task.child_task_lists().get(branch, []) if branch else []
            main = self._sequence(st, tasks, tr, None, tr.value, step) if tasks else State.SUCCESS
        elif isinstance(task, Dag):
            main = self._dag(st, task, tr, step)
        elif isinstance(task, ForEach):
            main = self._for_each(st, task, tr, iteration, step)
        else:  # pragma: no cover - every flowable type is handled above
            raise RenderFailure(f"{task.id}: unsupported flowable type {task.type}")
        if main is None:
            return None
        if main.failed and main != State.FAILED:
            return main  # KILLED: no handlers
        return self._handlers(st, main, task.errors, task.finally_, tr, tr.value, step)

    # --- blocks ----------------------------------------------------------------------------------

    def _sequence(
        self, st: ExecutionState, tasks: list[Task], parent: TaskRun | None, iteration: int | None, value: str | None, step: Step
    ) -> State | None:
        scope = st.scope(parent.id if parent else None, iteration)
        states: list[State] = []
        for task in tasks:
            tr = scope.get(task.id)
            if tr is None:
                tr = self._create(st, task, parent, iteration, value, step)
            if not tr.state.terminal:
                return None
            if tr.state.failed:
                return tr.state if tr.state == State.KILLED else State.FAILED
            states.append(tr.state)
        return worst(states)

    def _parallel(
        self,
        st: ExecutionState,
        tasks: list[Task],
        parent: TaskRun,
        iteration: int | None,
        value: str | None,
        limit: int,
        step: Step,
    ) -> State | None:
        scope = st.scope(parent.id, iteration)
        running = 0
        states: list[State] = []
        pending: list[Task] = []
        for task in tasks:
            tr = scope.get(task.id)
            if tr is None:
                pending.append(task)
            elif tr.state.terminal:
                states.append(tr.state)
            else:
                running += 1
        failed = any(s.failed for s in states)
        while pending and not failed and (limit == 0 or running < limit):
            tr = self._create(st, pending.pop(0), parent, iteration, value, step)
            if tr.state.terminal:
                states.append(tr.state)
                failed = failed or tr.state.failed
            else:
                running += 1
        if running or (pending and not failed):
            return None
        return worst(states)

    def _dag(self, st: ExecutionState, task: Dag, parent: TaskRun, step: Step) -> State | None:
        scope = st.scope(parent.id, None)
        done: dict[str, State] = {}
        running = 0
        for item in task.tasks:
            tr = scope.get(item.task.id)
            if tr is not None:
                if tr.state.terminal:
                    done[item.task.id] = tr.state
                else:
                    running += 1
        failed = any(s.failed for s in done.values())
        progressed = True
        while progressed and not failed:
            progressed = False
            for item in task.tasks:
                if item.task.id in done or item.task.id in scope:
                    continue
                if task.concurrent and running >= task.concurrent:
                    break
                deps = item.depends_on or []
                if all(d in done and not done[d].failed for d in deps):
                    tr = self._create(st, item.task, parent, None, parent.value, step)
                    if tr.state.terminal:
                        done[item.task.id] = tr.state
                        failed = failed or tr.state.failed
                        progressed = True
                    else:
                        running += 1
        if running:
            return None
        if len(done) == len(task.tasks) or failed:
            return worst(list(done.values()))
        return None

    def _for_each(self, st: ExecutionState, task: ForEach, tr: TaskRun, iteration: int | None, step: Step) -> State | None:
        values: list[str] = tr.meta.get("values", [])
        started = st.iterations.setdefault(tr.id, set())
        stats = st.done_iterations.setdefault(tr.id, {})
        to_check = [iteration] if iteration is not None else [i for i in started if i not in stats]
        failed = st.failed_iterations.get(tr.id, 0)
        for i in to_check:
            if i in stats or i not in started:
                continue
            res = self._sequence(st, task.tasks, tr, i, values[i], step)
            if res is not None:
                stats[i] = res
                failed += res.failed
        limit = task.effective_concurrency()
        while not failed and len(started) < len(values) and (limit == 0 or len(started) - len(stats) < limit):
            i = len(started)
            started.add(i)
            res = self._sequence(st, task.tasks, tr, i, values[i], step)
            if res is not None:
                stats[i] = res
                failed += res.failed
        st.failed_iterations[tr.id] = failed
        running = len(started) - len(stats)
        if running:
            return None
        if len(stats) == len(values) or failed:
            return worst(list(stats.values())) if stats else State.SUCCESS
        return None

    # --- creating task runs ----------------------------------------------------------------------

    def _create(
        self, st: ExecutionState, task: Task, parent: TaskRun | None, iteration: int | None, value: str | None, step: Step
    ) -> TaskRun:
        tr = TaskRun(
            id=new_id(),
            execution_id=st.execution.id,
            task_id=task.id,
            parent_task_run_id=parent.id if parent else None,
            value=value,
            iteration=iteration,
            state=State.CREATED,
            seq=0,
        )
        st.add(tr)
        if task.disabled:
            self._skip(st, tr)
            return tr
        if task.run_if is not None:
            try:
                cond = self._render(task.run_if, self._context(st, task, parent, value, tr))
            except Exception as exc:  # noqa: BLE001
                step.logs.append((tr.id, task.id, "ERROR", f"{task.id}.runIf: {exc}"))
                self._end_new(st, tr, State.FAILED)
                return tr
            if not truthy(cond):
                step.logs.append((tr.id, task.id, "INFO", f"{task.id} skipped: runIf is false"))
                self._skip(st, tr)
                return tr
        if isinstance(task, RunnableTask):
            self._new_attempt(st, tr, step)
            return tr
        # Flowable: decide its shape now, then let it start its children.
        tr.state = State.RUNNING
        tr.start_date = now_iso()
        try:
            self._prepare_flowable(st, task, tr, parent, value, step)
        except RenderFailure as exc:
            step.logs.append((tr.id, task.id, "ERROR", str(exc)))
            self._end_new(st, tr, State.WARNING if task.allow_failure else State.FAILED)
            return tr
        if tr.state == State.RUNNING and not isinstance(task, (Subflow, Pause)):
            try:
                result = self._evaluate(st, tr, task, None, step)
            except RenderFailure as exc:
                step.logs.append((tr.id, task.id, "ERROR", str(exc)))
                result = State.FAILED
            if result is not None:
                if result.failed and task.allow_failure:
                    result = State.WARNING
                self._end_new(st, tr, result)
        return tr

    def _skip(self, st: ExecutionState, tr: TaskRun) -> None:
        self._end_new(st, tr, State.SKIPPED)

    def _end_new(self, st: ExecutionState, tr: TaskRun, state: State) -> None:
        tr.state = state
        tr.end_date = now_iso()
        tr.start_date = tr.start_date or tr.end_date
        st.touch(tr)

    def _render_prop(self, st: ExecutionState, task: Task, name: str, value: Any, parent: TaskRun | None, tr: TaskRun) -> Any:
        try:
            return self._render(value, self._context(st, task, parent, tr.value, tr))
        except Exception as exc:  # noqa: BLE001 - the message is what users need
            raise RenderFailure(f"{task.id}.{name}: {exc}") from exc

    def _prepare_flowable(self, st: ExecutionState, task: Task, tr: TaskRun, parent: TaskRun | None, value: str | None, step: Step) -> None:
        if isinstance(task, If):
            cond = self._render_prop(st, task, "condition", task.condition, parent, tr)
            tr.meta["branch"] = "then" if truthy(cond) else ("else" if task.else_ else None)
            tr.outputs = {"evaluationResult": truthy(cond)}
        elif isinstance(task, Switch):
            val = self._render_prop(st, task, "value", task.value, parent, tr)
            key = _as_key(val)
            if task.cases and key in task.cases:
                tr.meta["branch"] = f"cases.{key}"
            else:
                tr.meta["branch"] = "defaults" if task.defaults else None
            tr.outputs = {"value": key, "defaults": tr.meta["branch"] == "defaults"}
        elif isinstance(task, ForEach):
            raw = self._render_prop(st, task, "values", task.values, parent, tr)
            if isinstance(raw, str):
                try:
                    raw = json.loads(raw)
                except json.JSONDecodeError:
                    raise RenderFailure(f"{task.id}.values: {raw!r} is not a list (give a YAML list or a JSON array)") from None
            if isinstance(raw, dict):
                raw = list(raw.items())
            if not isinstance(raw, list):
                raise RenderFailure(f"{task.id}.values: expected a list, got {type(raw).__name__}")
            tr.meta["values"] = [_as_key(v) for v in raw]
        elif isinstance(task, Subflow):
            step.subflows.append(tr)
        elif isinstance(task, Pause):
            tr.state = State.PAUSED
            st.execution.state = State.PAUSED
            st.touch_execution()
            step.logs.append((tr.id, task.id, "INFO", f"{task.id}: execution paused; resume it to go on"))
            self._pause_timers(tr, task, step)
        st.touch(tr)

    def _pause_timers(self, tr: TaskRun, task: Pause, step: Step) -> None:
        started = parse_iso(tr.start_date) if tr.start_date else None
        elapsed = (parse_iso(now_iso()) - started).total_seconds() if started else 0.0
        if task.pause_duration is not None:
            step.timers.append((max(0.0, task.pause_duration.total_seconds() - elapsed), "pause-resume", tr.id))
        if task.timeout is not None:
            step.timers.append((max(0.0, task.timeout.total_seconds() - elapsed), "pause-timeout", tr.id))


def _as_key(value: Any) -> str:
    """Loop values and switch keys are strings (Kestra's rule); objects become JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)
