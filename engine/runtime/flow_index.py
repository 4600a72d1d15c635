"""Where each task of a flow sits (its parent task and branch), and what kind of task it is.

The kinds are sets of task ids computed once per flow revision, so the executor
and the runner's loop tell a flowable task from a runnable one, and a light one
from one for the worker pool, without an ``isinstance`` on a pydantic class
(an ABC check) for every task run.
"""

from __future__ import annotations

from engine.model.flow import Flow
from engine.model.flowable import FlowableTask
from engine.model.plain import Frozen, set_field
from engine.model.task import RunnableTask, Task


class TaskPlace(Frozen):
    """Where a task sits: ``parent_id`` (None for the flow-level lists) and ``branch``, the list that holds
    it ("tasks", "then", "cases.x", "errors", "finally", "afterExecution").

    A plain frozen class rather than a dataclass: every cold run imports it, and building a dataclass
    costs ~0.5 ms (see :mod:`engine.model.plain`).
    """

    __slots__ = ("task", "parent_id", "branch")
    task: Task
    parent_id: str | None
    branch: str

    def __init__(self, task: Task, parent_id: str | None, branch: str) -> None:
        set_field(self, "task", task)
        set_field(self, "parent_id", parent_id)
        set_field(self, "branch", branch)


class FlowIndex:
    """Task id -> task and place, built once per flow revision."""

    def __init__(self, flow: Flow):
        self.flow = flow
        self.places: dict[str, TaskPlace] = {}
        #: Task id -> task (what the executor looks up for every task run).
        self.tasks: dict[str, Task] = {}
        #: Ids of the flowable tasks (the executor resolves them).
        self.flowable: set[str] = set()
        #: Ids of the runnable tasks, and of those among them that are light (run inline by the runner).
        self.runnable: set[str] = set()
        self.light: set[str] = set()
        #: Ids of the tasks whose runnable descendants share one working directory.
        self.shares_working_directory: set[str] = set()
        for branch, tasks in flow.top_level_lists().items():
            self._walk(tasks, None, branch)

    def _walk(self, tasks: list[Task], parent_id: str | None, branch: str) -> None:
        for task in tasks:
            self.places[task.id] = TaskPlace(task, parent_id, branch)
            self.tasks[task.id] = task
            if isinstance(task, RunnableTask):
                self.runnable.add(task.id)
                if task.light:
                    self.light.add(task.id)
            if isinstance(task, FlowableTask):
                self.flowable.add(task.id)
                if task.shares_working_directory:
                    self.shares_working_directory.add(task.id)
                for sub_branch, children in task.child_task_lists().items():
                    self._walk(children, task.id, sub_branch)

    def task(self, task_id: str) -> Task:
        return self.tasks[task_id]

    def get(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)
