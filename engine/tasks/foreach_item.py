"""ForEachItem: one subflow execution per batch of items of a stored file (Kestra's ``flow.ForEachItem``).

As in Kestra, the task runs three steps one after another, each a task run of
its own, so their outputs read the same:

* ``<id>_split`` cuts the file (``items``, a FILE input or a task's file
  output) into batches of ``batch.rows`` lines (or ``bytes``, or
  ``partitions``), streaming: one line in memory at a time;
* ``<id>_items`` starts one execution of ``namespace.flowId`` per batch, with
  ``{{ taskrun.items }}`` (the batch's URI) and ``{{ taskrun.iteration }}``
  (from 1) in its ``inputs``; ``outputs.<id>_items.iterations`` counts the
  batches by state while they run. At most :data:`MAX_RUNNING` batches run
  at once (the rest wait for a free slot), so memory stays flat however many
  batches there are;
* ``<id>_merge`` gathers the subflows' flow outputs into one Ion file, one
  line per batch (``outputs.<id>_merge.subflowOutputs``).

The ForEachItem task run ends with ``numberOfBatches``, ``iterations`` and
``uri`` (the merged outputs) as its own outputs. With ``wait: false`` the
executions are started and the task ends at once; with ``transmitFailed``
(the default) a failed batch fails the task once every batch has ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, ClassVar

from pydantic import Field, field_validator

from engine.sdk import (
    ChildExecution,
    FlowableRun,
    FlowableTask,
    LannerModel,
    RunContext,
    RunnableTask,
    State,
    StorageError,
    Task,
    TaskFailed,
    TaskResult,
    TaskRun,
    dump_row,
    new_id,
    register_task,
    run_sequence,
)
from engine.tasks.splitting import SplitOptions, extension_of, plan, split_file
from engine.tasks.storage_files import storage_uri

#: Batches whose subflow execution runs at the same time (the others wait for a free slot).
MAX_RUNNING = 100
SPLIT, ITEMS, MERGE = "_split", "_items", "_merge"
#: The counters of ``iterations`` Kestra always shows.
COUNTED = ("CREATED", "RUNNING")


class Batch(SplitOptions):
    """How to cut the items into batches (one of rows, bytes or partitions; rows: 1 by default)."""


class _Subflow(LannerModel):
    """What each batch's execution is: the properties ForEachItem hands to its ``_items`` step."""

    namespace: str
    flow_id: str
    revision: int | None = None
    inputs: dict[str, Any] | None = None
    labels: dict[str, Any] | list[dict[str, Any]] | None = None
    wait: bool = True
    transmit_failed: bool = True
    inherit_labels: bool = False


@register_task(
    "for_each_item",
    "io.kestra.plugin.core.flow.ForEachItem",
    "io.kestra.core.tasks.flows.ForEachItem",
    group="Flow control",
    title="For each batch of items",
    icon="📦",
    summary="Split a stored file into batches of lines and run a subflow once per batch.",
)
class ForEachItem(FlowableTask):
    items: str = Field(description="URI of the file of items, one per line (a FILE input, a task's file output).")
    batch: Batch = Field(default_factory=Batch, description="rows (default 1), bytes or partitions per batch.")
    namespace: str = Field(description="Namespace of the subflow.")
    flow_id: str = Field(description="Id of the subflow.")
    revision: int | None = Field(default=None, description="Revision of the subflow (default: the latest).")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of each execution; {{ taskrun.items }} is the batch's URI.")
    labels: dict[str, Any] | list[dict[str, Any]] | None = Field(default=None, description="Labels of each execution (map or list of key/value).")
    wait: bool = Field(default=True, description="Wait for the executions to end (false: start them and go on).")
    transmit_failed: bool = Field(default=True, description="Fail when a batch's execution fails (with wait).")
    inherit_labels: bool = Field(default=False, description="Give each execution this execution's labels too.")
    schedule_date: str | None = Field(default=None, description="Kestra's delayed start; not supported: the executions start at once.")

    @field_validator("schedule_date")
    @classmethod
    def _no_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("scheduleDate is not supported: ForEachItem starts the executions at once")
        return value

    @cached_property
    def steps(self) -> list[Task]:
        """The three steps, built once per flow revision (the executor finds them by id)."""
        sub = _Subflow(
            namespace=self.namespace, flow_id=self.flow_id, revision=self.revision, inputs=self.inputs, labels=self.labels,
            wait=self.wait, transmit_failed=self.transmit_failed, inherit_labels=self.inherit_labels,
        )
        return [
            ForEachItemSplit(id=self.id + SPLIT, type=f"{self.type}$Split", items=self.items, batch=self.batch),
            ForEachItemExecutable(id=self.id + ITEMS, type=f"{self.type}$Executable", subflow=sub, split_id=self.id + SPLIT),
            ForEachItemMerge(id=self.id + MERGE, type=f"{self.type}$Merge", items_id=self.id + ITEMS),
        ]

    @classmethod
    def implied_task_ids(cls, task_id: str) -> list[str]:
        """Ids of the task runs this type adds, which expressions may read (``outputs.<id>_merge``)."""
        return [task_id + SPLIT, task_id + ITEMS, task_id + MERGE]

    def child_task_lists(self) -> dict[str, list[Task]]:
        out = {"tasks": list(self.steps)}
        if self.errors:
            out["errors"] = list(self.errors)
        if self.finally_:
            out["finally"] = list(self.finally_)
        return out

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        state = run_sequence(run, self.steps, None, run.task_run.value)
        if state is not None:
            scope = run.scope(None)
            items = scope.get(self.id + ITEMS)
            merge = scope.get(self.id + MERGE)
            outputs = dict(items.outputs or {}) if items is not None else {}
            if merge is not None and merge.outputs and merge.outputs.get("subflowOutputs"):
                outputs["uri"] = merge.outputs["subflowOutputs"]
            if outputs:
                run.execution_state.set_outputs(run.task_run, outputs)
        return state


