"""Where each task of a flow sits: its parent task and the branch it belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from engine.model.flow import Flow
from engine.model.flowable import FlowableTask
from engine.model.task import Task


@dataclass(frozen=True)
class TaskPlace:
    task: Task
    parent_id: str | None  # None for flow-level lists
    branch: str  # "tasks", "then", "cases.x", "errors", "finally", "afterExecution"


class FlowIndex:
    """Task id -> task and place, built once per flow revision."""

    def __init__(self, flow: Flow):
        self.flow = flow
        self.places: dict[str, TaskPlace] = {}
        for branch, tasks in flow.top_level_lists().items():
            self._walk(tasks, None, branch)

    def _walk(self, tasks: list[Task], parent_id: str | None, branch: str) -> None:
        for task in tasks:
            self.places[task.id] = TaskPlace(task, parent_id, branch)
            if isinstance(task, FlowableTask):
                for sub_branch, children in task.child_task_lists().items():
                    self._walk(children, task.id, sub_branch)

    def task(self, task_id: str) -> Task:
        return self.places[task_id].task

    def get(self, task_id: str) -> Task | None:
        place = self.places.get(task_id)
        return place.task if place else None
