"""The task services of a :class:`~engine.runtime.local.LocalRunner`: what ``RunContext.services`` holds.

Implementations of the interfaces in :mod:`engine.model.services` over the
runner's store and storage. They run on worker threads: reads and the kv and
trigger tables are written directly (each in its own transaction); anything
that changes an execution goes through the runner loop (``runner.resume``),
which stays the only writer of executions.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.model.services import ExecutionRef, FlowSource, KvItem, PurgeCounts, ServiceError, TaskServices
from engine.model.state import State
from engine.model.validation import validate_text
from engine.runtime.secret_inputs import hide_secret_inputs
from engine.store import history
from engine.store.kv import KvEntry, KvError, KvStore
from engine.store.triggers import TriggerStore

if TYPE_CHECKING:
    from sqlalchemy import Row

    from engine.runtime.local import LocalRunner

#: Where the builder shows one execution, relative to the server's public URL.
EXECUTION_PAGE = "/ui/execution?id={id}"


def public_url(configured: str | None = None) -> str | None:
    """The server's public URL: the configured one, else ``LANNER_URL``; None when neither is set."""
    url = (configured or os.environ.get("LANNER_URL") or "").strip()
    return url.rstrip("/") or None


class StoreKv:
    """:class:`~engine.model.services.KvService` over the ``kv_entries`` table."""

    def __init__(self, runner: LocalRunner):
        self._kv = KvStore(runner.store)

    @staticmethod
    def _item(entry: KvEntry) -> KvItem:
        return KvItem(entry.namespace, entry.key, entry.value, entry.type, entry.updated, entry.expiration)

    def get(self, namespace: str, key: str) -> KvItem | None:
        try:
            entry = self._kv.get(namespace, key)
        except KvError as exc:
            raise ServiceError(str(exc)) from None
        return None if entry is None else self._item(entry)

    def put(self, namespace: str, key: str, value: object, *, type: str | None = None, ttl: timedelta | None = None,
            overwrite: bool = True) -> KvItem:
        try:
            return self._item(self._kv.put(namespace, key, value, type=type, ttl=ttl, overwrite=overwrite))
        except KvError as exc:
            raise ServiceError(str(exc)) from None

    def delete(self, namespace: str, key: str) -> bool:
        try:
            return self._kv.delete(namespace, key)
        except KvError as exc:
            raise ServiceError(str(exc)) from None

    def list(self, namespace: str) -> list[KvItem]:
        return [self._item(e) for e in self._kv.list(namespace)]

    def purge(self, namespaces: builtins.list[str] | None, *, namespace_glob: str | None = None, key_glob: str | None = None,
              include_children: bool = True, expired_only: bool = True) -> int:
        return self._kv.purge(namespaces, namespace_glob=namespace_glob, key_glob=key_glob,
                              include_children=include_children, expired_only=expired_only)


def _ref(row: Row[Any]) -> ExecutionRef:
    parent = json.loads(row.parent) if row.parent else None
    outputs = json.loads(row.outputs) if row.outputs else {}
    return ExecutionRef(row.id, row.namespace, row.flow_id, row.state, parent, outputs)


