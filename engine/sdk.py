"""Lanner's task SDK: everything a task, trigger or condition author imports, from one module.

Lanner's own types (``engine/tasks``, ``engine/triggers``) import only this
module (plus the standard library and third-party libraries), exactly like a
plugin does. A plugin is a Python distribution that declares its classes as
entry points in its ``pyproject.toml``::

    [project.entry-points."lanner.tasks"]
    "acme.Hello" = "acme_lanner.hello:Hello"

and the class, in ``acme_lanner/hello.py``::

    from engine.sdk import Field, RunContext, RunnableTask, TaskResult, register_task

    @register_task("acme.Hello", group="Acme", title="Say hello", icon="👋",
                   summary="Log a greeting and return it as outputs.<id>.greeting.")
    class Hello(RunnableTask):
        name: str = Field(description="Who to greet; expressions are rendered.")

        def run(self, ctx: RunContext) -> TaskResult:
            greeting = f"Hello, {ctx.render(self.name)}!"
            ctx.logger.info(greeting)
            return TaskResult({"greeting": greeting})

What is here:

* **Base classes**: :class:`RunnableTask` (a worker runs one attempt with
  :meth:`RunnableTask.run`), :class:`FlowableTask` (the executor expands it through a
  :class:`FlowableRun`; its ``child_lists`` say which properties hold child tasks),
  :class:`Trigger` / :class:`PollingTrigger` (the scheduler calls ``poll`` every
  ``interval``), :class:`Condition` (``test`` says whether a firing goes ahead),
  :class:`LannerModel` for nested property objects, :data:`Duration` for
  ISO-8601 durations, and ``AnyTask``/``AnyTrigger``/``AnyCondition`` for
  properties that hold other tasks.
* **Registration**: :func:`register_task`, :func:`register_trigger`,
  :func:`register_condition` (name, Kestra aliases, and what the palette shows).
* **Running**: :class:`RunContext` (``render``, ``logger``, ``secret(name)``,
  ``storage``, ``output_file(path)``, ``killed``/``wait``/``raise_if_killed``,
  ``timeout``), :class:`TaskResult`, :class:`TaskFailed`.
* **Processes and files** (imported on first use): :func:`run_process` (a
  process tree that is always stopped on kill or timeout, lines streamed as they
  come), :func:`parse_output_marker` (Kestra's ``::{"outputs": ...}::`` lines),
  and internal storage helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.model.base import LannerModel
from engine.model.condition import AnyCondition, Condition, ConditionContext, ConditionError
from engine.model.durations import Duration, format_duration, parse_duration
from engine.model.execution import TaskRun
from engine.model.flowable import (
    ChildExecution,
    ChildList,
    FlowableError,
    FlowableRun,
    FlowableTask,
    as_key,
    run_parallel,
    run_sequence,
)
from engine.model.ids import now_iso, parse_iso
from engine.model.registry import needs_rebuild, register_condition, register_task, register_trigger
from engine.model.state import State, worst
from engine.model.task import AnyTask, LogLevel, RunnableTask, Task, TaskFailed, TaskResult, truthy
from engine.model.trigger import AnyTrigger, PollingTrigger, Trigger, TriggerContext, TriggerEvent
from engine.runtime.context import RunContext, TaskLogger

if TYPE_CHECKING:
    from engine.runtime.forkserver import LOST_MESSAGE
    from engine.runtime.process import ProcessResult, kill_tree, parse_output_marker, run_process
    from engine.storage import (
        NSFILE_SCHEME,
        SCHEME,
        InternalStorage,
        StorageError,
        resolve_nsfile,
        safe_relative_path,
        storage_for_context,
    )

#: Names imported on first use: they pull in process and storage machinery a light task never needs.
_LAZY = {
    "LOST_MESSAGE": "engine.runtime.forkserver",
    "ProcessResult": "engine.runtime.process",
    "kill_tree": "engine.runtime.process",
    "parse_output_marker": "engine.runtime.process",
    "run_process": "engine.runtime.process",
    "InternalStorage": "engine.storage",
    "NSFILE_SCHEME": "engine.storage",
    "SCHEME": "engine.storage",
    "StorageError": "engine.storage",
    "resolve_nsfile": "engine.storage",
    "safe_relative_path": "engine.storage",
    "storage_for_context": "engine.storage",
}

__all__ = [
    "AnyCondition",
    "ChildExecution",
    "ChildList",
    "FlowableError",
    "FlowableRun",
    "State",
    "TaskRun",
    "as_key",
    "now_iso",
    "parse_iso",
    "run_parallel",
    "run_sequence",
    "truthy",
    "worst",
    "AnyTask",
    "AnyTrigger",
    "Condition",
    "ConditionContext",
    "ConditionError",
    "Duration",
    "Field",
    "FlowableTask",
    "LannerModel",
    "LogLevel",
    "PollingTrigger",
    "RunContext",
    "RunnableTask",
    "Task",
    "TaskFailed",
    "TaskLogger",
    "TaskResult",
    "Trigger",
    "TriggerContext",
    "TriggerEvent",
    "format_duration",
    "needs_rebuild",
    "parse_duration",
    "register_condition",
    "register_task",
    "register_trigger",
    # imported on first use (see _LAZY)
    "LOST_MESSAGE",
    "InternalStorage",
    "NSFILE_SCHEME",
    "ProcessResult",
    "SCHEME",
    "StorageError",
    "kill_tree",
    "parse_output_marker",
    "resolve_nsfile",
    "run_process",
    "safe_relative_path",
    "storage_for_context",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.sdk' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