class ForEachItemSplit(RunnableTask):
    """Step 1: cut the items into batch files named 1.ext, 2.ext ... in this task run's folder."""

    items: str
    batch: Batch

    def run(self, ctx: RunContext) -> TaskResult:
        source = storage_uri(ctx.render(self.items), f"{self.id.removesuffix(SPLIT)}.items")
        how = plan(self.batch, ctx, f"{self.id.removesuffix(SPLIT)}.batch", default_rows=1)
        ext = extension_of(source)
        try:
            uris = split_file(ctx, source, how, lambda n: f"{n}{ext}")
            listing = ctx.file_uri("splits.txt")
            with ctx.storage.open_write(listing, namespace=ctx.namespace) as out:
                for uri in uris:
                    out.write(uri.encode("utf-8") + b"\n")
        except StorageError as exc:
            raise TaskFailed(f"{self.id.removesuffix(SPLIT)}.items: {exc}") from None
        prefix = uris[0][: -len(f"1{ext}")] if uris else None
        ctx.logger.info(f"{len(uris)} batches")
        return TaskResult({"splits": listing, "numberOfBatches": len(uris), "batchPrefix": prefix, "batchExtension": ext})


class ForEachItemExecutable(FlowableTask):
    """Step 2: one execution of the subflow per batch, at most MAX_RUNNING at once.

    Bookkeeping in the task run's ``meta``: ``next`` (the next batch to start),
    ``running`` (batch -> its execution id), ``retry`` (batches to run again
    after a restart), ``failed`` (batches that failed), ``counts`` (ended
    batches by state).
    """

    subflow: _Subflow
    split_id: str

    def child_execution_ids(self, task_run: TaskRun) -> list[str]:
        return list((task_run.meta.get("running") or {}).values())

    def expand(self, run: FlowableRun) -> None:
        tr = run.task_run
        split = run.execution_state.scope(tr.parent_task_run_id, tr.iteration).get(self.split_id)
        out = (split.outputs or {}) if split is not None else {}
        tr.meta.update(
            batches=int(out.get("numberOfBatches") or 0), prefix=out.get("batchPrefix"), ext=out.get("batchExtension", ""),
            next=1, running={}, retry=[], failed=[], counts={},
        )
        if tr.meta["batches"]:
            self._publish(run)

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        meta = run.task_run.meta
        total = meta.get("batches", 0)
        if not total:
            return State.SUCCESS  # no items: no execution, no outputs (Kestra's behaviour)
        window = MAX_RUNNING if self.subflow.wait else total
        started = False
        while len(meta["running"]) < window and (meta["retry"] or meta["next"] <= total):
            batch = meta["retry"].pop(0) if meta["retry"] else meta["next"]
            if batch == meta["next"]:
                meta["next"] += 1
            self._start(run, batch)
            started = True
        if started:
            self._publish(run)
        if meta["running"] or meta["next"] <= total or meta["retry"]:
            return None
        counts = meta["counts"]
        if self.subflow.transmit_failed and any(counts.get(s) for s in ("FAILED", "KILLED", "CANCELLED")):
            run.log("ERROR", f"{len(meta['failed'])} of {total} batches failed (first: batch {min(meta['failed'])})")
            return State.FAILED
        return State.WARNING if counts.get("WARNING") else State.SUCCESS

    def _start(self, run: FlowableRun, batch: int, *, again: bool = False, child_id: str | None = None) -> None:
        meta = run.task_run.meta
        items = f"{meta['prefix']}{batch}{meta['ext']}"
        rendered = run.render("inputs", self.subflow.inputs or {}, {"taskrun": {"items": items, "iteration": batch}})
        labels = dict(run.execution.labels) if self.subflow.inherit_labels else {}
        labels.update(_labels(run.render("labels", self.subflow.labels or {}, {"taskrun": {"items": items, "iteration": batch}})))
        child_id = child_id or new_id()
        meta["running"][str(batch)] = child_id
        run.start_child_execution(
            ChildExecution(
                task_run_id=run.task_run.id,
                namespace=str(run.render("namespace", self.subflow.namespace)),
                flow_id=str(run.render("flowId", self.subflow.flow_id)),
                inputs=run.child_inputs(rendered),
                labels=run.mask(labels),
                revision=self.subflow.revision,
                wait=self.subflow.wait,
                execution_id=child_id,
                iteration=batch,
                again=again,
            )
        )

    def on_child_end(self, run: FlowableRun, child: dict[str, Any]) -> None:
        meta = run.task_run.meta
        batch = str((child.get("parent") or {}).get("iteration"))
        if meta.get("running", {}).get(batch) != child.get("id"):
            return  # not one of the running batches: an end reported twice
        del meta["running"][batch]
        state = str(child.get("state"))
        meta["counts"][state] = meta["counts"].get(state, 0) + 1
        if state in ("FAILED", "KILLED", "CANCELLED"):
            meta["failed"].append(int(batch))
        self._publish(run)
        run.reevaluate()

    def _publish(self, run: FlowableRun) -> None:
        """``outputs.<id>_items``: the batches by state, live (CREATED: not started, RUNNING: started)."""
        meta = run.task_run.meta
        waiting = meta["batches"] - (meta["next"] - 1) + len(meta["retry"])
        iterations = {"CREATED": waiting, "RUNNING": len(meta["running"]), **meta["counts"]}
        if not self.subflow.wait:
            iterations.pop("CREATED")  # Kestra: without wait only RUNNING and the end states show
        run.execution_state.set_outputs(run.task_run, {"numberOfBatches": meta["batches"], "iterations": iterations})

    def on_kill(self, run: FlowableRun) -> None:
        for child_id in (run.task_run.meta.get("running") or {}).values():
            run.kill_child_execution(child_id)

    def restore(self, run: FlowableRun) -> None:
        """After a restart of the process: start again the batches whose execution may never have started."""
        meta = run.task_run.meta
        if run.task_run.state != State.RUNNING or "running" not in meta:
            return
        self._publish(run)
        for batch, child_id in list(meta["running"].items()):
            self._start(run, int(batch), again=True, child_id=child_id)

    def reset(self, run: FlowableRun) -> None:
        """A restart of a failed ForEachItem runs its failed batches again (the others keep their result)."""
        meta = run.task_run.meta
        for batch in meta.get("failed", []):
            meta["retry"].append(batch)
        for state in ("FAILED", "KILLED", "CANCELLED"):
            meta["counts"].pop(state, None)
        meta["failed"] = []
        meta["running"] = {}


class ForEachItemMerge(RunnableTask):
    """Step 3: the subflows' outputs, one Ion line per batch in batch order (the latest run of each)."""

    uses_services: ClassVar[bool] = True
    items_id: str

    def run(self, ctx: RunContext) -> TaskResult:
        value = ctx.variables.get("taskrun", {}).get("value")
        latest: dict[int, dict[str, Any]] = {}
        for child in ctx.executions.children(ctx.execution_id, self.items_id, value):
            batch = (child.parent or {}).get("iteration")
            if isinstance(batch, int):
                latest[batch] = dict(child.outputs or {})
        if not any(latest.values()):
            return TaskResult()  # no subflow declared outputs
        uri = ctx.file_uri("outputs.ion")
        with ctx.storage.open_write(uri, namespace=ctx.namespace) as out:
            for batch in sorted(latest):
                out.write(dump_row(latest[batch]))
        return TaskResult({"subflowOutputs": uri})


def _labels(value: object) -> dict[str, str]:
    if isinstance(value, list):
        return {str(item.get("key")): str(item.get("value")) for item in value if isinstance(item, dict)}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}
