"""Flowable tasks: the executor resolves them into child task runs.

Each class only declares its shape and its branches; the semantics (which
child runs when) live in ``engine/runtime/flowables.py`` so that the executor
stays the one place that decides what happens next.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, model_validator

from engine.sdk import AnyTask, Duration, FlowableTask, LannerModel, Task, needs_rebuild, register_task


@register_task(
    "sequential",
    "io.kestra.plugin.core.flow.Sequential",
    "io.kestra.core.tasks.flows.Sequential",
    group="Flow control",
    title="Steps in order",
    icon="➡️",
    summary="Run a group of tasks one after another.",
)
class Sequential(FlowableTask):
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks run one after another.")

    def branches(self) -> dict[str, list[Task]]:
        return {"tasks": list(self.tasks)}


@register_task(
    "parallel",
    "io.kestra.plugin.core.flow.Parallel",
    "io.kestra.core.tasks.flows.Parallel",
    group="Flow control",
    title="Steps at the same time",
    icon="🔀",
    summary="Run a group of tasks in parallel.",
)
class Parallel(FlowableTask):
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks run at the same time.")
    concurrent: int = Field(default=0, ge=0, description="At most this many at once (0: no limit).")

    def branches(self) -> dict[str, list[Task]]:
        return {"tasks": list(self.tasks)}


@register_task(
    "working_directory",
    "io.kestra.plugin.core.flow.WorkingDirectory",
    "io.kestra.core.tasks.flows.WorkingDirectory",
    group="Flow control",
    title="Shared folder",
    icon="📁",
    summary="Run tasks one after another in one shared working directory.",
)
class WorkingDirectory(FlowableTask):
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks that share one working directory.")

    def branches(self) -> dict[str, list[Task]]:
        return {"tasks": list(self.tasks)}


@register_task(
    "if",
    "io.kestra.plugin.core.flow.If",
    "io.kestra.core.tasks.flows.If",
    group="Flow control",
    title="If / else",
    icon="❓",
    summary="Run one branch when a condition is true, another when it is false.",
)
class If(FlowableTask):
    condition: str | bool = Field(description="Expression; true runs `then`, false runs `else`.")
    then: list[AnyTask] = Field(min_length=1, description="Tasks run when the condition is true.")
    else_: list[AnyTask] | None = Field(default=None, alias="else", description="Tasks run when the condition is false.")

    def branches(self) -> dict[str, list[Task]]:
        out: dict[str, list[Task]] = {"then": list(self.then)}
        if self.else_:
            out["else"] = list(self.else_)
        return out


@register_task(
    "switch",
    "io.kestra.plugin.core.flow.Switch",
    "io.kestra.core.tasks.flows.Switch",
    group="Flow control",
    title="Choose a branch",
    icon="🔀",
    summary="Run the branch whose case matches a value.",
)
class Switch(FlowableTask):
    value: Any = Field(description="The value to match, usually an expression.")
    cases: dict[str, list[AnyTask]] | None = Field(default=None, description="Branches by value.")
    defaults: list[AnyTask] | None = Field(default=None, description="Branch run when no case matches.")

    @model_validator(mode="after")
    def _some_branch(self) -> Switch:
        if not self.cases and not self.defaults:
            raise ValueError("a switch needs cases or defaults")
        return self

    def branches(self) -> dict[str, list[Task]]:
        out: dict[str, list[Task]] = {f"cases.{k}": list(v) for k, v in (self.cases or {}).items()}
        if self.defaults:
            out["defaults"] = list(self.defaults)
        return out


@register_task(
    "for_each",
    "io.kestra.plugin.core.flow.ForEach",
    "io.kestra.core.tasks.flows.ForEach",
    "io.kestra.plugin.core.flow.EachSequential",
    "io.kestra.core.tasks.flows.EachSequential",
    "io.kestra.plugin.core.flow.EachParallel",
    "io.kestra.core.tasks.flows.EachParallel",
    group="Flow control",
    title="For each value",
    icon="🔁",
    summary="Run a group of tasks once per value of a list.",
)
class ForEach(FlowableTask):
    values: Any = Field(
        validation_alias=AliasChoices("values", "value"),
        description="A list, a JSON list string, or an expression that renders to a list.",
    )
    concurrency_limit: int | None = Field(
        default=None,
        ge=0,
        validation_alias=AliasChoices("concurrencyLimit", "concurrent", "concurrency_limit"),
        description="Iterations run at once (0: no limit). Default 1; EachParallel defaults to no limit.",
    )
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks run for each value.")

    def branches(self) -> dict[str, list[Task]]:
        return {"tasks": list(self.tasks)}

    def effective_concurrency(self) -> int:
        """0 means unlimited. EachParallel's default is unlimited, ForEach's is 1."""
        if self.concurrency_limit is not None:
            return self.concurrency_limit
        return 0 if self.type.endswith("EachParallel") else 1


@needs_rebuild
class DagItem(LannerModel):
    """One node of a Dag: a task and the ids it waits for."""

    task: AnyTask = Field(description="The task.")
    depends_on: list[str] | None = Field(default=None, description="Ids of the dag tasks that must end first.")


@register_task(
    "dag",
    "io.kestra.plugin.core.flow.Dag",
    "io.kestra.core.tasks.flows.Dag",
    group="Flow control",
    title="Dependency graph",
    icon="🕸️",
    summary="Run tasks as soon as the tasks they depend on have ended.",
)
class Dag(FlowableTask):
    tasks: list[DagItem] = Field(min_length=1, description="Tasks with their dependencies.")
    concurrent: int = Field(default=0, ge=0, description="At most this many at once (0: no limit).")

    def branches(self) -> dict[str, list[Task]]:
        return {"tasks": [item.task for item in self.tasks]}


@register_task(
    "subflow",
    "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.core.tasks.flows.Subflow",
    "io.kestra.core.tasks.flows.Flow",
    group="Flow control",
    title="Run another flow",
    icon="🧩",
    summary="Start another flow with inputs and use its outputs.",
)
class Subflow(FlowableTask):
    namespace: str = Field(description="Namespace of the flow to run.")
    flow_id: str = Field(description="Id of the flow to run.")
    revision: int | None = Field(default=None, description="Revision to run (latest when unset).")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of the child execution (expressions rendered).")
    labels: dict[str, str] | None = Field(default=None, description="Labels of the child execution.")
    wait: bool = Field(default=True, description="Wait for the child execution to end.")
    transmit_failed: bool = Field(default=True, description="Fail this task when the child execution fails.")
    inherit_labels: bool = Field(default=False, description="Copy this execution's labels to the child.")


@register_task(
    "pause",
    "io.kestra.plugin.core.flow.Pause",
    "io.kestra.core.tasks.flows.Pause",
    group="Flow control",
    title="Pause for approval",
    icon="⏸️",
    summary="Pause the execution until someone resumes it (or a delay passes).",
)
class Pause(FlowableTask):
    pause_duration: Duration | None = Field(
        default=None,
        validation_alias=AliasChoices("pauseDuration", "delay", "pause_duration"),
        description="Resume by itself after this duration.",
    )
    on_resume: list[dict[str, Any]] | None = Field(default=None, description="Inputs asked for when resuming.")
    behavior: str | None = Field(default=None, description="RESUME (default), WARN, FAIL or CANCEL when the timeout passes.")
