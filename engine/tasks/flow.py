"""The built-in flowable tasks: each type says which child lists it has, how it
expands, and when it is done (see ``engine.model.flowable``).

The executor knows none of these classes: it calls the hooks of
:class:`~engine.model.flowable.FlowableTask`, so a plugin's flowable type works
the same way.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from engine.sdk import (
    AnyTask,
    Attempt,
    ChildExecution,
    ChildList,
    Duration,
    DynamicDuration,
    FlowableError,
    FlowableRun,
    FlowableTask,
    LannerModel,
    RunContext,
    State,
    TaskFailed,
    as_key,
    needs_rebuild,
    now_iso,
    parse_iso,
    register_task,
    resolve_duration,
    run_parallel,
    run_sequence,
    storage_for_context,
    summary_context,
    truthy,
    worst,
)
from engine.tasks.namespace_files_option import NamespaceFiles

if TYPE_CHECKING:
    from engine.sdk import TaskRun


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


class WorkingDirectoryCache(LannerModel):
    """Kestra's WorkingDirectory ``cache``: files kept between executions."""

    patterns: list[str] = Field(min_length=1, description="Glob patterns of the files to keep (e.g. node_modules/**).")
    ttl: Duration | None = Field(default=None, description="How long the kept files are reused (ISO-8601); unset: for ever.")


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
    """Kestra's WorkingDirectory: its tasks run one after another in one folder. Before them, a worker
    fills it (the ``cache`` of an earlier execution, ``namespaceFiles``, ``inputFiles``); after them it
    stores ``outputFiles`` (``outputs.<id>.outputFiles``) and, when they succeeded, refreshes the cache."""

    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks"),)
    shares_working_directory: ClassVar[bool] = True
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks that share one working directory.")
    input_files: dict[str, str] | str | None = Field(
        default=None, description="Files written into the folder before the tasks: name -> content (or a storage URI)."
    )
    output_files: list[str] | None = Field(
        default=None, description="Glob patterns of files kept in internal storage after the tasks (outputs.<id>.outputFiles)."
    )
    namespace_files: NamespaceFiles | None = Field(default=None, description="Namespace files copied into the folder first.")
    cache: WorkingDirectoryCache | None = Field(
        default=None, description="Files kept from one execution to the next (patterns, ttl), e.g. a virtual environment."
    )

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        return run_sequence(run, self.tasks, None, run.task_run.value)

    def reset(self, run: FlowableRun) -> None:
        run.task_run.meta.pop("done", None)  # a restart collects its files again

    def worker_steps(self) -> tuple[str, ...]:
        steps = []
        if self.cache or self.input_files is not None or (self.namespace_files and self.namespace_files.enabled):
            steps.append("setup")
        if self.cache or self.output_files:
            steps.append("teardown")
        return tuple(steps)

    def run_worker_step(self, step: str, ctx: RunContext, state: State | None) -> dict[str, Any] | None:
        workdir = ctx.working_dir
        if workdir is None:
            raise TaskFailed("the working directory is missing")
        workdir = Path(workdir)
        if step == "setup":
            self._setup(ctx, workdir)
            return None
        from engine.tasks.script_files import collect_output_files

        outputs: dict[str, Any] = {}
        files = collect_output_files(ctx, workdir, self.output_files)
        if files:
            outputs["outputFiles"] = files
        if self.cache and state is not None and state.successful:
            self._save_cache(ctx, workdir)
        return outputs

    def _cache_name(self, ctx: RunContext) -> str:
        value = (ctx.variables.get("taskrun") or {}).get("value")
        suffix = hashlib.sha256(str(value).encode()).hexdigest()[:16] if value is not None else "default"
        return f"working-directory/{self.id}/{suffix}.zip"

    def _setup(self, ctx: RunContext, workdir: Path) -> None:
        if self.cache:
            ttl = self.cache.ttl.total_seconds() if self.cache.ttl else None
            data = storage_for_context(ctx).cache_get(ctx.namespace, ctx.flow_id, self._cache_name(ctx), ttl)
            if data is not None:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for member in archive.infolist():
                        target = (workdir / member.filename).resolve()
                        if member.is_dir() or not target.is_relative_to(workdir.resolve()):
                            continue
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(archive.read(member))
                ctx.logger.info(f"{len(data):,} bytes of cached files restored into the working directory")
            else:
                ctx.logger.debug("no cached files (first run, or older than the cache's ttl)")
        if self.namespace_files is not None and self.namespace_files.enabled:
            ctx.logger.debug(f"{self.namespace_files.copy_into(ctx, workdir)} namespace file(s) copied into the working directory")
        from engine.tasks.script_files import write_input_files

        write_input_files(ctx, workdir, self.input_files, {"workingDir": str(workdir)})

    def _save_cache(self, ctx: RunContext, workdir: Path) -> None:
        assert self.cache is not None
        buffer = io.BytesIO()
        count = 0
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            root = workdir.resolve()
            for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
                rel = path.relative_to(workdir).as_posix()
                if path.resolve().is_relative_to(root) and any(fnmatch.fnmatchcase(rel, pat.replace("**", "*")) for pat in self.cache.patterns):
                    archive.write(path, rel)
                    count += 1
        storage_for_context(ctx).cache_put(ctx.namespace, ctx.flow_id, self._cache_name(ctx), buffer.getvalue())
        ctx.logger.info(f"{count} file(s) kept in the cache for the next executions")


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
        nulls = [i for i, v in enumerate(raw) if v is None]
        if nulls:  # Kestra refuses them too: an iteration needs a value for taskrun.value
            raise FlowableError(f"{self.id}.values: item {nulls[0]} is null; every value of a ForEach must be set")
        keys = list(dict.fromkeys(as_key(v) for v in raw))  # Kestra runs each distinct value once
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
        started = st.iterations.get(tr.id)  # not setdefault: its default would be made at every step
        if started is None:
            started = st.iterations[tr.id] = set()
        stats = st.done_iterations.get(tr.id)
        if stats is None:
            stats = st.done_iterations[tr.id] = {}
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
    """Kestra's Subflow. ``namespace``, ``flowId``, ``inputs`` and ``labels`` are rendered; the child
    always carries this execution's ``system.*`` labels (all of them with ``inheritLabels``) and sees
    ``{{ trigger.executionId }}``, ``namespace``, ``flowId``, ``flowRevision`` of this execution. Each
    child execution is an attempt: the task's ``retry`` (or the enclosing one, or the flow's) starts a
    new child after a failure."""

    foreign_expressions: ClassVar[tuple[str, ...]] = ("outputs",)

    namespace: str = Field(description="Namespace of the flow to run (expressions rendered).")
    flow_id: str = Field(description="Id of the flow to run (expressions rendered).")
    revision: int | None = Field(default=None, ge=1, description="Revision to run (latest when unset).")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of the child execution (expressions rendered).")
    labels: dict[str, str] | list[dict[str, str]] | None = Field(
        default=None, description="Labels of the child execution (a map, or a list of key/value; rendered)."
    )
    wait: bool = Field(default=True, description="Wait for the child execution to end.")
    transmit_failed: bool = Field(default=True, description="Fail this task when the child execution fails.")
    inherit_labels: bool = Field(default=False, description="Copy this execution's labels to the child.")
    outputs: dict[str, Any] | None = Field(
        default=None, json_schema_extra={"deprecated": True},
        description="Deprecated (Kestra 0.15): values rendered against the child execution when it ends "
        "(`{{ outputs.<childTask>.value }}`), used as this task's `outputs` when the child flow declares none; "
        "declare `outputs` on the child flow instead.",
    )

    def child_execution_id(self, task_run: TaskRun) -> str | None:
        return (task_run.outputs or {}).get("executionId")

    def _child(self, run: FlowableRun) -> ChildExecution:
        ex = run.execution
        inherited = ex.labels if self.inherit_labels else {k: v for k, v in ex.labels.items() if k.startswith("system.")}
        rendered = run.render("inputs", self.inputs or {})
        inputs = run.child_inputs(rendered)  # the child execution stores its inputs: never a secret() value
        if inputs != rendered:
            run.log(
                "WARN",
                f"{self.id}.inputs: a value holds a secret, so the subflow receives it masked; "
                "let the subflow call secret() itself",
            )
        given = self.labels or {}
        if isinstance(given, list):
            given = {str(item.get("key")): str(item.get("value") or "") for item in given if isinstance(item, dict)}
        own = {str(k): "" if v is None else str(v) for k, v in (run.render("labels", given) or {}).items()}
        return ChildExecution(
            task_run_id=run.task_run.id,
            namespace=str(run.render("namespace", self.namespace)),
            flow_id=str(run.render("flowId", self.flow_id)),
            inputs=inputs,
            labels=run.mask({**inherited, **own}),
            revision=self.revision,
            wait=self.wait,
            trigger={
                "id": self.id,
                "type": self.type,
                "executionId": ex.id,
                "namespace": ex.namespace,
                "flowId": ex.flow_id,
                "flowRevision": ex.flow_revision,
            },
        )

    def _start(self, run: FlowableRun) -> None:
        run.task_run.attempts.append(Attempt(State.RUNNING, now_iso()))
        run.start_child_execution(self._child(run))

    def expand(self, run: FlowableRun) -> None:
        self._start(run)

    def restore(self, run: FlowableRun) -> None:
        if run.task_run.state == State.RUNNING and not self.child_execution_id(run.task_run):
            run.start_child_execution(self._child(run))  # the process stopped before the child was started

    def reset(self, run: FlowableRun) -> None:
        run.task_run.outputs = None  # a restart starts a new child execution
        run.task_run.attempts.append(Attempt(State.RUNNING, now_iso()))

    def on_kill(self, run: FlowableRun) -> None:
        child = self.child_execution_id(run.task_run)
        if child:
            run.kill_child_execution(child)

    def on_timer(self, run: FlowableRun, kind: str) -> None:
        if kind == "retry" and run.task_run.state == State.RETRYING:
            run.task_run.state = State.RUNNING
            run.task_run.outputs = None
            self._start(run)

    def on_child_end(self, run: FlowableRun, child: dict[str, Any]) -> None:
        tr = run.task_run
        child_state = State(child["state"])
        if tr.attempts and not tr.attempts[-1].state.terminal:
            tr.attempts[-1].state = child_state
            tr.attempts[-1].end_date = now_iso()
        outputs: dict[str, Any] = {"executionId": child["id"], "state": str(child_state)}
        try:
            outputs["outputs"] = self._outputs(run, child)
        except FlowableError as exc:  # Kestra: outputs that cannot be extracted fail the task
            run.log("ERROR", f"the outputs of the subflow execution could not be extracted: {exc}")
            run.end(State.FAILED, outputs)
            return
        if child_state.failed and self.transmit_failed:
            run.log("ERROR", f"subflow {child.get('namespace')}.{child.get('flowId')} execution {child['id']} ended {child_state}")
            if run.retry_later(f"the subflow execution ended {child_state}"):
                return
            state = State.FAILED
        else:
            state = State.WARNING if child_state == State.WARNING else State.SUCCESS
        run.end(state, outputs)

    def _outputs(self, run: FlowableRun, child: dict[str, Any]) -> Any:
        declared = child.get("outputs") or {}
        if declared or not self.outputs:
            return declared
        return run.render("outputs", self.outputs, context=summary_context(child))


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
    """Kestra's Pause. ``pauseDuration`` (its older name ``delay``) ends the pause by itself with
    ``behavior`` (RESUME by default); Kestra's older ``timeout`` alone ends it FAILED. The deprecated
    ``tasks`` run after the pause ends, as a sequence whose state is the pause's."""

    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks", label="after the pause", optional=True),)
    pause_duration: DynamicDuration | None = Field(
        default=None,
        validation_alias=AliasChoices("pauseDuration", "delay", "pause_duration"),
        description="End the pause by itself after this duration (an expression may give it), with `behavior`.",
    )
    on_resume: list[dict[str, Any]] | None = Field(default=None, description="Inputs asked for when resuming.")
    behavior: Literal["RESUME", "WARN", "FAIL", "CANCEL"] | None = Field(
        default=None,
        description="What the end of pauseDuration does: RESUME (default), WARN, FAIL or CANCEL. "
        "With only the older `timeout`, the default is FAIL.",
    )
    tasks: list[AnyTask] | None = Field(
        default=None, json_schema_extra={"deprecated": True},
        description="Deprecated (Kestra 0.x): tasks run after the pause ends; put them after the Pause instead.",
    )

    @field_validator("behavior", mode="before")
    @classmethod
    def _upper(cls, value: object) -> Any:
        return value.upper() if isinstance(value, str) else value

    def expand(self, run: FlowableRun) -> None:
        run.pause()
        run.log("INFO", f"{self.id}: execution paused; resume it to go on")
        self._set_timers(run)

    def restore(self, run: FlowableRun) -> None:
        if run.task_run.state == State.PAUSED:
            self._set_timers(run)  # timers live in memory only
        elif run.task_run.state == State.RUNNING and not run.task_run.meta.get("resumed"):
            self.expand(run)  # restarted after it was killed while paused: pause again

    def reset(self, run: FlowableRun) -> None:
        if not run.task_run.meta.get("resumed"):
            run.task_run.start_date = now_iso()  # a restarted pause waits its whole duration again

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        if not self.tasks:
            return State.SUCCESS
        return run_sequence(run, self.tasks, None, run.task_run.value)

    def resumed(self, run: FlowableRun, outputs: dict[str, Any] | None) -> None:
        """Resumed (by someone, or by the end of pauseDuration): run the deprecated ``tasks``, else end."""
        run.unpause()
        if self.tasks:
            run.task_run.meta["resumed"] = True
            run.continue_running(outputs)
        else:
            run.end(State.SUCCESS, outputs)

    def on_timer(self, run: FlowableRun, kind: str) -> None:
        tr = run.task_run
        if tr.state != State.PAUSED:
            return
        if kind == "pause-resume":
            behavior = self.behavior or "RESUME"
        elif kind == "pause-timeout":
            behavior = self.behavior or "FAIL"
        else:
            return
        if behavior == "RESUME":
            self.resumed(run, tr.outputs)
            return
        target = {"WARN": State.WARNING, "CANCEL": State.CANCELLED}.get(behavior, State.FAILED)
        run.log("WARN", f"{self.id}: the pause ended after its duration with behavior {behavior}; the task ends {target}")
        run.unpause()
        run.end(target, None)

    def _set_timers(self, run: FlowableRun) -> None:
        start = parse_iso(run.task_run.start_date)
        elapsed = (datetime.now(UTC) - start).total_seconds() if start else 0.0
        for kind, value in (("pause-resume", self.pause_duration), ("pause-timeout", self.timeout)):
            name = "pauseDuration" if kind == "pause-resume" else "timeout"
            if value is None:
                continue
            try:
                duration = resolve_duration(value, partial(run.render, name), f"{self.id}.{name}")
            except ValueError as exc:
                raise FlowableError(str(exc)) from None
            if duration is not None:
                run.set_timer(max(0.0, duration.total_seconds() - elapsed), kind)
