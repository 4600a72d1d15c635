"""The executor: a state machine over an execution's stored state.

Given a flow, the current :class:`ExecutionState` and one event (start, a
worker result, a child execution that ended, a timer, resume, kill, restart),
it mutates the in-memory state and returns a :class:`Step` saying what to do
next: which runnable task runs to dispatch, which child executions to start,
which timers to set. The runner commits the mutated task runs in one
transaction *before* acting on the step, so any process can die and another
continue from the store.

The executor knows no concrete task type. A runnable task gets attempts; a
flowable task is asked, through the hooks of
:class:`~engine.model.flowable.FlowableTask`, how it expands, which children
start next and what state it ends in, so a plugin's flowable type needs no
change here.

Each event only re-evaluates the container whose child changed (and, for a
loop, only the iteration that changed), so a step costs the same whether the
execution has ten task runs or ten thousand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from engine.model.durations import format_duration
from engine.model.execution import Attempt, Execution, ExecutionState, TaskRun
from engine.model.flow import SLA, Flow
from engine.model.flowable import (
    ChildExecution,
    FlowableError,
    FlowableTask,
    WorkerStep,
    run_sequence,
    with_handlers,
)
from engine.model.ids import new_id, now_iso, parse_iso
from engine.model.inputs import mask_secrets
from engine.model.plain import Plain
from engine.model.retry import Retry
from engine.model.state import State
from engine.model.task import RunnableTask, Task, truthy
from engine.runtime.flow_index import FlowIndex

Renderer = Callable[[Any, Mapping[str, Any]], Any]

#: What a restart resets.
RESTARTABLE = (State.FAILED, State.KILLED)


class WorkerOutcome(Plain):
    """What a worker reports for one attempt (pickled back from a remote worker through ``__init__``)."""

    __slots__ = ("state", "outputs", "message", "start_date", "end_date", "log_file", "labels", "exit_state",
                 "metrics")
    state: State
    outputs: dict[str, Any] | None
    message: str | None
    start_date: str | None
    end_date: str | None
    #: The attempt's log file in internal storage (a task with ``logToFile``).
    log_file: str | None
    #: Labels the task adds to its execution (Labels).
    labels: dict[str, str] | None
    #: The state the task ends its execution in (Exit).
    exit_state: State | None
    #: Metrics the attempt published (metric Publish, ``RunContext.metric``).
    metrics: list[dict[str, Any]] | None

    def __init__(self, state: State, outputs: dict[str, Any] | None = None, message: str | None = None,
                 start_date: str | None = None, end_date: str | None = None, log_file: str | None = None,
                 labels: dict[str, str] | None = None, exit_state: State | None = None,
                 metrics: list[dict[str, Any]] | None = None) -> None:
        self.state = state
        self.outputs = outputs
        self.message = message
        self.start_date = start_date
        self.end_date = end_date
        self.log_file = log_file
        self.labels = labels
        self.exit_state = exit_state
        self.metrics = metrics


class Step:
    """What to do after one event (the runner acts on it once the changes are committed).

    A plain slotted class: one is made per event, and nothing compares or copies them.
    """

    __slots__ = ("dispatch", "children", "kill", "kill_children", "timers", "logs", "ended", "retry_execution")
    dispatch: list[TaskRun]
    children: list[ChildExecution]  # child executions to start
    kill: list[str]  # task run ids whose attempt must be killed
    kill_children: list[str]  # child execution ids to kill
    timers: list[tuple[float, str, str]]  # (seconds, kind, task run id)
    logs: list[tuple[str | None, str | None, str, str]]  # (tr id, task id, level, msg)
    ended: bool
    #: A CREATE_NEW_EXECUTION retry: (seconds to wait, id of the new execution of the flow).
    retry_execution: tuple[float, str] | None

    def __init__(self) -> None:
        self.dispatch = []
        self.children = []
        self.kill = []
        self.kill_children = []
        self.timers = []
        self.logs = []
        self.ended = False
        self.retry_execution = None


class Executor:
    """Decides what happens next in executions of one flow revision."""

    def __init__(self, flow: Flow, render: Renderer, context: Callable[..., dict[str, Any]], mask: Callable[..., Any] | None = None):
        self.flow = flow
        self.index = FlowIndex(flow)
        self.render = render
        self.context = context  # (state, task, parent_tr, value, tr=None) -> expression context
        # Hides secret values in what the executor stores itself (loop values, switch keys, flow outputs):
        # mask(data, keep=()) leaves the values of ``keep`` alone (see _Run.child_inputs).
        self.mask: Callable[..., Any] = mask or (lambda data, keep=(): data)
        self._retries: dict[str, Retry | None] = {}

    # --- events ----------------------------------------------------------------------------------

    def start(self, st: ExecutionState) -> Step:
        step = Step()
        ex = st.execution
        if ex.state.terminal:
            return step
        wait = _seconds_until(ex.meta.get("startAfter"))
        if wait > 0:  # a new execution of a CREATE_NEW_EXECUTION retry waits for its interval
            step.timers.append((wait, "delayed-start", ""))
            return step
        ex.meta.pop("startAfter", None)
        if ex.start_date is None:
            ex.start_date = now_iso()
        ex.state = State.RUNNING
        st.touch_execution()
        self._arm_slas(st, step)
        self.reevaluate(st, None, step)
        self._check_assertions(st, step)
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
        end = att.end_date = outcome.end_date or now_iso()
        att.message = outcome.message
        att.log_file = outcome.log_file
        tr.start_date = tr.start_date or att.start_date
        task = self.index.tasks[tr.task_id]
        if outcome.metrics:
            tr.meta["metrics"] = [*tr.meta.get("metrics", ()), *outcome.metrics]
        if tr.task_id in self.index.flowable:
            assert isinstance(task, FlowableTask)
            self._on_step_result(st, tr, task, outcome, step)
            return step
        if outcome.state in (State.SUCCESS, State.WARNING):
            if outcome.labels:
                st.execution.labels.update(outcome.labels)
                st.touch_execution()
            if outcome.exit_state is not None:
                self._exit(st, tr, outcome.exit_state, outcome.outputs, step)
                return step
            state = outcome.state
            if len(tr.attempts) > 1 and (retry := self.effective_retry(task)) is not None and retry.warning_on_retry:
                state = State.WARNING
            self._finish(st, tr, task.tolerate(state), outcome.outputs, step, end)
            return step
        if outcome.state == State.KILLED:
            self._finish(st, tr, State.KILLED, outcome.outputs, step, end)
            return step
        # A failed attempt: retry or fail.
        retry = self.effective_retry(task)
        if outcome.outputs:
            st.set_outputs(tr, outcome.outputs)
        if retry is not None and retry.behavior == "CREATE_NEW_EXECUTION":
            delay = self._new_execution_delay(st, retry)
            if delay is not None:
                self._end_retried(st, tr, outcome.message, delay, step)
                return step
        delay = self._retry_delay(retry, tr) if retry is not None and retry.behavior == "RETRY_FAILED_TASK" else None
        if delay is not None:
            tr.state = State.RETRYING
            st.touch(tr)
            step.logs.append((tr.id, tr.task_id, "WARN", f"attempt {attempt_no + 1} failed ({outcome.message}); retrying in {delay.total_seconds():g}s"))
            step.timers.append((delay.total_seconds(), "retry", tr.id))
            return step
        final = task.tolerate(State.FAILED)
        if outcome.message:
            step.logs.append((tr.id, tr.task_id, "ERROR", f"{tr.task_id} failed: {outcome.message}"))
        self._finish(st, tr, final, outcome.outputs, step, end)
        return step

    def on_timer(self, st: ExecutionState, kind: str, tr_id: str) -> Step:
        """A timer ran out: a retry delay, or one a flowable task set (its ``on_timer`` decides)."""
        step = Step()
        if kind == "delayed-start":
            return self.start(st) if st.execution.state == State.CREATED else step
        if kind == "sla":
            self._on_sla_timer(st, tr_id, step)
            return step
        tr = st.task_runs.get(tr_id)
        if tr is None or tr.state.terminal or st.execution.state.terminal:
            return step
        task = self.index.task(tr.task_id)
        if kind == "retry" and not isinstance(task, FlowableTask):
            if tr.state == State.RETRYING:
                self._new_attempt(st, tr, step)
            return step
        if isinstance(task, FlowableTask):
            task.on_timer(_Run(self, st, tr, task, step), kind)
        return step

    def on_child_end(self, st: ExecutionState, tr_id: str, child: dict[str, Any]) -> Step:
        """The child execution a task run started has ended (duplicates are ignored)."""
        step = Step()
        tr = st.task_runs.get(tr_id)
        if tr is None or tr.state.terminal:
            return step
        task = self.index.task(tr.task_id)
        if isinstance(task, FlowableTask):
            task.on_child_end(_Run(self, st, tr, task, step), child)
        return step

    def on_child_error(self, st: ExecutionState, tr_id: str, message: str) -> Step:
        """The child execution a task run asked for could not be started."""
        step = Step()
        tr = st.task_runs.get(tr_id)
        if tr is None or tr.state.terminal:
            return step
        step.logs.append((tr.id, tr.task_id, "ERROR", message))
        task = self.index.task(tr.task_id)
        self._finish(st, tr, task.tolerate(State.FAILED), None, step)
        return step

    def resume(self, st: ExecutionState, tr_id: str | None, inputs: dict[str, Any] | None) -> Step:
        step = Step()
        paused = [tr for tr in st.task_runs.values() if tr.state == State.PAUSED and (tr_id is None or tr.id == tr_id)]
        if not paused:
            return step
        self._set_running_after_pause(st)
        for tr in paused:
            outputs = {"onResume": inputs or {}} if inputs else tr.outputs
            task = self.index.task(tr.task_id)
            if isinstance(task, FlowableTask):
                task.resumed(_Run(self, st, tr, task, step), outputs)
            else:
                self._finish(st, tr, State.SUCCESS, outputs, step)
        return step

    def kill(self, st: ExecutionState) -> Step:
        step = Step()
        if st.execution.state.terminal:
            return step
        self._terminate(st, State.KILLED, State.KILLED, step)
        return step

    def _terminate(self, st: ExecutionState, state: State, runs_state: State, step: Step) -> None:
        """End the execution in ``state`` now: unfinished task runs end ``runs_state``, running attempts are killed."""
        ex = st.execution
        end = now_iso()
        for tr in st.task_runs.values():
            if tr.state.terminal:
                continue
            task = self.index.get(tr.task_id)
            if isinstance(task, RunnableTask) and tr.state in (State.RUNNING, State.CREATED):
                step.kill.append(tr.id)
            if isinstance(task, FlowableTask):
                task.on_kill(_Run(self, st, tr, task, step))
            for att in tr.attempts:
                if not att.state.terminal:
                    att.state = State.KILLED
                    att.end_date = end
            tr.state = runs_state
            tr.end_date = end
            st.touch(tr)
        ex.state = state
        ex.end_date = end
        st.touch_execution()
        step.ended = True

    # --- SLA (Kestra's flow ``sla``) ----------------------------------------------------------

    def _arm_slas(self, st: ExecutionState, step: Step) -> None:
        """Timers of the MAX_DURATION SLAs, counted from the execution's start."""
        start = parse_iso(st.execution.start_date or now_iso())
        elapsed = (parse_iso(now_iso()) - start).total_seconds() if start else 0.0  # type: ignore[operator]
        for i, sla in enumerate(self.flow.sla or []):
            if sla.type == "MAX_DURATION" and sla.duration is not None:
                step.timers.append((max(0.0, sla.duration.total_seconds() - elapsed), "sla", str(i)))

    def _check_assertions(self, st: ExecutionState, step: Step) -> None:
        """EXECUTION_ASSERTION SLAs, evaluated on each change of a running execution (the first violation acts)."""
        if st.execution.state.terminal or "slaViolated" in st.execution.meta:
            return
        for sla in self.flow.sla or ():
            if sla.type != "EXECUTION_ASSERTION":
                continue
            try:
                ok = truthy(self.render(sla.assert_, self.context(st, None, None, None)))
            except Exception as exc:  # noqa: BLE001 - an assertion that cannot be rendered is a violation, said why
                ok, reason = False, f"its assertion could not be rendered: {exc}"
            else:
                reason = f"assertion is false: {sla.assert_}"
            if not ok:
                self._violate(st, sla, reason, step)
                return

    def _violate(self, st: ExecutionState, sla: SLA, reason: str, step: Step) -> None:
        ex = st.execution
        ex.meta["slaViolated"] = sla.id
        labels = sla.label_map()
        if labels:
            ex.labels = {**ex.labels, **labels}
        st.touch_execution()
        if sla.behavior == "NONE":
            step.logs.append((None, None, "WARN", f"SLA '{sla.id}' violated: {reason}"))
            return
        state = State.FAILED if sla.behavior == "FAIL" else State.CANCELLED
        verb = "failed" if state == State.FAILED else "cancelled"
        step.logs.append((None, None, "ERROR", f"execution {verb} because SLA '{sla.id}' was violated: {reason}"))
        self._terminate(st, state, state, step)

    def _on_sla_timer(self, st: ExecutionState, index: str, step: Step) -> None:
        slas = self.flow.sla or []
        if st.execution.state.terminal or "slaViolated" in st.execution.meta or not index.isdigit() or int(index) >= len(slas):
            return
        sla = slas[int(index)]
        if sla.duration is None:
            return
        self._violate(st, sla, f"the execution ran longer than its maximum duration of {format_duration(sla.duration)}", step)

    def recover(self, st: ExecutionState) -> Step:
        """Continue an execution loaded after a restart: re-dispatch lost attempts, re-evaluate."""
        step = Step()
        if st.execution.state.terminal:
            return step
        if st.execution.state == State.CREATED and st.execution.meta.get("startAfter"):
            return self.start(st)  # still waiting for its start: the timer lived in memory only
        self._arm_slas(st, step)
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
            elif isinstance(task, FlowableTask) and tr.state == State.RUNNING and tr.meta.get("step") in ("setup", "teardown"):
                tr.attempts.append(Attempt(State.CREATED))  # the worker step was lost with the process: run it again
                st.touch(tr)
                step.dispatch.append(tr)
            elif isinstance(task, FlowableTask) and not tr.state.terminal:
                self._restore(st, tr, task, step)
        # Re-evaluate every running container (cheap: once per recovery).
        for tr in st.ordered_runs():
            if not tr.state.terminal and isinstance(self.index.get(tr.task_id), FlowableTask):
                self.reevaluate(st, tr, step)
        if not st.execution.state.terminal:
            self.reevaluate(st, None, step)
        return step

    def restart(self, st: ExecutionState) -> Step:
        """Phase 1 of a restart: RESTARTED, failed task runs reset (nothing dispatched yet).

        A runnable task run gets a new attempt (its history kept); a flowable one goes back to
        RUNNING (its type's ``reset`` forgets what must be redone). Phase 2, after the commit,
        is :meth:`continue_restart`.
        """
        step = Step()
        ex = st.execution
        if ex.state not in RESTARTABLE:
            return step
        reset: list[str] = []
        for tr in st.ordered_runs():
            if tr.state not in RESTARTABLE:
                continue
            task = self.index.get(tr.task_id)
            if task is None:
                continue  # the task no longer exists in this revision
            tr.meta["restarted"] = tr.meta.get("restarted", 0) + 1
            if isinstance(task, RunnableTask):
                tr.attempts.append(Attempt(State.CREATED))
                tr.state = State.CREATED
                tr.meta.pop("lost", None)
            else:
                tr.state = State.RUNNING
                st.forget_derived(tr.id)
                if isinstance(task, FlowableTask):
                    task.reset(_Run(self, st, tr, task, step))
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

    def continue_restart(self, st: ExecutionState) -> Step:
        """Phase 2 of a restart: RUNNING, new attempts dispatched, containers re-evaluated."""
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
            task = self.index.get(tr.task_id)
            if isinstance(task, RunnableTask):
                if tr.state == State.CREATED and tr.attempts and tr.attempts[-1].state == State.CREATED:
                    step.dispatch.append(tr)
            elif isinstance(task, FlowableTask):
                self._restore(st, tr, task, step)
                containers.append(tr)
        # Innermost containers first, so an outer one sees its children's fresh state.
        for tr in sorted(containers, key=lambda t: t.seq, reverse=True):
            self.reevaluate(st, tr, step)
        self.reevaluate(st, None, step)
        return step

    def waiting_children(self, st: ExecutionState) -> list[tuple[str, str]]:
        """(child execution id, task run id) of every running task run that waits for a child execution."""
        out: list[tuple[str, str]] = []
        for tr in list(st.task_runs.values()):
            if tr.state != State.RUNNING:
                continue
            task = self.index.get(tr.task_id)
            if isinstance(task, FlowableTask):
                out.extend((child, tr.id) for child in task.child_execution_ids(tr))
        return out

    def reevaluate(self, st: ExecutionState, container: TaskRun | None, step: Step, iteration: int | None = None) -> None:
        """Re-evaluate a container (None: the flow itself); end it when it is done."""
        if st.execution.state.terminal:
            return
        if "exitState" in st.execution.meta:
            self._end_after_exit(st, step)  # an Exit task ended the flow: nothing new starts
            return
        if container is None:
            self._advance_root(st, step)
            return
        if container.state.terminal:
            return
        task = self.index.tasks[container.task_id]
        try:
            result = self._resolve(st, container, task, iteration, step)
        except FlowableError as exc:
            step.logs.append((container.id, container.task_id, "ERROR", str(exc)))
            result = State.FAILED
        if result is None:
            return
        if self._start_step(st, container, task, "teardown", result, step):
            return
        self._finish(st, container, task.tolerate(result), container.outputs, step)

    # --- internals -------------------------------------------------------------------------------

    def effective_retry(self, task: Task) -> Retry | None:
        """The retry policy of a task: its own, else the nearest enclosing task's, else the flow's (Kestra's order)."""
        try:
            return self._retries[task.id]
        except KeyError:
            pass
        found: Retry | None = None
        cur: Task | None = task
        while cur is not None:
            if cur.retry is not None:
                found = cur.retry
                break
            place = self.index.places.get(cur.id)
            cur = self.index.get(place.parent_id) if place is not None and place.parent_id else None
        self._retries[task.id] = found = found or self.flow.retry
        return found

    def _retry_delay(self, retry: Retry, tr: TaskRun) -> timedelta | None:
        first = parse_iso(tr.attempts[0].start_date) if tr.attempts and tr.attempts[0].start_date else None
        elapsed = (parse_iso(now_iso()) - first) if first else timedelta(0)  # type: ignore[operator]
        return retry.next_delay(len(tr.attempts), elapsed)

    def _new_execution_delay(self, st: ExecutionState, retry: Retry) -> timedelta | None:
        """Wait before the next execution of a CREATE_NEW_EXECUTION retry (None: no attempt left).

        Attempts count executions (this one is ``attemptNumber``), and ``maxDuration`` runs from the
        creation of the first one, as in Kestra.
        """
        ex = st.execution
        first = parse_iso(ex.meta.get("originalCreatedDate") or ex.start_date or now_iso())
        elapsed = (parse_iso(now_iso()) - first) if first else timedelta(0)  # type: ignore[operator]
        return retry.next_delay(int(ex.meta.get("attemptNumber", 1)), elapsed)

    def _end_retried(self, st: ExecutionState, tr: TaskRun, message: str | None, delay: timedelta, step: Step) -> None:
        """CREATE_NEW_EXECUTION: the failed task run, its parents and the execution end RETRIED; the
        runner starts a new execution of the flow after ``delay`` (Kestra's RESTART_FAILED_FLOW)."""
        seconds = delay.total_seconds()
        step.logs.append((tr.id, tr.task_id, "WARN", f"{tr.task_id} failed ({message}); the execution ends RETRIED and "
                          f"a new execution of the flow starts in {seconds:g}s (retry behavior CREATE_NEW_EXECUTION)"))
        cur: TaskRun | None = tr
        while cur is not None:
            cur.state = State.RETRIED
            cur.end_date = now_iso()
            st.touch(cur)
            cur = st.task_runs.get(cur.parent_task_run_id) if cur.parent_task_run_id else None
        self._terminate(st, State.RETRIED, State.KILLED, step)
        st.execution.meta["retriedBy"] = new_id()
        step.retry_execution = (seconds, st.execution.meta["retriedBy"])

    def _new_attempt(self, st: ExecutionState, tr: TaskRun, step: Step) -> None:
        tr.attempts.append(Attempt(State.CREATED))
        tr.state = State.CREATED
        st.touch(tr)
        step.dispatch.append(tr)

    def _set_running_after_pause(self, st: ExecutionState) -> None:
        if st.execution.state == State.PAUSED:
            st.execution.state = State.RUNNING
            st.touch_execution()

    def _finish(
        self, st: ExecutionState, tr: TaskRun, state: State, outputs: dict[str, Any] | None, step: Step, end: str | None = None
    ) -> None:
        """End a task run (at ``end``, the end of its last attempt; default: now) and re-evaluate its parent."""
        tr.state = state
        end = tr.end_date = end or now_iso()
        if tr.start_date is None:
            tr.start_date = end
        if outputs is not None:
            st.set_outputs(tr, outputs, end)  # the state history's entry has the end date: one clock reading
        else:
            st.touch(tr, end)
        parent = st.task_runs.get(tr.parent_task_run_id) if tr.parent_task_run_id else None
        self.reevaluate(st, parent, step, tr.iteration)
        if self.flow.sla:
            self._check_assertions(st, step)

    # --- worker steps of flowable tasks (a WorkingDirectory's files) ------------------------------

    def _start_step(self, st: ExecutionState, tr: TaskRun, task: Task, which: str, main: State | None, step: Step) -> bool:
        """Dispatch a flowable's ``setup`` (before its children) or ``teardown`` (after them) to a worker."""
        if not isinstance(task, FlowableTask) or which not in task.worker_steps() or tr.meta.get("done", {}).get(which):
            return False
        if main is not None and main == State.KILLED:
            return False
        tr.meta["step"] = which
        if main is not None:
            tr.meta["childrenState"] = str(main)
        tr.attempts.append(Attempt(State.CREATED))
        st.touch(tr)
        step.dispatch.append(tr)
        return True

    def _on_step_result(self, st: ExecutionState, tr: TaskRun, task: FlowableTask, outcome: WorkerOutcome, step: Step) -> None:
        which = tr.meta.pop("step", None)
        tr.meta.setdefault("done", {})[which] = True
        if outcome.outputs:
            st.set_outputs(tr, {**(tr.outputs or {}), **outcome.outputs})
        failed = outcome.state.failed
        if failed and outcome.message:
            step.logs.append((tr.id, tr.task_id, "ERROR", f"{tr.task_id} {which} failed: {outcome.message}"))
        if which == "setup":
            if failed:
                self._finish(st, tr, task.tolerate(State.FAILED if outcome.state != State.KILLED else State.KILLED), tr.outputs, step)
            else:
                self.reevaluate(st, tr, step)
            return
        main = State(tr.meta.pop("childrenState", "SUCCESS"))
        final = main if not failed else (State.KILLED if outcome.state == State.KILLED else State.FAILED)
        if final == main and outcome.state == State.WARNING and main == State.SUCCESS:
            final = State.WARNING
        self._finish(st, tr, task.tolerate(final), tr.outputs, step)

    def runnable(self, tr: TaskRun) -> Any:
        """What a worker runs for a dispatched task run: the runnable task, or a flowable's worker step."""
        task = self.index.tasks[tr.task_id]
        if tr.task_id in self.index.flowable:
            step_state = State(tr.meta["childrenState"]) if "childrenState" in tr.meta else None
            return WorkerStep(task, tr.meta.get("step", "setup"), step_state)  # type: ignore[arg-type]  # flowable: in index.flowable
        return task

    def _exit(self, st: ExecutionState, tr: TaskRun, state: State, outputs: dict[str, Any] | None, step: Step) -> None:
        """An Exit task ends its execution in ``state``: nothing new starts, unfinished containers end
        in that state; KILLED also kills what still runs, other states let it finish first."""
        st.execution.meta["exitState"] = str(state)
        st.touch_execution()
        step.logs.append((tr.id, tr.task_id, "INFO", f"{tr.task_id}: the execution exits in state {state}"))
        tr.state = state
        tr.end_date = now_iso()
        if outputs:
            st.set_outputs(tr, outputs)
        st.touch(tr)
        if state == State.KILLED:
            killed = self.kill(st)
            step.kill.extend(killed.kill)
            step.kill_children.extend(killed.kill_children)
            step.ended = step.ended or killed.ended
            return
        end = now_iso()
        for other in st.task_runs.values():
            if not other.state.terminal and isinstance(self.index.get(other.task_id), FlowableTask):
                other.state = state
                other.end_date = end
                st.touch(other)
        self._end_after_exit(st, step)

    def _end_after_exit(self, st: ExecutionState, step: Step) -> None:
        """End an exited execution once the task runs that were running when it exited are over."""
        if any(not tr.state.terminal for tr in st.task_runs.values()):
            return
        self._end_execution(st, State(st.execution.meta["exitState"]), step)

    def _restore(self, st: ExecutionState, tr: TaskRun, task: FlowableTask, step: Step) -> None:
        """Let a flowable set up again what lived only in memory; a failure ends its task run."""
        try:
            task.restore(_Run(self, st, tr, task, step))
        except FlowableError as exc:
            step.logs.append((tr.id, tr.task_id, "ERROR", str(exc)))
            self._finish(st, tr, task.tolerate(State.FAILED), None, step)

    def _advance_root(self, st: ExecutionState, step: Step) -> None:
        flow = self.flow
        root = _Run(self, st, None, None, step)
        main = run_sequence(root, flow.tasks, None, None)
        if main is None:
            return
        state = with_handlers(root, main, flow.errors, flow.finally_, None)
        if state is None:
            return
        if flow.after_execution:
            st.execution.meta["finalState"] = str(state)
            if run_sequence(root, flow.after_execution, None, None) is None:
                return
        self._end_execution(st, state, step)

    def _end_execution(self, st: ExecutionState, state: State, step: Step) -> None:
        ex = st.execution
        if state.successful and self.flow.outputs:
            ctx = self.context(st, None, None, None)
            try:
                ex.outputs = self.mask({o.id: self.render(o.value, ctx) for o in self.flow.outputs})
            except Exception as exc:  # noqa: BLE001 - any render error fails the execution with its message
                step.logs.append((None, None, "ERROR", f"flow outputs could not be rendered: {exc}"))
                state = State.FAILED
        ex.state = State.SUCCESS if state == State.SKIPPED else state
        ex.end_date = now_iso()
        st.touch_execution()
        step.ended = True

    def _resolve(self, st: ExecutionState, tr: TaskRun, task: Task, iteration: int | None, step: Step) -> State | None:
        if tr.state == State.PAUSED or tr.task_id not in self.index.flowable:
            return None  # a paused task run ends on resume (or its timers)
        if tr.meta.get("step") in ("setup", "teardown"):
            return None  # a worker runs its setup or teardown: its result continues it
        return task.resolve_state(_Run(self, st, tr, task, step), iteration)  # type: ignore[attr-defined,arg-type]

    # --- creating task runs ----------------------------------------------------------------------

    def _create(
        self, st: ExecutionState, task: Task, parent: TaskRun | None, iteration: int | None, value: str | None, step: Step
    ) -> TaskRun:
        # id, execution id, task id, parent task run id, value, iteration, state, seq (positional: made per task run)
        tr = TaskRun(new_id(), st.execution.id, task.id, parent.id if parent else None, value, iteration, State.CREATED, 0)
        st.add(tr)
        if task.disabled:
            self._end_new(st, tr, State.SKIPPED)
            return tr
        if task.run_if is not None:
            try:
                cond = self.render(task.run_if, self.context(st, task, parent, value, tr))
            except Exception as exc:  # noqa: BLE001
                step.logs.append((tr.id, task.id, "ERROR", f"{task.id}.runIf: {exc}"))
                self._end_new(st, tr, State.FAILED)
                return tr
            if not truthy(cond):
                step.logs.append((tr.id, task.id, "INFO", f"{task.id} skipped: runIf is false"))
                self._end_new(st, tr, State.SKIPPED)
                return tr
        if task.id not in self.index.flowable:
            self._new_attempt(st, tr, step)
            return tr
        assert isinstance(task, FlowableTask)
        # Flowable: its type decides its shape now, then it starts its children.
        tr.state = State.RUNNING
        tr.start_date = now_iso()
        run = _Run(self, st, tr, task, step)
        try:
            task.expand(run)
        except FlowableError as exc:
            step.logs.append((tr.id, task.id, "ERROR", str(exc)))
            self._end_new(st, tr, task.tolerate(State.FAILED))
            return tr
        st.touch(tr)
        if tr.state == State.RUNNING and self._start_step(st, tr, task, "setup", None, step):
            return tr
        if tr.state == State.RUNNING:
            try:
                result = task.resolve_state(run, None)
            except FlowableError as exc:
                step.logs.append((tr.id, task.id, "ERROR", str(exc)))
                result = State.FAILED
            if result is not None:
                self._end_new(st, tr, task.tolerate(result))
        return tr

    def _end_new(self, st: ExecutionState, tr: TaskRun, state: State) -> None:
        tr.state = state
        end = tr.end_date = now_iso()
        tr.start_date = tr.start_date or end
        st.touch(tr, end)


