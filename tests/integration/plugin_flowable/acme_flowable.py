"""A flowable task type as a third party would write it: nothing in Lanner knows its name.

``com.acme.FirstSuccess`` tries its ``candidates`` one after another and stops at
the first that succeeds; when every candidate failed it runs ``onAllFailed`` and
fails. Its child lists have names no built-in type uses, so a test that passes
proves the executor, validation and the builder read them from the type.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from engine.sdk import AnyTask, ChildList, FlowableRun, FlowableTask, State, register_task, run_sequence


@register_task(
    "acme_first_success",
    "com.acme.FirstSuccess",
    group="Flow control",
    title="First that works",
    icon="🥇",
    summary="Try tasks one after another until one succeeds.",
)
class FirstSuccess(FlowableTask):
    child_lists: ClassVar[tuple[ChildList, ...]] = (
        ChildList("candidates"),
        ChildList("onAllFailed", label="all failed", optional=True),
    )
    candidates: list[AnyTask] = Field(min_length=1, description="Tasks tried in order.")
    on_all_failed: list[AnyTask] | None = Field(default=None, description="Run when every candidate failed.")

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        scope = run.scope()
        value = run.task_run.value
        for task in self.candidates:
            tr = scope.get(task.id) or run.create(task, None, value)
            if not tr.state.terminal:
                return None
            if tr.state.successful:
                return State.SUCCESS
            if tr.state == State.KILLED:
                return State.KILLED
        if self.on_all_failed and run_sequence(run, self.on_all_failed, None, value) is None:
            return None
        return State.FAILED
