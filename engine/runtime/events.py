"""The events of the runner loop: everything that can change an execution goes through one of these.

Front ends, workers, timers and the cluster heartbeat never touch execution
state: they :meth:`post <engine.runtime.local.LocalRunner.post>` an event and
the loop thread, the only writer, applies it. Events are frozen dataclasses so
a handler cannot change what another one will see, and the loop dispatches on
their type with ``match``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from engine.model.execution import Execution, TaskRun
from engine.model.state import State
from engine.runtime.executor import WorkerOutcome


@dataclass(frozen=True, slots=True)
class StartExecution:
    """A new execution to store and start (``persisted`` is set once its first commit is done)."""

    execution: Execution
    persisted: threading.Event | None = None


@dataclass(frozen=True, slots=True)
class AttemptStarted:
    """A worker began running an attempt."""

    execution_id: str
    task_run_id: str
    attempt: int
    start_date: str


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    """A worker reports the outcome of an attempt."""

    execution_id: str
    task_run_id: str
    attempt: int
    outcome: WorkerOutcome


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer the executor asked for (a retry delay, a pause's duration or timeout) has run out."""

    execution_id: str
    kind: str
    task_run_id: str


@dataclass(frozen=True, slots=True)
class Kill:
    execution_id: str


@dataclass(frozen=True, slots=True)
class Resume:
    """Resume a paused execution (one paused task run when ``task_run_id`` is set)."""

    execution_id: str
    task_run_id: str | None = None
    inputs: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ChildEnded:
    """A child execution (started by a task run of ``execution_id``) has ended with this summary."""

    execution_id: str
    task_run_id: str
    child: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChildFailedToStart:
    """A child execution could not be started; the task run fails with ``message``."""

    execution_id: str
    task_run_id: str
    message: str


@dataclass(frozen=True, slots=True)
class Recover:
    """Continue an unfinished execution loaded from the store (after a restart, a claim, a replay)."""

    execution_id: str


@dataclass(frozen=True, slots=True)
class Dequeue:
    """A slot of the flow's concurrency limit is free: start this queued execution."""

    execution_id: str


@dataclass(frozen=True, slots=True)
class Restart:
    """Phase 1 of a restart: reset the failed task runs (engine/runtime/restart.py)."""

    execution_id: str


@dataclass(frozen=True, slots=True)
class ChangeTaskRunState:
    """Phase 1 of a task run's change of state by a user (engine/runtime/restart.py); phase 2 is ContinueRestart."""

    execution_id: str
    task_run_id: str
    state: State


@dataclass(frozen=True, slots=True)
class ContinueRestart:
    """Phase 2 of a restart, after phase 1 was committed: dispatch the new attempts."""

    execution_id: str


@dataclass(frozen=True, slots=True)
class StartReplay:
    """Insert a replay (a new execution with the task runs it copied) and let the executor go on from there."""

    execution: Execution
    task_runs: tuple[TaskRun, ...]
    persisted: threading.Event


@dataclass(frozen=True, slots=True)
class SetLabels:
    """Replace the labels of an ended execution; ``done`` is set once they are committed."""

    execution_id: str
    labels: dict[str, str]
    done: threading.Event


@dataclass(frozen=True, slots=True)
class LeaseTick:
    """The cluster heartbeat ran (engine/runtime/cluster.py): act on it in the loop thread."""

    owned: frozenset[str]
    commands: tuple[Kill | Resume, ...] = ()


@dataclass(frozen=True, slots=True)
class Sync:
    """Set ``done`` once every event posted before this one has been processed and committed."""

    done: threading.Event


@dataclass(frozen=True, slots=True)
class Wake:
    """Nothing to do: wakes the loop up (to stop, or to commit what is pending)."""


#: Events that act on one execution, by its id.
ExecutionEvent = (
    AttemptStarted | AttemptEnded | TimerFired | Kill | Resume | ChildEnded | ChildFailedToStart
    | Recover | Dequeue | Restart | ChangeTaskRunState | ContinueRestart
)
Event = StartExecution | StartReplay | SetLabels | ExecutionEvent | LeaseTick | Sync | Wake
