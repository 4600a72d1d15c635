"""The runner: one loop that feeds events to the executor and commits before acting.

All state changes go through a single loop thread: it takes a batch of events
(worker results, starts, kills, timers), asks the executor what follows, writes
every change of the batch in one store transaction, and only then dispatches
work. Light tasks (log, return) run inline in the loop; the rest run on the
worker pool. This group commit is what keeps per-task overhead well under a
millisecond while every state change is durably stored.
"""

from __future__ import annotations

import functools
import heapq
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import expressions
from engine.model import registry
from engine.model.execution import Execution, ExecutionState, TaskRun, with_correlation_id
from engine.model.flow import Flow
from engine.model.flowable import ChildExecution
from engine.model.ids import new_id, now_iso
from engine.model.inputs import coerce_inputs, mask_secrets
from engine.model.state import State, is_terminal
from engine.model.task import RunnableTask
from engine.model.validation import load_flow
from engine.runtime import collector, concurrency
from engine.runtime.cluster import Cluster
from engine.runtime.context import RunContext, TaskLogger
from engine.runtime.end_summary import EndSummary
from engine.runtime.events import (
    AttemptEnded,
    AttemptStarted,
    ChangeTaskRunState,
    ChildEnded,
    ChildFailedToStart,
    ContinueRestart,
    Dequeue,
    Event,
    ExecutionEvent,
    Kill,
    LeaseTick,
    Recover,
    Restart,
    Resume,
    SetLabels,
    StartExecution,
    StartReplay,
    Sync,
    TimerFired,
    Wake,
)
from engine.runtime.executor import Executor, Step
from engine.runtime.expression_context import TaskVariables
from engine.runtime.logbuffer import LogBuffer
from engine.runtime.secrets import SecretStore
from engine.runtime.worker import Job, ThreadWorkerPool, run_attempt_or_fail
from engine.store.records import default_database_url
from engine.store.retry import retry_transient
from engine.store.sqlite_native import open_store

#: How long one batch may run light tasks before it commits (seconds).
LIGHT_BATCH_SECONDS = 0.05
#: End summaries kept in memory for wait() (count, and total task runs in them).
FINISHED_KEPT = 1024
FINISHED_RUNS_KEPT = 20_000


class FlowNotFound(LookupError):
    pass


def default_home() -> Path:
    return Path(os.environ.get("LANNER_HOME", ".lanner")).resolve()