def _seconds_until(iso: str | None) -> float:
    """Seconds from now until an ISO date (0 when unset or past)."""
    when = parse_iso(iso) if iso else None
    if when is None:
        return 0.0
    return max(0.0, (when - parse_iso(now_iso())).total_seconds())  # type: ignore[operator]


class _Run:
    """The :class:`~engine.model.flowable.FlowableRun` the executor hands a flowable task
    (and, with no task run, the children of the flow itself)."""

    __slots__ = ("_executor", "_st", "_tr", "_task", "_step")

    def __init__(self, executor: Executor, st: ExecutionState, tr: TaskRun | None, task: FlowableTask | None, step: Step):
        self._executor = executor
        self._st = st
        self._tr = tr
        self._task = task
        self._step = step

    @property
    def task_run(self) -> TaskRun:
        assert self._tr is not None, "the flow itself has no task run"
        return self._tr

    @property
    def execution_state(self) -> ExecutionState:
        return self._st

    @property
    def execution(self) -> Execution:
        return self._st.execution

    def scope(self, iteration: int | None = None) -> dict[str, TaskRun]:
        return self._st.scope(self._tr.id if self._tr else None, iteration)

    def create(self, task: Task, iteration: int | None, value: str | None) -> TaskRun:
        return self._executor._create(self._st, task, self._tr, iteration, value, self._step)

    def render(self, name: str, value: object, extra: dict[str, Any] | None = None, *, context: dict[str, Any] | None = None) -> Any:
        tr, task, st = self.task_run, self._task, self._st
        parent = st.task_runs.get(tr.parent_task_run_id) if tr.parent_task_run_id else None
        ctx = context if context is not None else self._executor.context(st, task, parent, tr.value, tr)
        for key, more in (extra or {}).items():
            base = ctx.get(key)
            ctx[key] = {**base, **more} if isinstance(base, dict) and isinstance(more, dict) else more
        try:
            return self._executor.render(value, ctx)
        except Exception as exc:  # noqa: BLE001 - the message is what users need
            raise FlowableError(f"{tr.task_id}.{name}: {exc}") from exc

    def retry_later(self, reason: str) -> bool:
        executor, tr = self._executor, self.task_run
        retry = executor.effective_retry(executor.index.task(tr.task_id))
        if retry is None or retry.behavior != "RETRY_FAILED_TASK":
            return False
        delay = executor._retry_delay(retry, tr)
        if delay is None:
            return False
        tr.state = State.RETRYING
        self._st.touch(tr)
        self._step.logs.append((tr.id, tr.task_id, "WARN", f"attempt {len(tr.attempts)} failed ({reason}); retrying in {delay.total_seconds():g}s"))
        self._step.timers.append((delay.total_seconds(), "retry", tr.id))
        return True
    def reevaluate(self) -> None:
        self._executor.reevaluate(self._st, self.task_run, self._step)

    def log(self, level: str, message: str) -> None:
        tr = self._tr
        self._step.logs.append((tr.id if tr else None, tr.task_id if tr else None, level, message))

    def mask(self, data: object) -> Any:
        return self._executor.mask(data)

    def child_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return self._executor.mask(inputs, mask_secrets(self._executor.flow.inputs or [], self._st.execution.inputs))

    def set_timer(self, seconds: float, kind: str) -> None:
        self._step.timers.append((seconds, kind, self.task_run.id))

    def start_child_execution(self, child: ChildExecution) -> None:
        self._step.children.append(child)

    def kill_child_execution(self, execution_id: str) -> None:
        self._step.kill_children.append(execution_id)

    def pause(self) -> None:
        self.task_run.state = State.PAUSED
        self._st.execution.state = State.PAUSED
        self._st.touch(self.task_run)
        self._st.touch_execution()

    def unpause(self) -> None:
        self._executor._set_running_after_pause(self._st)

    def end(self, state: State, outputs: dict[str, Any] | None = None) -> None:
        self._executor._finish(self._st, self.task_run, state, outputs, self._step)

    def continue_running(self, outputs: dict[str, Any] | None = None) -> None:
        tr = self.task_run
        tr.state = State.RUNNING
        if outputs is not None:
            self._st.set_outputs(tr, outputs)
        self._st.touch(tr)
        self._executor.reevaluate(self._st, tr, self._step)
