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
  ``timeout``, ``metric(...)``), :class:`TaskResult` (outputs, and ``labels`` /
  ``exit_state`` a task sets on its own execution), :class:`TaskFailed`.
* **Services** (a task that declares ``uses_services = True``): ``ctx.kv``
  (the key-value store), ``ctx.executions`` (summaries and UI links, counts,
  purges, logs, resume, child executions), ``ctx.flows`` (list, check, deploy,
  delete), ``ctx.triggers`` (enable/disable); see :mod:`engine.model.services`
  for the interfaces and :class:`ServiceError`.
* **Outgoing HTTP** (imported on first use): :func:`http_send` (one request, the
  whole answer back) and :func:`exchange` (a prepared ``httpx.Request``, the
  streamed answer to a callback), both through Lanner's SSRF guard
  (``LANNER_HTTP_ALLOW`` opens destinations), address pinning, redirects
  checked hop by hop, kill and ``timeout`` answered at once; :class:`HttpRefused`;
  :func:`interruptible` runs any blocking exchange (SMTP, git) so that a kill
  or the timeout answers at once.
* **Processes and files** (imported on first use): :func:`run_process` (a
  process tree that is always stopped on kill or timeout, lines streamed as they
  come), :func:`parse_output_marker` (Kestra's ``::{"outputs": ...}::`` lines),
  and internal storage helpers.
* **Rows and dates** (imported on first use): Kestra's row files in Ion text
  (:class:`IonWriter`, :func:`read_ion`, :func:`ion_dumps`, :func:`ion_loads`,
  :func:`ion_symbol`, :class:`IonError`; see :mod:`engine.iontext`), one row per
  line (:func:`read_rows`, :func:`write_rows`, :func:`parse_row`, :func:`dump_row`),
  and Java date patterns (:func:`format_date` with ``yyyy-MM-dd'T'HH:mm``,
  :func:`time_zone` by name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.model.base import LannerModel
from engine.model.condition import AnyCondition, Condition, ConditionContext, ConditionError
from engine.model.durations import (
    Duration,
    DynamicDuration,
    format_duration,
    parse_duration,
    resolve_duration,
)
from engine.model.execution import Attempt, TaskRun, summary_context
from engine.model.flowable import (
    ChildExecution,
    ChildList,
    FlowableError,
    FlowableRun,
    FlowableTask,
    as_key,
    run_parallel,
    run_sequence,
    with_handlers,
)
from engine.model.ids import new_id, now_iso, parse_iso
from engine.model.registry import needs_rebuild, register_condition, register_task, register_trigger
from engine.model.state import State, worst
from engine.model.task import AnyTask, LogLevel, RunnableTask, Task, TaskFailed, TaskResult, truthy
from engine.model.trigger import AnyTrigger, PollingTrigger, Trigger, TriggerContext, TriggerEvent
from engine.runtime.context import RunContext, TaskLogger

if TYPE_CHECKING:
    from engine.expressions.dates import format_date
    from engine.expressions.dates import zone as time_zone
    from engine.ion_rows import RowError, dump_row, parse_row, read_rows, write_rows
    from engine.iontext import IonError, IonWriter
    from engine.iontext import dumps as ion_dumps
    from engine.iontext import loads as ion_loads
    from engine.iontext import read_file as read_ion
    from engine.iontext import symbol as ion_symbol
    from engine.model.services import ExecutionRef, KvItem, PurgeCounts, ServiceError, TaskServices
    from engine.runtime.forkserver import LOST_MESSAGE
    from engine.runtime.http_client import (
        CHUNK,
        DEFAULT_CONNECT_TIMEOUT,
        DEFAULT_MAX_BODY,
        DEFAULT_READ_TIMEOUT,
        AllowList,
        HttpAnswer,
        HttpRefused,
        blocked_reason,
        body_reader,
        default_timeouts,
        exchange,
        http_send,
        interruptible,
        parse_http_url,
        resolve_destination,
    )
    from engine.runtime.process import (
        ProcessResult,
        apply_output_marker,
        kill_tree,
        parse_output_marker,
        run_process,
    )
    from engine.storage import (
        NSFILE_SCHEME,
        SCHEME,
        InternalStorage,
        StorageError,
        is_storage_uri,
        normalize_uri,
        parse_uri,
        resolve_nsfile,
        safe_relative_path,
        storage_for_context,
    )

#: Names imported on first use: they pull in process and storage machinery a light task never needs.
#: A value is the module (same name there) or (module, name in that module).
_LAZY: dict[str, str | tuple[str, str]] = {
    "LOST_MESSAGE": "engine.runtime.forkserver",
    # What tasks that call back into the engine (subflows, kv, purge...) are given: not a log task's business
    **{name: "engine.model.services" for name in ("ExecutionRef", "KvItem", "PurgeCounts", "ServiceError", "TaskServices")},
    # Lanner's outgoing HTTP client (SSRF guard, pinned addresses, kill/timeout): httpx loads on first request
    **{name: "engine.runtime.http_client" for name in (
        "CHUNK", "DEFAULT_CONNECT_TIMEOUT", "DEFAULT_MAX_BODY", "DEFAULT_READ_TIMEOUT", "AllowList", "HttpAnswer",
        "HttpRefused", "blocked_reason", "body_reader", "default_timeouts", "exchange", "http_send", "interruptible", "parse_http_url", "resolve_destination",
    )},
    "ProcessResult": "engine.runtime.process",
    "kill_tree": "engine.runtime.process",
    "parse_output_marker": "engine.runtime.process",
    "apply_output_marker": "engine.runtime.process",
    "run_process": "engine.runtime.process",
    "InternalStorage": "engine.storage",
    "NSFILE_SCHEME": "engine.storage",
    "SCHEME": "engine.storage",
    "StorageError": "engine.storage",
    "resolve_nsfile": "engine.storage",
    "is_storage_uri": "engine.storage",
    "normalize_uri": "engine.storage",
    "parse_uri": "engine.storage",
    "safe_relative_path": "engine.storage",
    "storage_for_context": "engine.storage",
    "IonError": "engine.iontext",
    "IonWriter": "engine.iontext",
    "ion_dumps": ("engine.iontext", "dumps"),
    "ion_loads": ("engine.iontext", "loads"),
    "ion_symbol": ("engine.iontext", "symbol"),
    "read_ion": ("engine.iontext", "read_file"),
    "format_date": "engine.expressions.dates",
    "time_zone": ("engine.expressions.dates", "zone"),
    "RowError": "engine.ion_rows",
    "dump_row": "engine.ion_rows",
    "parse_row": "engine.ion_rows",
    "read_rows": "engine.ion_rows",
    "write_rows": "engine.ion_rows",
}

__all__ = [
    "AnyCondition",
    "Attempt",
    "ChildExecution",
    "ChildList",
    "FlowableError",
    "FlowableRun",
    "State",
    "TaskRun",
    "as_key",
    "new_id",
    "now_iso",
    "parse_iso",
    "run_parallel",
    "run_sequence",
    "summary_context",
    "with_handlers",
    "truthy",
    "worst",
    "ExecutionRef",
    "KvItem",
    "PurgeCounts",
    "ServiceError",
    "TaskServices",
    "AnyTask",
    "AnyTrigger",
    "Condition",
    "ConditionContext",
    "ConditionError",
    "Duration",
    "DynamicDuration",
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
    "resolve_duration",
    "register_condition",
    "register_task",
    "register_trigger",
    "render_expression",
    # imported on first use (see _LAZY)
    "LOST_MESSAGE",
    "CHUNK",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_READ_TIMEOUT",
    "AllowList",
    "HttpAnswer",
    "HttpRefused",
    "blocked_reason",
    "body_reader",
    "default_timeouts",
    "exchange",
    "http_send",
    "interruptible",
    "parse_http_url",
    "resolve_destination",
    "InternalStorage",
    "NSFILE_SCHEME",
    "ProcessResult",
    "SCHEME",
    "StorageError",
    "kill_tree",
    "parse_output_marker",
    "apply_output_marker",
    "resolve_nsfile",
    "is_storage_uri",
    "normalize_uri",
    "parse_uri",
    "run_process",
    "safe_relative_path",
    "storage_for_context",
    "IonError",
    "IonWriter",
    "ion_dumps",
    "ion_loads",
    "ion_symbol",
    "read_ion",
    "format_date",
    "time_zone",
    "RowError",
    "dump_row",
    "parse_row",
    "read_rows",
    "write_rows",
]


def render_expression(value: object, variables: dict[str, Any]) -> Any:
    """Render the Pebble expressions in ``value`` against plain ``variables`` (for conditions and triggers,
    which have no RunContext; ``secret()`` and ``kv()`` are not available there)."""
    from engine.expressions import render

    return render(value, variables)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'engine.sdk' has no attribute {name!r}")
    import importlib

    module, attribute = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
