"""The events of the runner loop: everything that can change an execution goes through one of these.

Front ends, workers, timers and the cluster heartbeat never touch execution
state: they :meth:`post <engine.runtime.local.LocalRunner.post>` an event and
the loop thread, the only writer, applies it. Events are immutable so a handler
cannot change what another one will see, and the loop dispatches on their type
with ``match`` (keyword patterns).

They are plain slotted classes rather than frozen dataclasses: building a frozen
slotted dataclass generates and compiles half a dozen methods, ~0.7 ms a class,
and these eighteen were 12 ms of every cold ``lanner flow run`` (a twentieth of
it). :class:`_Event` gives them what the dataclass did: immutability, equality
by type and fields, a hash and a readable ``repr``.
"""

from __future__ import annotations

import threading
from typing import Any, dataclass_transform

from engine.model.execution import Execution, TaskRun
from engine.model.state import State
from engine.runtime.executor import WorkerOutcome

#: Sets a slot of an immutable event (its own ``__setattr__`` refuses), as a frozen dataclass's ``__init__`` does.
_set = object.__setattr__


@dataclass_transform(frozen_default=True)  # type checkers treat the events as frozen dataclasses: no assignment
class _Event:
    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:  # pickled through __init__ (setattr refuses)
        return type(self), self._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class StartExecution(_Event):
    """A new execution to store and start (``persisted`` is set once its first commit is done)."""

    __slots__ = ("execution", "persisted")
    execution: Execution
    persisted: threading.Event | None

    def __init__(self, execution: Execution, persisted: threading.Event | None = None) -> None:
        _set(self, "execution", execution)
        _set(self, "persisted", persisted)


class AttemptStarted(_Event):
    """A worker began running an attempt."""

    __slots__ = ("execution_id", "task_run_id", "attempt", "start_date")
    execution_id: str
    task_run_id: str
    attempt: int
    start_date: str

    def __init__(self, execution_id: str, task_run_id: str, attempt: int, start_date: str) -> None:
        _set(self, "execution_id", execution_id)
        _set(self, "task_run_id", task_run_id)
        _set(self, "attempt", attempt)
        _set(self, "start_date", start_date)


class AttemptEnded(_Event):
    """A worker reports the outcome of an attempt."""

    __slots__ = ("execution_id", "task_run_id", "attempt", "outcome")
    execution_id: str
    task_run_id: str
    attempt: int
    outcome: WorkerOutcome

    def __init__(self, execution_id: str, task_run_id: str, attempt: int, outcome: WorkerOutcome) -> None:
        _set(self, "execution_id", execution_id)
        _set(self, "task_run_id", task_run_id)
        _set(self, "attempt", attempt)
        _set(self, "outcome", outcome)


class TimerFired(_Event):
    """A timer the executor asked for (a retry delay, a pause's duration or timeout) has run out."""

    __slots__ = ("execution_id", "kind", "task_run_id")
    execution_id: str
    kind: str
    task_run_id: str

    def __init__(self, execution_id: str, kind: str, task_run_id: str) -> None:
        _set(self, "execution_id", execution_id)
        _set(self, "kind", kind)
        _set(self, "task_run_id", task_run_id)


class Kill(_Event):
    __slots__ = ("execution_id",)
    execution_id: str

    def __init__(self, execution_id: str) -> None:
        _set(self, "execution_id", execution_id)


class Resume(_Event):
    """Resume a paused execution (one paused task run when ``task_run_id`` is set)."""

    __slots__ = ("execution_id", "task_run_id", "inputs")
    execution_id: str
    task_run_id: str | None
    inputs: dict[str, Any] | None

    def __init__(self, execution_id: str, task_run_id: str | None = None, inputs: dict[str, Any] | None = None) -> None:
        _set(self, "execution_id", execution_id)
        _set(self, "task_run_id", task_run_id)
        _set(self, "inputs", inputs)


class ChildEnded(_Event):
    """A child execution (started by a task run of ``execution_id``) has ended with this summary."""

    __slots__ = ("execution_id", "task_run_id", "child")
    execution_id: str
    task_run_id: str
    child: dict[str, Any]

    def __init__(self, execution_id: str, task_run_id: str, child: dict[str, Any]) -> None:
        _set(self, "execution_id", execution_id)
        _set(self, "task_run_id", task_run_id)
        _set(self, "child", child)