class StoreExecutions:
    """:class:`~engine.model.services.ExecutionService` over the runner's store; commands go through its loop."""

    def __init__(self, runner: LocalRunner, execution_id: str):
        self._runner = runner
        self._store = runner.store
        self._current = execution_id  # the execution of the task using it: a purge never deletes it

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        """A task reads another execution as a front end does: its SECRET inputs masked."""
        found = self._store.summary(str(execution_id))
        return None if found is None else hide_secret_inputs(found, self._runner.get_flow)

    def page_url(self, execution_id: str) -> str | None:
        from urllib.parse import quote

        base = public_url(getattr(self._runner, "public_url", None))
        return base + EXECUTION_PAGE.format(id=quote(str(execution_id), safe="")) if base else None

    def find(self, execution_id: str) -> ExecutionRef | None:
        ex = self._store.get_execution(execution_id)
        if ex is None:
            return None
        return ExecutionRef(ex.id, ex.namespace, ex.flow_id, str(ex.state), ex.parent, ex.outputs)

    def count(self, *, flows: list[tuple[str, str]] | None, namespaces: list[str] | None, states: list[str] | None,
              start: datetime | None, end: datetime | None) -> list[tuple[str, str, int]]:
        return history.count_by_flow(self._store, flows=flows, namespaces=namespaces, states=states, start=start, end=end)

    def purge(self, *, namespace: str | None, flow_id: str | None, start: datetime | None, end: datetime,
              states: list[str] | None, executions: bool = True, logs: bool = True, storage: bool = True) -> PurgeCounts:
        self._runner.sync()  # what the loop still holds in memory is written before rows are chosen
        res = history.purge_executions(
            self._store, self._runner.storage, namespace=namespace, flow_id=flow_id, start=start, end=end, states=states,
            purge_executions=executions, purge_logs=logs, purge_storage=storage, keep=self._current,
        )
        return PurgeCounts(executions=res.executions, logs=res.logs, storage=res.storage)

    def logs(self, execution_id: str, *, task_ids: list[str] | None = None, min_level: str = "INFO") -> Iterator[dict[str, Any]]:
        self._runner.sync()  # lines still in the log buffer are stored first
        try:
            levels = history.levels_from(min_level)
        except ValueError as exc:
            raise ServiceError(str(exc)) from None
        return history.iter_logs(self._store, execution_id, task_ids=task_ids, min_level=levels[0])

    def purge_logs(self, *, namespace: str | None, flow_id: str | None, levels: list[str] | None,
                   start: datetime | None, end: datetime) -> int:
        self._runner.sync()
        return history.purge_logs(self._store, namespace=namespace, flow_id=flow_id, levels=levels, start=start, end=end)

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> None:
        ex = self._store.get_execution(execution_id)
        if ex is None:
            raise ServiceError(f"execution {execution_id} does not exist")
        if ex.state != State.PAUSED:
            raise ServiceError(f"execution {execution_id} is {ex.state}, not PAUSED: only a paused execution can be resumed")
        self._runner.resume(execution_id, dict(inputs) if inputs else None)

    def children(self, execution_id: str, task_id: str, value: str | None = None) -> Iterator[ExecutionRef]:
        self._runner.sync()
        refs = (_ref(row) for row in history.ended_children(self._store, execution_id, task_id))
        return (ref for ref in refs if (ref.parent or {}).get("value") == value)


class StoreTriggers:
    """:class:`~engine.model.services.TriggerService`: the disabled flag of a deployed flow's trigger."""

    def __init__(self, runner: LocalRunner):
        self._runner = runner
        self._triggers = TriggerStore(runner.store)

    def set_enabled(self, namespace: str, flow_id: str, trigger_id: str, enabled: bool) -> None:
        try:
            flow = self._runner.get_flow(namespace, flow_id)
        except LookupError:
            raise ServiceError(f"flow {namespace}.{flow_id} does not exist") from None
        ids = [t.id for t in flow.triggers or []]
        if trigger_id not in ids:
            known = ", ".join(ids) or "none"
            raise ServiceError(f"flow {namespace}.{flow_id} has no trigger '{trigger_id}' (its triggers: {known})")
        self._triggers.set_disabled(namespace, flow_id, trigger_id, not enabled)


class RunnerFlows:
    """:class:`~engine.model.services.FlowService` over a runner: the same validation and revisions as the API."""

    def __init__(self, runner: LocalRunner):
        self._runner = runner

    def list(self, namespace: str, *, children: bool = False) -> list[FlowSource]:
        records = self._runner.store.list_flows(namespace)
        return [FlowSource(r.namespace, r.id, r.revision, r.source) for r in records if children or r.namespace == namespace]

    def get(self, namespace: str, flow_id: str) -> FlowSource | None:
        rec = self._runner.store.get_flow(namespace, flow_id)
        return FlowSource(rec.namespace, rec.id, rec.revision, rec.source) if rec is not None else None

    def check(self, source: str) -> builtins.list[str]:
        return [str(e) for e in validate_text(source).errors]

    def deploy(self, source: str) -> FlowSource:
        flow = self._runner.deploy(source)
        return FlowSource(flow.namespace, flow.id, int(flow.revision or 0), source)

    def delete(self, namespace: str, flow_id: str) -> bool:
        if not self._runner.store.delete_flow(namespace, flow_id):
            return False
        TriggerStore(self._runner.store).forget_flow(namespace, flow_id)
        return True


class RunnerServices:
    """Builds the :class:`~engine.model.services.TaskServices` of each attempt (cheap: no I/O until used)."""

    def __init__(self, runner: LocalRunner):
        self._runner = runner
        self._kv = StoreKv(runner)
        self._triggers = StoreTriggers(runner)
        self._flows = RunnerFlows(runner)

    def for_execution(self, execution_id: str) -> TaskServices:
        return TaskServices(kv=self._kv, executions=StoreExecutions(self._runner, execution_id), triggers=self._triggers,
                            flows=self._flows)
