"""The built-in flowable tasks: each type says which child lists it has, how it
expands, and when it is done (see ``engine.model.flowable``).

The executor knows none of these classes: it calls the hooks of
:class:`~engine.model.flowable.FlowableTask`, so a plugin's flowable type works
the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AliasChoices, Field, model_validator

from engine.sdk import (
    AnyTask,
    ChildExecution,
    ChildList,
    Duration,
    FlowableError,
    FlowableRun,
    FlowableTask,
    LannerModel,
    State,
    TaskRun,
    as_key,
    needs_rebuild,
    now_iso,
    parse_iso,
    register_task,
    run_parallel,
    run_sequence,
    truthy,
    worst,
)


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
    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks"),)
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks run one after another.")

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        return run_sequence(run, self.tasks, None, run.task_run.value)


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
    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks", parallel=True),)
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks run at the same time.")
    concurrent: int = Field(default=0, ge=0, description="At most this many at once (0: no limit).")

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        return run_parallel(run, self.tasks, self.concurrent, None, run.task_run.value)


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
    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks"),)
    shares_working_directory: ClassVar[bool] = True
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks that share one working directory.")

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        return run_sequence(run, self.tasks, None, run.task_run.value)


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
    child_lists: ClassVar[tuple[ChildList, ...]] = (
        ChildList("then", label="then"),
        ChildList("else", label="else", optional=True),
    )
    condition: str | bool = Field(description="Expression; true runs `then`, false runs `else`.")
    then: list[AnyTask] = Field(min_length=1, description="Tasks run when the condition is true.")
    else_: list[AnyTask] | None = Field(default=None, alias="else", description="Tasks run when the condition is false.")

    def expand(self, run: FlowableRun) -> None:
        result = truthy(run.render("condition", self.condition))
        run.task_run.meta["branch"] = "then" if result else ("else" if self.else_ else None)
        run.task_run.outputs = {"evaluationResult": result}

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        return _chosen_branch(self, run)


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
    child_lists: ClassVar[tuple[ChildList, ...]] = (
        ChildList("cases", shape="map", label="case"),
        ChildList("defaults", label="default", optional=True),
    )
    value: Any = Field(description="The value to match, usually an expression.")
    cases: dict[str, list[AnyTask]] | None = Field(default=None, description="Branches by value.")
    defaults: list[AnyTask] | None = Field(default=None, description="Branch run when no case matches.")

    @model_validator(mode="after")
    def _some_branch(self) -> Switch:
        if not self.cases and not self.defaults:
            raise ValueError("a switch needs cases or defaults")
        return self

    def expand(self, run: FlowableRun) -> None:
        key = as_key(run.render("value", self.value))
        if self.cases and key in self.cases:
            branch: str | None = f"cases.{key}"
        else:
            branch = "defaults" if self.defaults else None
        run.task_run.meta["branch"] = branch
        run.task_run.outputs = {"value": run.mask(key), "defaults": branch == "defaults"}

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        return _chosen_branch(self, run)


def _chosen_branch(task: FlowableTask, run: FlowableRun) -> State | None:
    """Run the branch ``expand`` chose (none: SUCCESS at once)."""
    branch = run.task_run.meta.get("branch")
    tasks = task.branches().get(branch, []) if branch else []
    return run_sequence(run, tasks, None, run.task_run.value) if tasks else State.SUCCESS


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
    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks"),)
    iterates: ClassVar[bool] = True
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

    def effective_concurrency(self) -> int:
        """0 means unlimited. EachParallel's default is unlimited, ForEach's is 1."""
        if self.concurrency_limit is not None:
            return self.concurrency_limit
        return 0 if self.type.endswith("EachParallel") else 1

    def expand(self, run: FlowableRun) -> None:
        raw = run.render("values", self.values)
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise FlowableError(
                    f"{self.id}.values: {run.mask(raw)!r} is not a list (give a YAML list or a JSON array)"
                ) from None
        if isinstance(raw, dict):
            raw = list(raw.items())
        if not isinstance(raw, list):
            raise FlowableError(f"{self.id}.values: expected a list, got {type(raw).__name__}")
        keys = [as_key(v) for v in raw]
        run.task_run.meta["values"] = run.mask(keys)  # a task-run value is stored and shown: never a secret
        if run.task_run.meta["values"] != keys:
            run.log(
                "WARN",
                f"{self.id}.values: a value holds a secret, so the loop sees it masked; "
                "loop over secret names instead and call secret(taskrun.value) inside",
            )

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        """One sequence of ``tasks`` per value; only the iteration that changed is looked at again."""
        tr, st = run.task_run, run.execution_state
        values: list[str] = tr.meta.get("values", [])
        started = st.iterations.setdefault(tr.id, set())
        stats = st.done_iterations.setdefault(tr.id, {})
        to_check = [iteration] if iteration is not None else [i for i in started if i not in stats]
        failed = st.failed_iterations.get(tr.id, 0)
        for i in to_check:
            if i in stats or i not in started:
                continue
            res = run_sequence(run, self.tasks, i, values[i])
            if res is not None:
                stats[i] = res
                failed += res.failed
        limit = self.effective_concurrency()
        while not failed and len(started) < len(values) and (limit == 0 or len(started) - len(stats) < limit):
            i = len(started)
            started.add(i)
            res = run_sequence(run, self.tasks, i, values[i])
            if res is not None:
                stats[i] = res
                failed += res.failed
        st.failed_iterations[tr.id] = failed
        if len(started) - len(stats):
            return None  # iterations still running
        if len(stats) == len(values) or failed:
            return worst(list(stats.values())) if stats else State.SUCCESS
        return None


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
    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks", shape="graph"),)
    tasks: list[DagItem] = Field(min_length=1, description="Tasks with their dependencies.")
    concurrent: int = Field(default=0, ge=0, description="At most this many at once (0: no limit).")

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        """Start every task whose dependencies all succeeded; a failure starts no more."""
        scope = run.scope(None)
        value = run.task_run.value
        done: dict[str, State] = {}
        running = 0
        for item in self.tasks:
            tr = scope.get(item.task.id)
            if tr is not None:
                if tr.state.terminal:
                    done[item.task.id] = tr.state
                else:
                    running += 1
        failed = any(s.failed for s in done.values())
        progressed = True
        while progressed and not failed:
            progressed = False
            for item in self.tasks:
                if item.task.id in done or item.task.id in scope:
                    continue
                if self.concurrent and running >= self.concurrent:
                    break
                if all(d in done and not done[d].failed for d in item.depends_on or []):
                    tr = run.create(item.task, None, value)
                    if tr.state.terminal:
                        done[item.task.id] = tr.state
                        failed = failed or tr.state.failed
                        progressed = True
                    else:
                        running += 1
        if running:
            return None
        if len(done) == len(self.tasks) or failed:
            return worst(list(done.values()))
        return None


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

    def child_execution_id(self, task_run: TaskRun) -> str | None:
        return (task_run.outputs or {}).get("executionId")

    def _child(self, run: FlowableRun) -> ChildExecution:
        inherited = run.execution.labels if self.inherit_labels else {}
        rendered = run.render("inputs", self.inputs or {})
        inputs = run.mask(rendered)  # the child execution stores its inputs: never a secret
        if inputs != rendered:
            run.log(
                "WARN",
                f"{self.id}.inputs: a value holds a secret, so the subflow receives it masked; "
                "let the subflow call secret() itself",
            )
        return ChildExecution(
            task_run_id=run.task_run.id,
            namespace=self.namespace,
            flow_id=self.flow_id,
            inputs=inputs,
            labels=run.mask({**inherited, **run.render("labels", self.labels or {})}),
            revision=self.revision,
            wait=self.wait,
        )

    def expand(self, run: FlowableRun) -> None:
        run.start_child_execution(self._child(run))

    def restore(self, run: FlowableRun) -> None:
        if run.task_run.state == State.RUNNING and not self.child_execution_id(run.task_run):
            run.start_child_execution(self._child(run))  # the process stopped before the child was started

    def reset(self, run: FlowableRun) -> None:
        run.task_run.outputs = None  # a restart starts a new child execution

    def on_kill(self, run: FlowableRun) -> None:
        child = self.child_execution_id(run.task_run)
        if child:
            run.kill_child_execution(child)

    def on_child_end(self, run: FlowableRun, child: dict[str, Any]) -> None:
        child_state = State(child["state"])
        outputs = {"executionId": child["id"], "state": str(child_state), "outputs": child.get("outputs") or {}}
        if child_state.failed and self.transmit_failed:
            state = State.WARNING if self.allow_failure else State.FAILED
            run.log("ERROR", f"subflow {child.get('namespace')}.{child.get('flowId')} execution {child['id']} ended {child_state}")
        else:
            state = State.WARNING if child_state == State.WARNING else State.SUCCESS
        run.end(state, outputs)


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

    def expand(self, run: FlowableRun) -> None:
        run.pause()
        run.log("INFO", f"{self.id}: execution paused; resume it to go on")
        self._set_timers(run)

    def restore(self, run: FlowableRun) -> None:
        if run.task_run.state == State.PAUSED:
            self._set_timers(run)  # timers live in memory only
        elif run.task_run.state == State.RUNNING:
            self.expand(run)  # restarted after it was killed while paused: pause again

    def reset(self, run: FlowableRun) -> None:
        run.task_run.start_date = now_iso()  # a restarted pause waits its whole duration again

    def on_timer(self, run: FlowableRun, kind: str) -> None:
        tr = run.task_run
        if tr.state != State.PAUSED:
            return
        if kind == "pause-resume":
            run.unpause()
            run.end(State.SUCCESS, tr.outputs)
        elif kind == "pause-timeout":
            behavior = (self.behavior or "FAIL").upper()
            target = {"RESUME": State.SUCCESS, "WARN": State.WARNING, "CANCEL": State.CANCELLED}.get(behavior, State.FAILED)
            run.log("WARN", f"pause timed out; task ends {target}")
            run.unpause()
            run.end(target, None)

    def _set_timers(self, run: FlowableRun) -> None:
        start = parse_iso(run.task_run.start_date)
        elapsed = (datetime.now(UTC) - start).total_seconds() if start else 0.0
        if self.pause_duration is not None:
            run.set_timer(max(0.0, self.pause_duration.total_seconds() - elapsed), "pause-resume")
        if self.timeout is not None:
            run.set_timer(max(0.0, self.timeout.total_seconds() - elapsed), "pause-timeout")