class ChildFailedToStart(_Event):
    """A child execution could not be started; the task run fails with ``message``."""

    __slots__ = ("execution_id", "task_run_id", "message")
    execution_id: str
    task_run_id: str
    message: str

    def __init__(self, execution_id: str, task_run_id: str, message: str) -> None:
        _set(self, "execution_id", execution_id)
        _set(self, "task_run_id", task_run_id)
        _set(self, "message", message)


class Recover(_Event):
    """Continue an unfinished execution loaded from the store (after a restart, a claim, a replay)."""

    __slots__ = ("execution_id",)
    execution_id: str

    def __init__(self, execution_id: str) -> None:
        _set(self, "execution_id", execution_id)


class Dequeue(_Event):
    """A slot of the flow's concurrency limit is free: start this queued execution."""

    __slots__ = ("execution_id",)
    execution_id: str

    def __init__(self, execution_id: str) -> None:
        _set(self, "execution_id", execution_id)


class Restart(_Event):
    """Phase 1 of a restart: reset the failed task runs (engine/runtime/restart.py)."""

    __slots__ = ("execution_id",)
    execution_id: str

    def __init__(self, execution_id: str) -> None:
        _set(self, "execution_id", execution_id)


class ChangeTaskRunState(_Event):
    """Phase 1 of a task run's change of state by a user (engine/runtime/restart.py); phase 2 is ContinueRestart."""

    __slots__ = ("execution_id", "task_run_id", "state")
    execution_id: str
    task_run_id: str
    state: State

    def __init__(self, execution_id: str, task_run_id: str, state: State) -> None:
        _set(self, "execution_id", execution_id)
        _set(self, "task_run_id", task_run_id)
        _set(self, "state", state)


class ContinueRestart(_Event):
    """Phase 2 of a restart, after phase 1 was committed: dispatch the new attempts."""

    __slots__ = ("execution_id",)
    execution_id: str

    def __init__(self, execution_id: str) -> None:
        _set(self, "execution_id", execution_id)


class StartReplay(_Event):
    """Insert a replay (a new execution with the task runs it copied) and let the executor go on from there."""

    __slots__ = ("execution", "task_runs", "persisted")
    execution: Execution
    task_runs: tuple[TaskRun, ...]
    persisted: threading.Event

    def __init__(self, execution: Execution, task_runs: tuple[TaskRun, ...], persisted: threading.Event) -> None:
        _set(self, "execution", execution)
        _set(self, "task_runs", task_runs)
        _set(self, "persisted", persisted)


class SetLabels(_Event):
    """Replace the labels of an ended execution; ``done`` is set once they are committed."""

    __slots__ = ("execution_id", "labels", "done")
    execution_id: str
    labels: dict[str, str]
    done: threading.Event

    def __init__(self, execution_id: str, labels: dict[str, str], done: threading.Event) -> None:
        _set(self, "execution_id", execution_id)
        _set(self, "labels", labels)
        _set(self, "done", done)


class LeaseTick(_Event):
    """The cluster heartbeat ran (engine/runtime/cluster.py): act on it in the loop thread."""

    __slots__ = ("owned", "commands")
    owned: frozenset[str]
    commands: tuple[Kill | Resume, ...]

    def __init__(self, owned: frozenset[str], commands: tuple[Kill | Resume, ...] = ()) -> None:
        _set(self, "owned", owned)
        _set(self, "commands", commands)


class Sync(_Event):
    """Set ``done`` once every event posted before this one has been processed and committed."""

    __slots__ = ("done",)
    done: threading.Event

    def __init__(self, done: threading.Event) -> None:
        _set(self, "done", done)


class Wake(_Event):
    """Nothing to do: wakes the loop up (to stop, or to commit what is pending)."""

    __slots__ = ()


#: Events that act on one execution, by its id.
ExecutionEvent = (
    AttemptStarted | AttemptEnded | TimerFired | Kill | Resume | ChildEnded | ChildFailedToStart
    | Recover | Dequeue | Restart | ChangeTaskRunState | ContinueRestart
)
Event = StartExecution | StartReplay | SetLabels | ExecutionEvent | LeaseTick | Sync | Wake
