"""The worker: runs one attempt of one runnable task and reports the outcome.

It never writes the store. It receives a :class:`Job`, runs the task with a
:class:`RunContext`, enforces the timeout through the context's kill event,
and hands back a :class:`WorkerOutcome` through a callback. That is what lets
the same code run in a thread, a subprocess or a Dask worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from engine.expressions import ExpressionError
from engine.model.durations import format_duration
from engine.model.ids import now_iso
from engine.model.plain import Plain
from engine.model.state import State
from engine.model.task import RunnableTask, TaskFailed, TaskResult
from engine.runtime.attempt_options import cached_result, keep_result, log_to_file
from engine.runtime.context import RunContext
from engine.runtime.executor import WorkerOutcome
from engine.runtime.secrets import mask_data, mask_text

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

#: State by name, for the state a task's result gives.
_STATES: dict[str, State] = {s.value: s for s in State}


class Job(Plain):
    """One attempt to run: what a worker pool is handed (pickled to a remote worker through ``__init__``)."""

    __slots__ = ("execution_id", "task_run_id", "attempt", "task", "ctx")
    execution_id: str
    task_run_id: str
    attempt: int
    task: RunnableTask
    ctx: RunContext

    def __init__(self, execution_id: str, task_run_id: str, attempt: int, task: RunnableTask, ctx: RunContext) -> None:
        self.execution_id = execution_id
        self.task_run_id = task_run_id
        self.attempt = attempt
        self.task = task
        self.ctx = ctx


def run_attempt(job: Job, on_started: Callable[[str], None] | None = None) -> WorkerOutcome:
    """Run one attempt synchronously; never raises."""
    ctx = job.ctx
    task = job.task
    start = now_iso()
    if on_started is not None:
        on_started(start)
    timer: threading.Timer | None = None
    timeout = None
    if task.timeout is not None:  # most tasks have none: no try block, no call
        try:
            timeout = task.timeout_after(ctx.render)
        except Exception as exc:  # noqa: BLE001 - a bad timeout expression fails the attempt with its reason
            return WorkerOutcome(State.FAILED, None, str(exc), start, now_iso())
    if timeout is not None:
        ctx.timeout = timeout.total_seconds()

        def _expire() -> None:
            if not ctx.kill_event.is_set():
                ctx.kill_reason.append("timeout")
                ctx.kill_event.set()

        timer = threading.Timer(ctx.timeout, _expire)
        timer.daemon = True
        timer.start()
    log_file: list[str] = []
    try:
        if task.log_to_file:
            with log_to_file(task, ctx) as log_file:
                outcome = _run_task(task, ctx, start)
        else:  # most attempts: no context manager to enter and leave (a few µs for a light task)
            outcome = _run_task(task, ctx, start)
    except TaskFailed as exc:
        state, message = State.FAILED, exc.message
        if ctx.killed:
            if ctx.kill_reason[:1] == ["timeout"]:
                message = _timeout_message(ctx)
            else:
                state, message = State.KILLED, "Killed"
        outcome = WorkerOutcome(state, exc.outputs or None, message, start, now_iso())
    except ExpressionError as exc:
        outcome = WorkerOutcome(State.FAILED, None, str(exc), start, now_iso())
    except Exception as exc:  # noqa: BLE001 - a task bug must not take the worker down
        import traceback  # a task's own error: seldom, and not worth every start-up

        ctx.logger.debug("".join(traceback.format_exception(exc)))
        outcome = WorkerOutcome(State.FAILED, None, f"{type(exc).__name__}: {exc}", start, now_iso())
    finally:
        if timer is not None:
            timer.cancel()
    if log_file:
        outcome.log_file = log_file[0]
    if ctx.metrics:
        outcome.metrics = list(ctx.metrics)
    if ctx.secrets:
        if outcome.outputs:
            outcome.outputs = mask_data(outcome.outputs, ctx.secrets)
        if outcome.message:
            outcome.message = mask_text(outcome.message, ctx.secrets)
    return outcome


def _run_task(task: RunnableTask, ctx: RunContext, start: str) -> WorkerOutcome:
    """The attempt itself: the task cache's result, or the task's run."""
    if ctx.killed:
        raise TaskFailed("Killed before it started")
    if task.task_cache is not None:
        cached = cached_result(task, ctx)
        if cached is not None:
            return WorkerOutcome(cached[0], cached[1], None, start, now_iso())
    result = task.run(ctx)
    if not isinstance(result, TaskResult):
        result = TaskResult(result if isinstance(result, dict) else {})
    state = _STATES.get(result.state) or State(result.state)  # a dict hit; State() raises on a bad name
    outcome = WorkerOutcome(state, result.outputs, result.message, start, now_iso())
    if result.labels:
        outcome.labels = result.labels
    if result.exit_state:
        outcome.exit_state = _STATES.get(result.exit_state) or State(result.exit_state)
    if ctx.kill_reason and ctx.timed_out:  # kill_reason: empty unless killed or timed out (no property calls)
        outcome = WorkerOutcome(State.FAILED, result.outputs, _timeout_message(ctx), start, now_iso())
    if task.task_cache is not None:
        keep_result(task, ctx, outcome.state, outcome.outputs)
    return outcome


def worker_failed(job: Job, exc: BaseException) -> WorkerOutcome:
    """The FAILED outcome of an attempt whose worker raised instead of reporting (what a lost worker gets).

    ``run_attempt`` turns a task's errors into outcomes, but not what ``except
    Exception`` lets through (``SystemExit`` from a task calling ``sys.exit()``)
    nor a failure around the task itself; without an outcome the task run would
    stay RUNNING for ever. The attempt fails like one whose worker was lost, so
    the task's retries and the flow's errors branch run; the traceback goes to
    the task's log and to the server's.
    """
    import logging
    import traceback

    now = now_iso()
    message = f"the worker running this attempt failed: {type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    if job.ctx.secrets:
        message, trace = mask_text(message, job.ctx.secrets), mask_text(trace, job.ctx.secrets)
    logging.getLogger("lanner.worker").error("execution %s, task run %s: %s\n%s", job.execution_id, job.task_run_id, message, trace)
    try:
        job.ctx.logger.error(message)
        job.ctx.logger.debug(trace)
    except Exception:  # noqa: BLE001 - the task's logger may be what failed: the server's log has it
        pass
    return WorkerOutcome(State.FAILED, None, message, now, now)


def run_attempt_or_fail(job: Job, on_started: Callable[[str], None] | None = None) -> WorkerOutcome:
    """``run_attempt``, with whatever still escapes it ending the attempt (:func:`worker_failed`).

    For a worker thread, an escape would leave the task run RUNNING for ever; for a light task, run on the
    runner loop's own thread, it would stop the loop and every execution with it.
    """
    try:
        return run_attempt(job, on_started)
    except BaseException as exc:  # noqa: BLE001 - SystemExit from a task, a bug of ours: never a silent RUNNING
        return worker_failed(job, exc)


def _timeout_message(ctx: RunContext) -> str:
    return f"Timed out after {format_duration(timedelta(seconds=ctx.timeout))} (timeout)" if ctx.timeout else "Timed out"



class ThreadWorkerPool:
    """Runs attempts on a thread pool; scripts and notebooks start their own processes."""

    def __init__(self, size: int):
        self.size = size
        self._pool: ThreadPoolExecutor | None = None  # made on the first submit: a run of light tasks needs none
        self._shut = False
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, job: Job, on_started: Callable[[str], None], on_done: Callable[[WorkerOutcome], None]) -> None:
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot schedule new attempts after shutdown")
            pool = self._pool
            if pool is None:
                from concurrent.futures import ThreadPoolExecutor

                pool = self._pool = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="lanner-worker")
            self._jobs[job.task_run_id] = job

        def _run() -> None:
            try:
                outcome = run_attempt_or_fail(job, on_started)
            finally:
                with self._lock:
                    self._jobs.pop(job.task_run_id, None)
            on_done(outcome)

        pool.submit(_run)

    def kill(self, task_run_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(task_run_id)
        if job is None:
            return False
        job.ctx.kill_reason.append("killed")
        job.ctx.kill_event.set()
        return True

    def running(self) -> int:
        with self._lock:
            return len(self._jobs)

    def shutdown(self, *, kill: bool = False) -> None:
        if kill:
            with self._lock:
                jobs = list(self._jobs.values())
            for job in jobs:
                job.ctx.kill_reason.append("killed")
                job.ctx.kill_event.set()
        with self._lock:
            self._shut = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
