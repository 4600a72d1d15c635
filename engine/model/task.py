"""Task base classes.

A task is either *runnable* (a worker executes one attempt of it and reports a
result) or *flowable* (the executor resolves it into child task runs, see
``engine.model.flowable``). Concrete task types live in ``engine/tasks`` and
in plugins; the registry finds them through entry points (``lanner.tasks``).

The annotations here are real objects, not text (no ``from __future__ import
annotations``; a name defined later is quoted): pydantic compiles every text
annotation of a model into a ``ForwardRef``, and each task type re-reads the
fields of :class:`Task`, so a cold run compiled the same dozen strings once
per task type it loaded. The models of ``flow``, ``inputs``, ``retry``, ``trigger``,
``condition`` and ``views`` are written the same way.
"""

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field

from engine.model.base import LannerModel
from engine.model.durations import Duration, DynamicDuration, resolve_duration
from engine.model.polymorphic import ByType
from engine.model.retry import Retry
from engine.model.state import State

if TYPE_CHECKING:
    from engine.runtime.context import RunContext

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


class WorkerGroup(LannerModel):
    """Pins a task to workers that carry this key (Dask resources/restrictions)."""

    key: str = Field(description="Only workers carrying this key (a Dask worker resource) run the task.")


class TaskCache(LannerModel):
    """Kestra's ``taskCache``: reuse the outputs of an earlier successful run of the same task."""

    enabled: bool = Field(default=False, description="Look the task up in the cache before running it.")
    ttl: Duration | None = Field(default=None, description="How long a cached result is reused (ISO-8601, e.g. PT1H); unset: for ever.")


class Task(LannerModel):
    """Properties every task has, whatever its type."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", max_length=100, description="Unique id of the task in the flow.")
    type: str = Field(description="Task type: a short canonical name (`log`) or a Kestra name.")
    description: str | None = Field(default=None, description="Markdown description shown in the UI.")
    retry: Retry | None = Field(default=None, description="How to retry a failed attempt.")
    timeout: DynamicDuration | None = Field(
        default=None, description="ISO-8601 duration (or an expression giving one) after which the attempt is killed and FAILED."
    )
    disabled: bool = Field(default=False, description="A disabled task never runs and shows as SKIPPED.")
    allow_failure: bool = Field(default=False, description="A failure of this task ends the execution in WARNING instead of FAILED.")
    allow_warning: bool = Field(
        default=False, description="A WARNING of this task counts as SUCCESS (with allowFailure, so does a failure)."
    )
    log_to_file: bool = Field(
        default=False, description="Write the task's logs to a file in internal storage (the attempt's logFile) instead of the log store."
    )
    task_cache: TaskCache | None = Field(
        default=None, description="Reuse the outputs of an earlier successful run with the same inputs for `ttl`."
    )
    run_if: str | bool | None = Field(default=None, description="Expression; when it renders false the task is SKIPPED.")
    log_level: LogLevel | None = Field(default=None, description="Minimum level of the logs kept for this task.")
    worker_group: WorkerGroup | None = Field(default=None, description="Run only on workers of this group.")

    #: Properties rendered against another execution's variables (a Subflow's deprecated ``outputs``):
    #: validation checks that their expressions parse, not that ``outputs.X`` names a task of this flow.
    foreign_expressions: ClassVar[tuple[str, ...]] = ()

    # Filled by @register_task: what the registry, the builder palette and the docs show.
    kind: ClassVar[Literal["runnable", "flowable"]] = "runnable"
    canonical: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    group: ClassVar[str] = "Basics"
    title: ClassVar[str] = ""
    icon: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def tolerate(self, state: State) -> State:
        """The state this task ends in for an outcome: ``allowFailure`` turns a failure into WARNING,
        ``allowWarning`` a WARNING into SUCCESS (so both together turn a failure into SUCCESS)."""
        if state.failed and self.allow_failure:
            state = State.WARNING
        if state == State.WARNING and self.allow_warning:
            state = State.SUCCESS
        return state

    def timeout_after(self, render: Callable[[str], object]) -> timedelta | None:
        """The ``timeout``, rendering an expression with ``render`` (ValueError names the property)."""
        return resolve_duration(self.timeout, render, f"{self.id}.timeout")

    def child_task_lists(self) -> dict[str, list["Task"]]:
        """Named lists of nested tasks (``tasks``, ``then``, ``cases.X``, ``errors``...); flowable types have some."""
        return {}

    @classmethod
    def implied_task_ids(cls, task_id: str) -> list[str]:
        """Ids of task runs the type creates besides its declared children (ForEachItem's ``<id>_merge``),
        which expressions may name in ``outputs.<id>``; validation accepts them."""
        return []

    def check_files(self, flow_dir: FilePath | None, input_types: Mapping[str, str]) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems found by reading the files the task refers to (a notebook's parameters cell), before any run.

        ``lanner flow validate`` calls it with the flow file's folder and the
        flow's input types (id -> ``INT``...); each problem is (path inside the
        task, message) and is reported with its YAML line. Most tasks have none.
        """
        return []


#: A task of any registered type (validated by its ``type``; only that type's module is imported).
AnyTask = Annotated[Task, ByType("task")]


class RunnableTask(Task):
    """A task a worker runs. Subclasses implement :meth:`run`."""

    kind: ClassVar[Literal["runnable", "flowable"]] = "runnable"
    #: Light tasks (log, return) run inline in the runner: no thread hop, no process.
    light: ClassVar[bool] = False
    #: The task uses ``RunContext.services`` (kv store, execution history, triggers): the runner provides
    #: them, and runs the task on its own threads when its worker pool is remote.
    uses_services: ClassVar[bool] = False

    def run(self, ctx: "RunContext") -> "TaskResult":  # pragma: no cover - abstract
        raise NotImplementedError


class TaskResult:
    """What one attempt of a runnable task produced.

    Besides outputs, a task may change its own execution (Kestra's
    ``ExecutionUpdatableTask``): ``labels`` are added to the execution's
    labels, ``exit_state`` ends the execution in that state (Exit). The
    executor applies them when it records the result, so the runner loop
    stays the only writer of executions.
    """

    __slots__ = ("outputs", "state", "message", "labels", "exit_state")

    def __init__(
        self,
        outputs: dict[str, Any] | None = None,
        state: str = "SUCCESS",
        message: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        exit_state: str | None = None,
    ):
        self.outputs = outputs or {}
        self.state = state
        self.message = message
        self.labels = labels
        self.exit_state = exit_state

    def __repr__(self) -> str:
        return f"TaskResult(state={self.state!r}, outputs={self.outputs!r})"


class TaskFailed(Exception):
    """Raised by a task to fail its attempt with a message users read.

    ``outputs`` are kept on the failed task run (an exit code, the executed
    notebook) because that is when people need them most.
    """

    def __init__(self, message: str, outputs: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.outputs = outputs or {}


def truthy(value: object) -> bool:
    """Kestra's truthiness for rendered conditions (``runIf``, ``if``, ``fail``): 'false', '0', '' and None are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "null")
    return bool(value)
