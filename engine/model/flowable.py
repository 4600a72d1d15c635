"""Flowable tasks: containers the executor resolves into child task runs.

A flowable task never runs on a worker. What it means is said on its type, as
Kestra's ``FlowableTask`` does, so that the executor stays generic and a plugin
can add a flowable type without touching the executor or the builder:

* :attr:`FlowableTask.child_lists` declares which properties hold child tasks
  and in which shape (a list, a map of lists, a dependency graph). Validation,
  the executor's flow index, the builder's canvas, forms and topology all read
  this one declaration (through the registry and :func:`child_list_spec`).
* :meth:`FlowableTask.expand` decides the task run's shape when it is created
  (the branch an ``if`` takes, the values a ``for_each`` loops over), or starts
  what it waits for (a child execution, a pause).
* :meth:`FlowableTask.advance` starts the children that can start and gives the
  state of the main branch once it is over; :meth:`FlowableTask.resolve_state`
  adds ``errors`` and ``finally`` to it.
* the ``on_*`` hooks, :meth:`~FlowableTask.restore` and :meth:`~FlowableTask.reset`
  answer the events a type cares about (its timers, its child execution's end,
  a kill, a recovery after a crash, a restart); the defaults do nothing.

The executor hands each call a :class:`FlowableRun`: the task run, the
execution's state, and the few operations a flowable may use. The helpers at the
end (:func:`run_sequence`, :func:`run_parallel`, :func:`with_handlers`) are the
common ways to resolve a list of children, like Kestra's ``FlowableUtils``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import Field

from engine.model.execution import Execution, ExecutionState, TaskRun
from engine.model.plain import Frozen, set_field
from engine.model.state import State, worst
from engine.model.task import AnyTask, Task, TaskResult

if TYPE_CHECKING:
    from collections.abc import Iterable

    from engine.runtime.context import RunContext

ChildListShape = Literal["list", "map", "graph"]


class ChildList(Frozen):
    """One property of a flowable type that holds child tasks.

    ``shape``: ``list`` (a list of tasks), ``map`` (key -> list of tasks, a switch's
    ``cases``), ``graph`` (a list of ``{task, dependsOn}`` items, a dag's ``tasks``).
    ``label`` titles its lane in the UIs (None: the unlabelled main list);
    ``optional`` lists may be absent (an edit that empties one removes it);
    ``parallel`` children run side by side and are drawn stacked.

    A plain frozen class rather than a dataclass: every cold run imports it, and building a dataclass
    costs ~0.5 ms (see :mod:`engine.model.plain`).
    """

    __slots__ = ("name", "shape", "label", "optional", "parallel")
    name: str
    shape: ChildListShape
    label: str | None
    optional: bool
    parallel: bool

    def __init__(self, name: str, shape: ChildListShape = "list", label: str | None = None, optional: bool = False,
                 parallel: bool = False) -> None:
        set_field(self, "name", name)
        set_field(self, "shape", shape)
        set_field(self, "label", label)
        set_field(self, "optional", optional)
        set_field(self, "parallel", parallel)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": self.shape, "label": self.label, "optional": self.optional,
                "parallel": self.parallel}


#: The lists every flowable task has besides its own branches.
ERRORS = ChildList("errors", label="errors", optional=True)
FINALLY = ChildList("finally", label="finally", optional=True)
COMMON_CHILD_LISTS: tuple[ChildList, ...] = (ERRORS, FINALLY)
#: The task lists of a flow itself, in display order.
FLOW_CHILD_LISTS: tuple[ChildList, ...] = (
    ChildList("tasks"),
    ERRORS,
    FINALLY,
    ChildList("afterExecution", label="after execution", optional=True),
)


class FlowableError(Exception):
    """A flowable's property could not be rendered or makes no sense; the message names it."""


class ChildExecution(Frozen):
    """A child execution a flowable task asks for; the runner starts it once the step is committed.

    ``trigger``: the child's ``{{ trigger }}`` variables (Kestra gives a subflow its parent's ids there).
    ``execution_id``: the id the child execution gets (None: a new one); a type that starts many children
    names them itself so it can tell their ends apart.
    ``iteration``: which of the task run's children this is (ForEachItem's batch number); None for a task
    run's only child.
    ``again``: asked again after a restart (``restore``): start it only if ``execution_id`` does not exist
    yet, and report it again if it already ended.

    A plain frozen class rather than a dataclass, as :class:`ChildList`.
    """

    __slots__ = ("task_run_id", "namespace", "flow_id", "inputs", "labels", "revision", "wait", "trigger",
                 "execution_id", "iteration", "again")
    task_run_id: str
    namespace: str
    flow_id: str
    inputs: dict[str, Any]
    labels: dict[str, str]
    revision: int | None
    wait: bool
    trigger: dict[str, Any] | None
    execution_id: str | None
    iteration: int | None
    again: bool

    def __init__(self, task_run_id: str, namespace: str, flow_id: str, inputs: dict[str, Any], labels: dict[str, str],
                 revision: int | None = None, wait: bool = True, trigger: dict[str, Any] | None = None,
                 execution_id: str | None = None, iteration: int | None = None, again: bool = False) -> None:
        set_field(self, "task_run_id", task_run_id)
        set_field(self, "namespace", namespace)
        set_field(self, "flow_id", flow_id)
        set_field(self, "inputs", inputs)
        set_field(self, "labels", labels)
        set_field(self, "revision", revision)
        set_field(self, "wait", wait)
        set_field(self, "trigger", trigger)
        set_field(self, "execution_id", execution_id)
        set_field(self, "iteration", iteration)
        set_field(self, "again", again)


class Children(Protocol):
    """Where the children of one container (a flowable task run, or the flow itself) live."""

    def scope(self, iteration: int | None = None) -> dict[str, TaskRun]:
        """The children created so far (of one loop iteration), by task id."""
        ...

    def create(self, task: Task, iteration: int | None, value: str | None) -> TaskRun:
        """Create (and start, or skip) a child task run."""
        ...


class FlowableRun(Children, Protocol):
    """What the executor lets a flowable task see and do for one of its task runs."""

    @property
    def task_run(self) -> TaskRun: ...

    @property
    def execution_state(self) -> ExecutionState:
        """The execution, its task runs and their indexes (a loop keeps its iteration counts there)."""
        ...

    @property
    def execution(self) -> Execution: ...

    def render(self, name: str, value: object, extra: dict[str, Any] | None = None, *, context: dict[str, Any] | None = None) -> Any:
        """Render property ``name``; raises :class:`FlowableError` naming ``task.name``.

        ``extra`` adds variables; a mapping under a name the context has (``taskrun``) is merged into it.
        ``context`` replaces the task run's own expression context (a subflow's child execution).
        """
        ...

    def retry_later(self, reason: str) -> bool:
        """After a failure: when the task's retry policy (its own, an enclosing task's or the flow's)
        allows another attempt, set this task run RETRYING, log ``reason`` and arm the ``retry`` timer
        (:meth:`FlowableTask.on_timer` then gets ``"retry"``); False when no attempt is left."""
        ...

    def reevaluate(self) -> None:
        """Ask this task run's :meth:`FlowableTask.resolve_state` again now (after a timer started children)."""
        ...

    def log(self, level: str, message: str) -> None: ...

    def mask(self, data: object) -> Any:
        """``data`` with every secret value the execution read hidden: for what a type stores
        and shows itself (loop values, switch keys), which are never secret."""
        ...

    def child_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The rendered ``inputs`` of a child execution as it may receive them: ``secret()`` values
        hidden (the child stores its inputs; let it call ``secret()`` itself), but the values of this
        execution's SECRET inputs passed on, as Kestra does: the child's own input declarations say
        whether it shows them (declared SECRET there, they read masked)."""
        ...

    def set_timer(self, seconds: float, kind: str) -> None:
        """Call :meth:`FlowableTask.on_timer` with ``kind`` after ``seconds``."""
        ...

    def start_child_execution(self, child: ChildExecution) -> None: ...

    def kill_child_execution(self, execution_id: str) -> None: ...

    def pause(self) -> None:
        """Mark this task run and its execution PAUSED (until a resume or :meth:`unpause`)."""
        ...

    def unpause(self) -> None:
        """Set a PAUSED execution RUNNING again."""
        ...

    def end(self, state: State, outputs: dict[str, Any] | None = None) -> None:
        """End this task run; its parent is re-evaluated."""
        ...

    def continue_running(self, outputs: dict[str, Any] | None = None) -> None:
        """Set this (paused) task run RUNNING with ``outputs`` and re-evaluate it: its children start."""
        ...


class FlowableTask(Task):
    """A task the executor resolves into child task runs (no worker involved)."""

    kind: ClassVar[Literal["runnable", "flowable"]] = "flowable"
    #: The properties that hold child tasks, main branches first (``errors``/``finally`` come on top).
    child_lists: ClassVar[tuple[ChildList, ...]] = ()
    #: Runnable tasks nested in it share one working directory (WorkingDirectory).
    shares_working_directory: ClassVar[bool] = False
    #: Its children run once per value of a list (ForEach): UIs group its task runs by value.
    iterates: ClassVar[bool] = False

    errors: list[AnyTask] | None = Field(default=None, description="Tasks run when a child fails.")
    finally_: list[AnyTask] | None = Field(default=None, alias="finally", description="Tasks run after the children, whatever happened.")

    @classmethod
    def all_child_lists(cls) -> tuple[ChildList, ...]:
        """Every child list of the type: its branches, then ``errors`` and ``finally``."""
        return (*cls.child_lists, *COMMON_CHILD_LISTS)

    # --- structure -----------------------------------------------------------------------------------

    def branches(self) -> dict[str, list[Task]]:
        """The main child lists of this task, in order (``tasks``; ``then``/``else``; ``cases.X``...)."""
        out: dict[str, list[Task]] = {}
        for child_list in self.child_lists:
            value = getattr(self, field_name(type(self), child_list.name), None)
            if not value:
                continue
            if child_list.shape == "map":
                for key, tasks in value.items():
                    out[f"{child_list.name}.{key}"] = list(tasks)
            elif child_list.shape == "graph":
                out[child_list.name] = [item.task for item in value]
            else:
                out[child_list.name] = list(value)
        return out

    def child_task_lists(self) -> dict[str, list[Task]]:
        out = self.branches()
        if self.errors:
            out["errors"] = list(self.errors)
        if self.finally_:
            out["finally"] = list(self.finally_)
        return out

    def child_execution_id(self, task_run: TaskRun) -> str | None:
        """The child execution this running task run waits for, if any."""
        return None

    def child_execution_ids(self, task_run: TaskRun) -> list[str]:
        """Every child execution this running task run waits for (a type that starts many overrides it)."""
        child = self.child_execution_id(task_run)
        return [child] if child else []

    # --- behaviour -----------------------------------------------------------------------------------

    def expand(self, run: FlowableRun) -> None:
        """Called once when the task run is created, before its children: decide its shape."""

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        """Start the children that can start; the main state once they are over, None while they run.

        ``iteration`` is the loop iteration whose child changed (None: re-check everything).
        """
        return None

    def resolve_state(self, run: FlowableRun, iteration: int | None) -> State | None:
        """The state the task run ends in (after ``errors``/``finally``), None while something runs."""
        main = self.advance(run, iteration)
        if main is None:
            return None
        if main.failed and main != State.FAILED:
            return main  # KILLED: no handlers
        return with_handlers(run, main, self.errors, self.finally_, run.task_run.value)

    def on_timer(self, run: FlowableRun, kind: str) -> None:
        """A timer this task set with :meth:`FlowableRun.set_timer` ran out."""

    def on_child_end(self, run: FlowableRun, child: dict[str, Any]) -> None:
        """The child execution this task run started ended (``child`` is its summary)."""

    def resumed(self, run: FlowableRun, outputs: dict[str, Any] | None) -> None:
        """The execution was resumed while this task run was PAUSED (``outputs``: the resume inputs).

        The default ends it in SUCCESS; a type with children to run after the pause continues instead.
        """
        run.unpause()
        run.end(State.SUCCESS, outputs)

    def on_kill(self, run: FlowableRun) -> None:
        """The execution is being killed (this task run is marked KILLED right after)."""

    def restore(self, run: FlowableRun) -> None:
        """The task run is unfinished after a process restart or a restart of its execution:
        set up again what lived only in memory (timers, a child execution not yet started)."""

    def reset(self, run: FlowableRun) -> None:
        """A restart puts this FAILED/KILLED task run back to RUNNING: forget what must be redone."""

    def worker_steps(self) -> tuple[str, ...]:
        """The worker steps this task needs (``"setup"``, ``"teardown"``): work with files, which the
        executor never does. Default: none."""
        return ()

    def run_worker_step(self, step: str, ctx: RunContext, state: State | None) -> dict[str, Any] | None:
        """Run worker step ``step`` (an attempt of this task run, on a worker); the outputs it adds.

        ``state`` is the children's state for a teardown. Raise :class:`~engine.model.task.TaskFailed`
        to fail the task run.
        """
        return None


class WorkerStep:
    """One worker step of a flowable task run, shaped like the runnable task a worker runs."""

    light = False
    timeout = None
    retry = None
    log_level = None
    log_to_file = False
    task_cache = None

    def __init__(self, task: FlowableTask, step: str, state: State | None):
        self.task = task
        self.step = step
        self.state = state

    @property
    def id(self) -> str:
        return self.task.id

    @property
    def type(self) -> str:
        return self.task.type

    def timeout_after(self, render: object) -> None:
        return None

    def run(self, ctx: RunContext) -> TaskResult:
        return TaskResult(self.task.run_worker_step(self.step, ctx, self.state) or {})


@cache
def field_name(cls: type[Any], alias: str) -> str:
    """The Python attribute of the field whose YAML name is ``alias`` (``else`` -> ``else_``,
    ``onAllFailed`` -> ``on_all_failed``)."""
    generate = cls.model_config.get("alias_generator")
    for name, info in cls.model_fields.items():
        yaml_name = info.alias or (generate(name) if callable(generate) else name)
        if alias in (yaml_name, name):
            return name
    raise AttributeError(f"{cls.__name__} declares a child list {alias!r} but has no such field")


def check_child_lists(cls: type[FlowableTask]) -> None:
    """Fail early (at registration) when a type declares a child list it has no field for."""
    for child_list in cls.child_lists:
        field_name(cls, child_list.name)


def child_list_spec(classes: Iterable[tuple[str, type[Task]]], aliases: dict[str, str]) -> dict[str, Any]:
    """The child-list shapes of the registered flowable types as JSON for the builder's JavaScript.

    ``names``: every accepted type name of a container -> its canonical name; ``lists``:
    canonical name -> its branch lists; ``common``/``flow``: the lists of every container
    and of the flow; ``optional``: names of lists an edit may remove when empty.
    """
    lists = {
        canonical: [c.to_dict() for c in cls.child_lists]
        for canonical, cls in classes
        if isinstance(cls, type) and issubclass(cls, FlowableTask) and cls.child_lists
    }
    optional = {c.name for c in (*COMMON_CHILD_LISTS, *FLOW_CHILD_LISTS) if c.optional}
    for entries in lists.values():
        optional.update(e["name"] for e in entries if e["optional"])
    return {
        "names": {name: canonical for name, canonical in aliases.items() if canonical in lists},
        "lists": lists,
        "common": [c.to_dict() for c in COMMON_CHILD_LISTS],
        "flow": [c.to_dict() for c in FLOW_CHILD_LISTS],
        "optional": sorted(optional),
    }


# --- resolving lists of children (Kestra's FlowableUtils) ------------------------------------------


def run_sequence(children: Children, tasks: list[Task], iteration: int | None, value: str | None) -> State | None:
    """Children one after another: the next starts when the previous ended; a failure stops the list."""
    scope = children.scope(iteration)
    states: list[State] = []
    for task in tasks:
        tr = scope.get(task.id)
        if tr is None:
            tr = children.create(task, iteration, value)
        if not tr.state.terminal:
            return None
        if tr.state.failed:
            return tr.state if tr.state == State.KILLED else State.FAILED
        states.append(tr.state)
    return worst(states)


def run_parallel(children: Children, tasks: list[Task], limit: int, iteration: int | None, value: str | None) -> State | None:
    """Children side by side (at most ``limit`` at once, 0: no limit); a failure starts no more."""
    scope = children.scope(iteration)
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
        tr = children.create(pending.pop(0), iteration, value)
        if tr.state.terminal:
            states.append(tr.state)
            failed = failed or tr.state.failed
        else:
            running += 1
    if running or (pending and not failed):
        return None
    return worst(states)


def with_handlers(
    children: Children, main: State, errors: list[Task] | None, finally_: list[Task] | None, value: str | None
) -> State | None:
    """Run ``errors`` after a failure and ``finally`` in any case; None while they run."""
    state = main
    if main == State.FAILED and errors:
        if run_sequence(children, errors, None, value) is None:
            return None
    if finally_:
        fin = run_sequence(children, finally_, None, value)
        if fin is None:
            return None
        if fin.failed and not state.failed:
            state = State.FAILED
    return state


def as_key(value: object) -> str:
    """Loop values and switch keys are strings (Kestra's rule); objects become JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)