class LocalRunner:
    """Store + executor loop + worker pool in one process (CLI, tests, the server)."""

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        database_url: str | None = None,
        workers: int | None = None,
        recover: bool = False,
        secrets: SecretStore | None = None,
        pool: Any | None = None,
        node_id: str | None = None,
        native_sqlite: bool = False,
    ):
        """``native_sqlite``: open an embedded SQLite database without SQLAlchemy (engine/store/sqlite_native.py),
        what the short-lived ``lanner flow run`` asks for; a server keeps the SQLAlchemy store it uses anyway."""
        registry.finalize()
        collector.tune_for_runner()  # after the task types loaded: they are frozen with the start-up heap
        self.home = Path(home).resolve() if home else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.store = open_store(database_url or default_database_url(self.home), native=native_sqlite)
        self.storage = _make_storage(self.home)
        self.secrets = secrets or SecretStore()
        # A Dask cluster when given (pool=DaskWorkerPool or LANNER_DASK_ADDRESS), else threads.
        self.pool = pool if pool is not None else _make_pool(workers or max(4, (os.cpu_count() or 2) * 4))
        self.log_buffer = LogBuffer()
        if hasattr(self.pool, "bind"):
            self.pool.bind(self)  # a remote pool needs the storage URL, secrets and log buffer
        self.flow_dirs: dict[tuple[str, str], Path] = {}
        self._flow_cache: dict[tuple[str, str, int], tuple[str, Flow]] = {}
        self._finished: OrderedDict[str, EndSummary] = OrderedDict()  # guarded by _ended_lock
        self._finished_runs = 0
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, TimerFired]] = []
        self._timer_seq = 0
        self._states: dict[str, ExecutionState] = {}
        self._executors: dict[tuple[str, str, int], Executor] = {}
        self._persisted: set[str] = set()
        self._ended: dict[str, threading.Event] = {}
        self._ended_lock = threading.Lock()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []  # called with the summary of each ended execution
        #: The server's public URL (links to execution pages in notifications); the server sets it, else LANNER_URL.
        self.public_url: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lanner-executor", daemon=True)
        self.cluster = Cluster(self, self.store, node_id)  # several runners on one database: see there
        self._thread.start()
        if recover:
            for ex_id in self.cluster.claim_unfinished(steal=self.store.is_sqlite):
                self.post(Recover(ex_id))
        self.cluster.start(recover=recover)

    # --- public API --------------------------------------------------------------------------------

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, event: Event) -> None:
        """Hand an event to the loop thread, the only writer of execution state (any thread may call it)."""
        self._events.put(event)

    def close(self, *, kill: bool = True) -> None:
        if self._stop.is_set():
            return
        self.cluster.stop()
        self.pool.shutdown(kill=kill)
        if "_local_pool" in self.__dict__:
            self.__dict__["_local_pool"].shutdown(kill=kill)
        self._stop.set()
        self.post(Wake())
        self._thread.join(timeout=10)
        try:
            self.cluster.release()  # others take over what is unfinished at once
        except Exception:  # noqa: BLE001 - database gone: the leases expire instead
            pass
        self.store.close()

    def deploy(self, source: str, *, path: Path | None = None) -> Flow:
        """Validate flow YAML and store it as a new revision (unchanged source keeps its revision)."""
        flow = load_flow(source, upstream=self._deployed_flow)
        revision, _ = self.store.save_flow(flow.namespace, flow.id, source)
        flow.revision = revision
        if path is not None:
            self.flow_dirs[(flow.namespace, flow.id)] = Path(path).resolve().parent
        return flow

    def _deployed_flow(self, namespace: str, flow_id: str) -> Flow | None:
        """The latest revision of a deployed flow, or None (what a Flow trigger's inputs are checked against)."""
        try:
            return self.get_flow(namespace, flow_id)
        except (FlowNotFound, ValueError):
            return None

    def deploy_dir(self, directory: Path) -> list[Flow]:
        out = []
        for p in sorted(list(Path(directory).glob("**/*.yaml")) + list(Path(directory).glob("**/*.yml"))):
            out.append(self.deploy(p.read_text(), path=p))
        return out

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        rec = self.store.get_flow(namespace, flow_id, revision)
        if rec is None:
            raise FlowNotFound(f"flow {namespace}.{flow_id}" + (f" revision {revision}" if revision else "") + " does not exist")
        # A stored revision never changes, so it is parsed and validated once
        # (that was most of the cost of starting an execution). Callers must
        # treat the returned Flow as read-only.
        key = (rec.namespace, rec.id, rec.revision)
        cached = self._flow_cache.get(key)
        if cached is not None and cached[0] == rec.source:
            return cached[1]
        flow = load_flow(rec.source)
        flow.revision = rec.revision
        if len(self._flow_cache) >= 1024:
            self._flow_cache.clear()
        self._flow_cache[key] = (rec.source, flow)
        return flow

    def start_execution(
        self,
        namespace: str,
        flow_id: str,
        inputs: dict[str, Any] | None = None,
        *,
        labels: dict[str, str] | None = None,
        revision: int | None = None,
        trigger: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
        wait_persisted: bool = True,
        execution_id: str | None = None,
        pinned: tuple[list[TaskRun], str, str] | None = None,
    ) -> str:
        """Coerce inputs (raising InputErrors before anything is stored) and start an execution.

        ``pinned``: (task runs of an earlier execution, its id, the task to leave out): their finished
        runs are copied into the new execution first, so its tasks read those outputs (Test this task).
        """
        flow = self.get_flow(namespace, flow_id, revision)
        if flow.disabled:
            raise ValueError(f"flow {namespace}.{flow_id} is disabled")
        ex_id = execution_id or new_id()
        default_ctx = {"flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision}, "execution": {"id": ex_id}}
        render_default = self._renderer(namespace)
        values = coerce_inputs(
            flow.inputs or [],
            inputs or {},
            store_file=self._file_input_store(flow, ex_id),
            render=lambda text: render_default(text, default_ctx),
        )
        ex = Execution(
            id=ex_id,
            namespace=namespace,
            flow_id=flow_id,
            flow_revision=flow.revision or 1,
            state=State.CREATED,
            inputs=values,
            labels=with_correlation_id({**flow.label_map(), **(labels or {})}, ex_id),
            trigger=trigger,
            parent=parent,
            start_date=now_iso(),
        )
        with self._ended_lock:
            self._ended[ex_id] = threading.Event()
        if pinned is not None:
            from engine.runtime.restart import build_pinned

            ex.state = State.RUNNING  # like a replay: the executor goes on from the copied runs
            persisted = threading.Event()
            self.post(StartReplay(ex, tuple(build_pinned(pinned[0], ex_id, pinned[2], pinned[1])), persisted))
            persisted.wait(30)
            return ex_id
        done = threading.Event() if wait_persisted else None
        self.post(StartExecution(ex, done))
        if done is not None:
            done.wait(30)
        return ex_id

    def run(self, source: str, inputs: dict[str, Any] | None = None, *, timeout: float | None = None, path: Path | None = None) -> dict[str, Any]:
        """Deploy and run a flow, wait for the end, return its summary."""
        flow = self.deploy(source, path=path)
        ex_id = self.start_execution(flow.namespace, flow.id, inputs)
        return self.wait(ex_id, timeout=timeout)

    def wait(self, execution_id: str, timeout: float | None = None) -> dict[str, Any]:
        with self._ended_lock:
            ev = self._ended.get(execution_id)
            final = self._finished.get(execution_id) if ev is None else None
        if final is not None:
            return final.get()
        if ev is not None:
            if ev.wait(timeout):
                # The summary of the state at the end, after its commit: no read of the store.
                ended: EndSummary | None = getattr(ev, "summary", None)
                if ended is not None:
                    return ended.get()
        else:
            self._poll_store_until_ended(execution_id, timeout)
        summary = self.summary(execution_id)
        if summary is None:
            raise KeyError(f"execution {execution_id} does not exist")
        return summary

    def wait_ended(self, execution_id: str, timeout: float) -> bool:
        """Whether the execution has ended, waiting up to ``timeout`` seconds; reads no summary.

        A live view polls the logs and the summary itself and waits in between: ``wait``
        would read and build the whole summary at every timeout only to have it thrown away
        (a third of the view's cost in a 1,000-task run). KeyError when it does not exist.
        """
        with self._ended_lock:
            ev = self._ended.get(execution_id)
            final = self._finished.get(execution_id) if ev is None else None
        if final is not None:
            return True
        if ev is not None:
            return ev.wait(timeout)
        ended = self._poll_store_until_ended(execution_id, timeout)
        if ended is None:
            raise KeyError(f"execution {execution_id} does not exist")
        return ended

    def _poll_store_until_ended(self, execution_id: str, timeout: float | None) -> bool | None:
        """An execution this runner does not wait on (another process runs it): poll its state in the store.

        True once it ended, False when ``timeout`` passed first, None when it does not exist.
        """
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while True:
            ex = self.store.get_execution(execution_id)
            if ex is None:
                return None
            if ex.state.terminal:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.05, left))

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        return self.store.summary(execution_id)

    def logs(self, execution_id: str, *, after_id: int = 0, task_id: str | None = None, min_level: str | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:
        """Stored log lines of an execution, oldest first."""
        self.sync()
        return self.store.get_logs(execution_id, after_id=after_id, task_id=task_id, min_level=min_level, limit=limit)

    def kill(self, execution_id: str) -> None:
        self.post(Kill(execution_id))

    def resume(self, execution_id: str, inputs: dict[str, Any] | None = None, task_run_id: str | None = None) -> None:
        self.post(Resume(execution_id, task_run_id, inputs))

    def restart(self, execution_id: str) -> None:
        """Re-run a FAILED/KILLED execution from its failed task runs (see ``Executor.restart``)."""
        self.cluster.take_over(execution_id)
        self.post(Restart(execution_id))

    def change_task_run_state(self, execution_id: str, task_run_id: str, state: State) -> None:
        """Set an ended task run's state and go on from there (engine/runtime/restart.py)."""
        self.cluster.take_over(execution_id)
        self.post(ChangeTaskRunState(execution_id, task_run_id, state))

    def replay(self, execution_id: str, task_run_id: str | None = None) -> str:
        """Start a NEW execution that copies the task runs before ``task_run_id`` and runs from there.

        The copy is built here (engine.runtime.restart.build_replay, which raises
        ReplayError when it cannot be made) but written by the loop, in the same
        transaction as its first step, like any new execution. Returns the new id.
        """
        from engine.runtime.restart import build_replay

        loaded = self.store.load_execution(execution_id)
        if loaded is None:
            raise KeyError(f"execution {execution_id} does not exist")
        new_ex, copies = build_replay(*loaded, task_run_id)
        self.get_flow(new_ex.namespace, new_ex.flow_id, new_ex.flow_revision)  # its revision must still load
        with self._ended_lock:
            self._ended[new_ex.id] = threading.Event()
        done = threading.Event()
        self.post(StartReplay(new_ex, tuple(copies), done))
        done.wait(30)
        return new_ex.id

    def set_labels(self, execution_id: str, labels: dict[str, str]) -> None:
        """Replace the labels of an ended execution (written by the loop; returns once committed)."""
        done = threading.Event()
        self.post(SetLabels(execution_id, dict(labels), done))
        done.wait(30)

    @property
    def alive(self) -> bool:
        """The loop thread is running (what /health reports as the executor)."""
        return self._thread.is_alive()

    def sync(self, timeout: float = 10) -> None:
        """Wait until every event posted so far has been processed and committed."""
        done = threading.Event()
        self.post(Sync(done))
        done.wait(timeout)

    # --- what the cluster logic reads (engine/runtime/cluster.py); loop thread only ---------------

    def held_executions(self) -> list[str]:
        """Ids of the unfinished executions this runner holds in memory."""
        return list(self._states)

    def forget(self, execution_id: str) -> None:
        """Drop an execution another process has taken over."""
        self._states.pop(execution_id, None)
        self.secrets.forget_inputs(execution_id)

    def waiting_children(self) -> dict[str, tuple[str, str]]:
        """Child execution id -> (parent execution id, task run id) for every task run waiting on a child."""
        out: dict[str, tuple[str, str]] = {}
        for st in list(self._states.values()):
            try:
                executor = self._executor(st.execution)
            except Exception:  # noqa: BLE001 - flow revision gone: nothing to wait for
                continue
            for child_id, tr_id in executor.waiting_children(st):
                out[child_id] = (st.execution.id, tr_id)
        return out

    # --- the loop --------------------------------------------------------------------------------

    def _loop(self) -> None:
        self.log_buffer.drainer_ident = threading.get_ident()
        inline: list[Event] = []
        while not self._stop.is_set():
            batch: list[Event] = inline
            inline = []
            if not batch:
                wait = 0.1
                if self._timers:
                    wait = max(0.0, min(wait, self._timers[0][0] - time.monotonic()))
                try:
                    batch.append(self._events.get(timeout=wait))
                except queue.Empty:
                    pass
            while len(batch) < 5000:
                try:
                    batch.append(self._events.get_nowait())
                except queue.Empty:
                    break
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                batch.append(heapq.heappop(self._timers)[2])
            try:
                inline = self._process(batch)
            except Exception as exc:  # noqa: BLE001 - the loop must survive; the store is the truth
                import traceback

                traceback.print_exc()
                self.log_buffer.system_error(f"executor loop error: {exc}")
                time.sleep(0.05)

    def _process(self, batch: list[Event]) -> list[Event]:
        acts: list[tuple[ExecutionState, Step]] = []
        new_execs: list[Execution] = []
        copied_runs: list[TaskRun] = []  # task runs a replay copied: inserted with their execution
        syncs: list[threading.Event] = []
        for ev in batch:
            match ev:
                case Wake():
                    pass
                case Sync(done=done):
                    syncs.append(done)
                case LeaseTick():
                    self.cluster.on_tick(ev)
                case StartExecution(execution=ex, persisted=done):
                    st = ExecutionState(ex)
                    self._states[ex.id] = st
                    new_execs.append(ex)
                    if done is not None:
                        syncs.append(done)
                    self._mask_secret_inputs(ex)
                    acts.append((st, concurrency.admit(self._executor(ex), st, self._states.values())))
                case StartReplay(execution=ex, task_runs=runs, persisted=done):
                    st = ExecutionState(ex, list(runs))
                    self._states[ex.id] = st
                    new_execs.append(ex)
                    self._mask_secret_inputs(ex)
                    copied_runs.extend(runs)
                    syncs.append(done)
                    acts.append((st, self._executor(ex).recover(st)))
                case SetLabels(execution_id=ex_id, labels=labels, done=done):
                    found = self._state(ex_id)
                    if found is not None and found.execution.state.terminal:
                        st = found
                        st.execution.labels = labels
                        st.touch_execution()
                        acts.append((st, Step()))
                        with self._ended_lock:  # wait() then reads the new labels from the store
                            gone = self._finished.pop(st.execution.id, None)
                            self._finished_runs -= gone.task_runs if gone else 0
                    syncs.append(done)
                case _:
                    self._on_execution_event(ev, acts)
        self._run_light(acts)
        # Commit everything this batch changed, then act.
        new_runs: list[TaskRun] = list(copied_runs)
        copied = {tr.id for tr in copied_runs}
        upd_runs: list[TaskRun] = []
        upd_execs: list[Execution] = []
        seen: set[str] = set()
        for st, step in acts:
            for tr_id, task_id, level, msg in step.logs:
                self.log_buffer.add(st.execution.id, tr_id, task_id, None, level, self.secrets.mask(msg))
            if st.execution.id in seen:
                continue
            seen.add(st.execution.id)
            n, u, changed = st.take_changes()
            new_runs.extend(n)
            upd_runs.extend(tr for tr in u if tr.id not in copied)  # a copy's insert already carries its changes
            if changed and st.execution.id in self._persisted:
                upd_execs.append(st.execution)
        log_rows = self.log_buffer.drain()
        # A database restart pauses the loop here instead of dropping the batch (engine/store/retry.py).
        retry_transient(
            lambda: self.store.write_batch(
                new_executions=new_execs,
                updated_executions=upd_execs,
                new_runs=new_runs,
                updated_runs=upd_runs,
                log_rows=log_rows,
            ),
            stop=self._stop,
        )
        self._persisted.update(e.id for e in new_execs)
        for done_event in syncs:
            done_event.set()
        inline: list[Event] = []
        for st, step in acts:
            # Most steps of a chain of light tasks were all done before the commit: nothing to act on.
            if step.dispatch or step.children or step.ended or step.timers or step.kill or step.kill_children:
                inline.extend(self._act(st, step))
        return inline

    def _on_execution_event(self, ev: ExecutionEvent, acts: list[tuple[ExecutionState, Step]]) -> None:
        """Apply an event about one execution; its step joins the batch's ``acts``."""
        st = self._state(ev.execution_id)
        if st is None:
            if isinstance(ev, Kill | Resume):
                self.cluster.forward(ev)  # another runner process holds it: it takes the command on its heartbeat
            return
        executor = self._executor(st.execution)
        match ev:
            case AttemptStarted(task_run_id=tr_id, attempt=attempt, start_date=start_date):
                executor.on_started(st, tr_id, attempt, start_date)
                acts.append((st, Step()))
            case AttemptEnded(task_run_id=tr_id, attempt=attempt, outcome=outcome):
                acts.append((st, executor.on_result(st, tr_id, attempt, outcome)))
            case TimerFired(kind=kind, task_run_id=tr_id):
                acts.append((st, executor.on_timer(st, kind, tr_id)))
            case Kill():
                acts.append((st, executor.kill(st)))
            case Resume(task_run_id=tr_id, inputs=inputs):
                acts.append((st, executor.resume(st, tr_id, inputs)))
            case ChildEnded(task_run_id=tr_id, child=child):
                acts.append((st, executor.on_child_end(st, tr_id, child)))
            case ChildFailedToStart(task_run_id=tr_id, message=message):
                acts.append((st, executor.on_child_error(st, tr_id, message)))
            case Recover() | Dequeue() if st.execution.state == State.QUEUED:
                acts.append((st, concurrency.admit(executor, st, self._states.values())))
            case Recover():
                acts.append((st, executor.recover(st)))
            case Dequeue():
                pass  # no longer queued (killed meanwhile)
            case Restart():
                acts.append((st, executor.restart(st)))
                self._continue_restart(st)
            case ChangeTaskRunState(task_run_id=tr_id, state=state):
                acts.append((st, self._change_task_run_state(st, tr_id, state)))
                self._continue_restart(st)
            case ContinueRestart():
                acts.append((st, executor.continue_restart(st)))

    def _continue_restart(self, st: ExecutionState) -> None:
        """After phase 1 of a restart (or a change of state): hold the execution, post phase 2."""
        if st.execution.state == State.RESTARTED:
            self._states[st.execution.id] = st
            self._mask_secret_inputs(st.execution)
            with self._ended_lock:
                self._ended.setdefault(st.execution.id, threading.Event())
            self.post(ContinueRestart(st.execution.id))

    @staticmethod
    def _change_task_run_state(st: ExecutionState, task_run_id: str, state: State) -> Step:
        from engine.runtime.restart import ReplayError, change_task_run_state

        step = Step()
        if not st.execution.state.terminal or st.execution.state == State.KILLED:
            return step  # it moved on since the request was checked
        try:
            message = change_task_run_state(st, task_run_id, state)
            step.logs.append((task_run_id, st.task_runs[task_run_id].task_id, "INFO", message))
        except ReplayError as exc:
            step.logs.append((None, None, "WARN", f"change of state refused: {exc}"))
        return step

    def _run_light(self, acts: list[tuple[ExecutionState, Step]]) -> None:
        """Run the batch's light tasks (log, return, ...) before its commit.

        A light task has no effect outside this process: its state, outputs
        and log lines go into the same transaction as the step that created
        it, so nothing is observable before it is durably stored, and a crash
        loses the batch as if the tasks had not started. This group commit
        makes a chain of light tasks cost one transaction instead of one per
        task. Bounded in time so a long chain still commits regularly; what is
        left runs after the commit as before.
        """
        deadline = time.monotonic() + LIGHT_BATCH_SECONDS
        i = 0
        while i < len(acts):
            st, step = acts[i]
            i += 1
            if not step.dispatch:
                continue
            executor = self._executor(st.execution)
            light = executor.index.light
            later: list[TaskRun] = []
            for tr in step.dispatch:
                if tr.task_id not in light or time.monotonic() > deadline:
                    later.append(tr)
                    continue
                task = executor.index.tasks[tr.task_id]
                assert isinstance(task, RunnableTask)
                attempt = len(tr.attempts) - 1
                outcome = run_attempt_or_fail(self._job(st, executor, task, tr))
                acts.append((st, executor.on_result(st, tr.id, attempt, outcome)))
            step.dispatch = later

    def _state(self, execution_id: str) -> ExecutionState | None:
        st = self._states.get(execution_id)
        if st is not None:
            return st
        loaded = self.store.load_execution(execution_id)
        if loaded is None:
            return None
        ex, runs = loaded
        if not ex.state.terminal and not self.cluster.owns(ex.id):
            return None  # another runner process holds its lease (engine/runtime/cluster.py)
        st = ExecutionState(ex, runs)
        self._persisted.add(ex.id)
        if not ex.state.terminal:
            self._states[ex.id] = st
            self._mask_secret_inputs(ex)  # recovered after a restart, or taken over from another process
            with self._ended_lock:
                self._ended.setdefault(ex.id, threading.Event())
        return st

    def _mask_secret_inputs(self, ex: Execution) -> None:
        """Mask the values of the execution's SECRET inputs in its logs and outputs while it runs."""
        try:
            values = mask_secrets(self._executor(ex).flow.inputs or [], ex.inputs)
        except (FlowNotFound, ValueError):
            return  # its revision no longer loads: the execution fails on its next step anyway
        if values:
            self.secrets.remember_inputs(ex.id, values)

    def _executor(self, ex: Execution) -> Executor:
        key = (ex.namespace, ex.flow_id, ex.flow_revision)
        executor = self._executors.get(key)
        if executor is None:
            flow = self.get_flow(ex.namespace, ex.flow_id, ex.flow_revision)
            render = self._renderer(ex.namespace)
            # A partial of the class itself (what task_context returns), not a closure: called for every
            # task run, two Python frames less each.
            context = functools.partial(TaskVariables, flow, render=render)  # (st, task, parent, value, tr)
            executor = Executor(flow, render, context, mask=self.secrets.mask_data)
            self._executors[key] = executor
        return executor

    def renderer_for(self, namespace: str) -> Callable[[Any, Any], Any]:
        """Renders values with the functions of ``namespace`` (polling triggers render their properties)."""
        return self._renderer(namespace)

    def _renderer(self, namespace: str) -> Callable[[Any, Any], Any]:
        from engine.runtime.expression_functions import runtime_functions

        kv_read: Callable[..., Any] | None = None

        def kv(*args: object, **kwargs: object) -> Any:
            # Bound on first call: the kv store (and SQLAlchemy) loads only for a flow that reads a key.
            nonlocal kv_read
            if kv_read is None:
                from engine.store.kv import kv_function

                kv_read = kv_function(self.store, namespace)
            return kv_read(*args, **kwargs)

        def error_logs(execution_id: str) -> list[dict[str, Any]]:
            # Lines of a just-failed task may still wait in the buffer for the loop's next commit.
            return self.store.get_logs(execution_id, min_level="ERROR") + self.log_buffer.pending(execution_id, "ERROR")

        def task_runs(execution_id: str) -> list[TaskRun]:
            st = self._states.get(execution_id)
            return list(st.task_runs.values()) if st is not None else []

        functions = runtime_functions(
            namespace,
            secret=self.secrets.function(namespace),
            storage=self.storage,
            kv=kv,
            error_logs=error_logs,
            task_runs=task_runs,
        )

        # Read once per runner: looking the limits up in the environment on every render cost more than
        # rendering a short template.
        limits = expressions.Limits.from_env()
        return expressions.renderer(functions=functions, limits=limits)  # (value, ctx)

    # --- acting on a committed step --------------------------------------------------------------

    def _act(self, st: ExecutionState, step: Step) -> list[Event]:
        inline: list[Event] = []
        if not (step.dispatch or step.children or step.ended or step.timers or step.kill or step.kill_children):
            return inline  # most steps of a chain of light tasks: all done before the commit
        ex = st.execution
        executor = self._executor(ex)
        for tr_id in step.kill:
            if not self.pool.kill(tr_id) and "_local_pool" in self.__dict__:
                self.__dict__["_local_pool"].kill(tr_id)
        for child_id in step.kill_children:
            self.post(Kill(child_id))
        for delay, kind, tr_id in step.timers:
            self._timer_seq += 1
            heapq.heappush(self._timers, (time.monotonic() + delay, self._timer_seq, TimerFired(ex.id, kind, tr_id)))
        for tr in step.dispatch:
            task = executor.runnable(tr)  # a runnable task, or a flowable's worker step (WorkingDirectory files)
            job = self._job(st, executor, task, tr)
            attempt = len(tr.attempts) - 1
            if tr.task_id in executor.index.light:
                outcome = run_attempt_or_fail(job)
                inline.append(AttemptEnded(ex.id, tr.id, attempt, outcome))
            else:
                self._pool_for(task).submit(
                    job,
                    on_started=lambda d, e=ex.id, t=tr.id, a=attempt: self.post(AttemptStarted(e, t, a, d)),
                    on_done=lambda o, e=ex.id, t=tr.id, a=attempt: self.post(AttemptEnded(e, t, a, o)),
                )
        for child in step.children:
            self._start_child(st, child)
        if step.retry_execution is not None:
            self._start_retry_execution(st.execution, *step.retry_execution)
        if step.ended:
            self._on_end(st)
        return inline

    def _start_retry_execution(self, ex: Execution, delay: float, new_execution_id: str) -> None:
        """A CREATE_NEW_EXECUTION retry: the next execution of the flow, started after ``delay`` seconds."""
        from engine.runtime.restart import build_retry

        new = build_retry(ex, new_execution_id, delay)
        with self._ended_lock:
            self._ended[new.id] = threading.Event()
        self.post(StartExecution(new, None))

    def _job(self, st: ExecutionState, executor: Executor, task: Any, tr: TaskRun) -> Job:
        ex = st.execution
        parent = st.task_runs.get(tr.parent_task_run_id) if tr.parent_task_run_id else None
        attempt = len(tr.attempts) - 1
        sink = self.log_buffer.sink(ex.id, tr.id, tr.task_id, attempt)
        variables = executor.context(st, task, parent, tr.value, tr)
        if tr.task_id not in executor.index.light:
            # Made now, in the loop thread, as a plain dict: the attempt runs on another thread (or
            # machine) while this thread changes the execution (a light task's entries are made when
            # read, in this thread, see TaskVariables).
            variables = dict(variables)
        storage = self.storage
        ctx = RunContext(  # every argument in its order: matching keywords cost a third of making one
            ex.id, ex.namespace, ex.flow_id, tr.task_id, tr.id, attempt, variables,
            TaskLogger(sink, task.log_level or "TRACE", self.secrets.mask),
            None,  # kill_event: made on first use
            None,  # kill_reason
            None,  # timeout: set by the worker
            self._working_dir(st, executor, tr) if executor.index.shares_working_directory else None,
            self.flow_dirs.get((ex.namespace, ex.flow_id)),
            self.home,
            executor.render,
            # put_file(path, name): the file goes to the task run's folder of internal storage.
            None if storage is None else functools.partial(
                storage.put_task_file, ex.namespace, ex.flow_id, ex.id, tr.task_id, tr.id
            ),
            self.secrets.values(),
            None if storage is None else {"storage": storage},
            self.secrets.get,
            self._task_services().for_execution(ex.id) if task.uses_services else None,
        )
        return Job(ex.id, tr.id, attempt, task, ctx)

    def _pool_for(self, task: RunnableTask) -> Any:
        """Where an attempt runs: the pool, except that a task using the store's services runs on this
        process's threads when the pool is remote (its workers may not reach the database)."""
        if not task.uses_services or isinstance(self.pool, ThreadWorkerPool):
            return self.pool
        local = self.__dict__.get("_local_pool")
        if local is None:
            local = self.__dict__["_local_pool"] = ThreadWorkerPool(4)
        return local

    def _task_services(self) -> Any:
        """The kv store, execution history and trigger control tasks may use (made on first use)."""
        services = self.__dict__.get("_services")
        if services is None:
            from engine.runtime.task_services import RunnerServices

            services = self.__dict__["_services"] = RunnerServices(self)
        return services

    def _working_dir(self, st: ExecutionState, executor: Executor, tr: TaskRun) -> Path | None:
        sharing = executor.index.shares_working_directory
        if not sharing:
            return None
        cur: TaskRun | None = tr  # a WorkingDirectory's own worker steps use its directory too
        while cur is not None:
            if cur.task_id in sharing:
                path = self.home / "workdirs" / st.execution.id / cur.id
                path.mkdir(parents=True, exist_ok=True)
                return path
            cur = st.task_runs.get(cur.parent_task_run_id) if cur.parent_task_run_id else None
        return None

    def _start_child(self, st: ExecutionState, child: ChildExecution) -> None:
        """Start the child execution a flowable task asked for (a subflow) and tell its task run."""
        ex = st.execution
        tr = st.task_runs[child.task_run_id]
        parent: dict[str, Any] = {"executionId": ex.id, "taskRunId": tr.id, "taskId": tr.task_id, "namespace": ex.namespace, "flowId": ex.flow_id}
        if tr.value is not None:
            parent["value"] = tr.value
        if child.iteration is not None:
            parent["iteration"] = child.iteration
        if child.again and child.execution_id and self._child_exists(st, tr, child.execution_id):
            return  # asked again after a restart: it was started before
        try:
            child_id = self.start_execution(
                child.namespace,
                child.flow_id,
                child.inputs,
                labels=child.labels,
                revision=child.revision,
                trigger=child.trigger,
                parent=parent,
                wait_persisted=False,
                execution_id=child.execution_id,
            )
        except Exception as exc:  # noqa: BLE001 - unknown flow, bad inputs: the task fails with the reason
            self.post(ChildFailedToStart(ex.id, tr.id, f"{tr.task_id}: {exc}"))
            return
        if child.iteration is None:  # a task run's only child: its id is the task run's output (Subflow)
            tr.outputs = {"executionId": child_id}
            st.touch(tr)
        if not child.wait:
            self.post(ChildEnded(ex.id, tr.id, {"id": child_id, "state": "SUCCESS", "outputs": {}, "parent": parent}))

    def _child_exists(self, st: ExecutionState, tr: TaskRun, execution_id: str) -> bool:
        """Whether a child execution with this id was already started; an ended one is reported again."""
        if execution_id in self._states:
            return True
        summary = self.store.summary(execution_id)
        if summary is None:
            return False
        if is_terminal(summary.get("state")):
            self.post(ChildEnded(st.execution.id, tr.id, summary))
        return True

    def _on_end(self, st: ExecutionState) -> None:
        ex = st.execution
        self._states.pop(ex.id, None)
        self.secrets.forget_inputs(ex.id)  # what it logged and output is stored masked already
        ended = EndSummary(st)  # made on first use: mostly by wait(), on the waiting thread
        if ex.parent and ex.parent.get("executionId") and ex.state != State.RETRIED:  # its retry will answer
            self.post(ChildEnded(ex.parent["executionId"], ex.parent["taskRunId"], ended.get()))
        with self._ended_lock:
            ev = self._ended.pop(ex.id, None)
            self._remember_finished(ex.id, ended)
        if ev is not None:
            # Logs printed just before the end must be stored before waiters read them.
            self.post(Wake())
            ev.summary = ended  # type: ignore[attr-defined]  # read by wait()
            ev.set()
        if ex.flow_id and (limit := self._executor(ex).flow.concurrency) is not None:
            for queued_id in concurrency.to_dequeue(self._states.values(), ex.namespace, ex.flow_id, limit.limit):
                self.post(Dequeue(queued_id))
        for listener in list(self.listeners):
            try:
                listener(ended.get())
            except Exception:  # noqa: BLE001 - a listener bug must not stop the engine
                pass

    def _remember_finished(self, execution_id: str, summary: EndSummary) -> None:
        """Keep recent end summaries so wait() after the end needs no store read (bounded by task runs)."""
        self._finished[execution_id] = summary
        self._finished_runs += summary.task_runs
        while self._finished and (len(self._finished) > FINISHED_KEPT or self._finished_runs > FINISHED_RUNS_KEPT):
            _, old = self._finished.popitem(last=False)
            self._finished_runs -= old.task_runs

    def _file_input_store(self, flow: Flow, execution_id: str) -> Callable[[str, Path], str] | None:
        if self.storage is None or not hasattr(self.storage, "put_input_file"):
            return None
        return lambda input_id, path: self.storage.put_input_file(flow.namespace, flow.id, execution_id, input_id, Path(path))


def _make_pool(size: int) -> Any:
    address = os.environ.get("LANNER_DASK_ADDRESS")
    if address:
        from engine.runtime.dask_pool import DaskWorkerPool

        return DaskWorkerPool(address)
    return ThreadWorkerPool(size)


def _make_storage(home: Path) -> Any:
    try:
        from engine.storage import InternalStorage
    except ImportError:
        return None
    return InternalStorage(os.environ.get("LANNER_STORAGE", str(home / "storage")))
