"""The thread pool runs attempts on threads it makes when first needed, and turns what escapes a task into a
failed attempt with the traceback in the task's log and the server's."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Literal

import pytest

from engine.model.state import State
from engine.runtime.context import RunContext, TaskLogger
from engine.runtime.executor import WorkerOutcome
from engine.runtime.worker import Job, ThreadWorkerPool
from engine.sdk import RunnableTask, TaskResult


class Exits(RunnableTask):
    """Calls sys.exit, which ``except Exception`` does not catch."""

    type: Literal["test.Exits"] = "test.Exits"

    def run(self, ctx: RunContext) -> TaskResult:
        raise SystemExit(3)


class Raises(RunnableTask):
    type: Literal["test.Raises"] = "test.Raises"

    def run(self, ctx: RunContext) -> TaskResult:
        raise ValueError("boom")


class Works(RunnableTask):
    type: Literal["test.Works"] = "test.Works"

    def run(self, ctx: RunContext) -> TaskResult:
        return TaskResult(outputs={"thread": threading.current_thread().name})


def _job(task: RunnableTask, lines: list[tuple[str, str]]) -> Job:
    ctx = RunContext("ex1", "company.team", "flow", task.id, f"tr-{task.id}", 0, {},
                     TaskLogger(lambda level, text: lines.append((level, text))))
    return Job("ex1", f"tr-{task.id}", 0, task, ctx)


def _run(pool: ThreadWorkerPool, job: Job) -> WorkerOutcome:
    done: queue.Queue[WorkerOutcome] = queue.Queue()
    pool.submit(job, lambda start: None, done.put)
    return done.get(timeout=30)


def _worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("lanner-worker")]


def test_threads_are_made_on_the_first_attempt_and_none_is_taken_after_shutdown() -> None:
    before = _worker_threads()
    pool = ThreadWorkerPool(2)
    assert _worker_threads() == before  # a run of light tasks never needs them
    outcome = _run(pool, _job(Works(id="w"), []))
    assert outcome.state is State.SUCCESS
    assert outcome.outputs is not None and outcome.outputs["thread"].startswith("lanner-worker")
    pool.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(_job(Works(id="late"), []), lambda start: None, lambda outcome: None)


def test_a_pool_shut_down_before_any_attempt_refuses_later_ones() -> None:
    pool = ThreadWorkerPool(2)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(_job(Works(id="late"), []), lambda start: None, lambda outcome: None)
    assert pool.running() == 0  # the refused attempt is not counted as running


def test_a_task_calling_sys_exit_fails_its_attempt_with_the_traceback_logged(caplog: Any) -> None:
    lines: list[tuple[str, str]] = []
    pool = ThreadWorkerPool(1)
    try:
        with caplog.at_level(logging.ERROR, logger="lanner.worker"):
            outcome = _run(pool, _job(Exits(id="exits"), lines))
    finally:
        pool.shutdown()
    assert outcome.state is State.FAILED
    assert outcome.message == "the worker running this attempt failed: SystemExit: 3"
    assert ("ERROR", outcome.message) in lines
    assert any(level == "DEBUG" and "Traceback" in text and "raise SystemExit(3)" in text for level, text in lines)
    assert any("tr-exits" in r.getMessage() and "SystemExit" in r.getMessage() for r in caplog.records)


def test_a_task_raising_fails_its_attempt_with_the_error_and_its_traceback_at_debug() -> None:
    lines: list[tuple[str, str]] = []
    pool = ThreadWorkerPool(1)
    try:
        outcome = _run(pool, _job(Raises(id="raises"), lines))
    finally:
        pool.shutdown()
    assert (outcome.state, outcome.message) == (State.FAILED, "ValueError: boom")
    assert any(level == "DEBUG" and 'raise ValueError("boom")' in text for level, text in lines)
