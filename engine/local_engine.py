"""The Engine in this process: the runner loop, its store and its internal storage.

Reads go to the store; every change of an execution goes to the runner, whose loop
is the only writer of execution rows (a replay and new labels too); files go to the
internal storage. What leaves is masked: a secret value never reaches a front end.
The runner is started on first use when the engine is given none (``lanner flow
validate`` and namespace-file commands never start one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.local_assist import AssistOps, is_task_test
from engine.local_dashboards import DashboardOps
from engine.local_history import HistoryOps, stored_time
from engine.local_namespaces import NamespaceOps
from engine.local_triggers import TriggerOps
from engine.model.flow import Flow
from engine.model.inputs import Input, coerce_inputs
from engine.model.plain import Frozen, set_field
from engine.model.state import State
from engine.model.validation import validate_text
from engine.model.views import ExecutionSummary, FlowInfo, LogLine, Page, Validation
from engine.model.yaml_loader import YamlError, load_any_yaml
from engine.service import (
    Conflict,
    Download,
    Invalid,
    LogLevel,
    NotFound,
    SortOrder,
    Unavailable,
    check_labels,
    invalid,
)
from engine.storage import InternalStorage, StorageError, default_root, parse_uri

if TYPE_CHECKING:
    from engine.model.execution import Execution
    from engine.model.views_live import ExecutionEvent
    from engine.runtime.follow import Follower
    from engine.runtime.local import LocalRunner
    from engine.store.kv import KvStore
    from engine.store.sql import FlowRecord, SqlStore
    from engine.triggers.scheduler import Scheduler


class EngineStats(Frozen):
    """What /metrics reports about this process.

    A plain frozen class rather than a dataclass: every cold run imports this module, and building a
    dataclass costs ~0.5 ms (see :mod:`engine.model.plain`).
    """

    __slots__ = ("executions_by_state", "workers_running", "workers", "trigger_firings")
    executions_by_state: dict[str, int]
    workers_running: int
    workers: int
    trigger_firings: int | None

    def __init__(self, executions_by_state: dict[str, int], workers_running: int, workers: int,
                 trigger_firings: int | None) -> None:
        set_field(self, "executions_by_state", executions_by_state)
        set_field(self, "workers_running", workers_running)
        set_field(self, "workers", workers)
        set_field(self, "trigger_firings", trigger_firings)


class LocalEngine(NamespaceOps, TriggerOps, HistoryOps, DashboardOps, AssistOps):
    """The in-process :class:`~engine.service.Engine`."""

    label = "local"

    def __init__(self, runner: LocalRunner | None = None, *, scheduler: Scheduler | None = None,
                 home: str | Path | None = None, workers: int | None = None, native_sqlite: bool = False):
        """``native_sqlite``: the runner this engine starts opens an embedded SQLite database without
        SQLAlchemy (``lanner flow run``; see engine/store/sqlite_native.py)."""
        self._runner = runner
        self._owns_runner = runner is None
        self.scheduler = scheduler
        self._home = home
        self._workers = workers
        self._native_sqlite = native_sqlite
        self._lock = threading.Lock()
        self._kv: KvStore | None = None
        self._storage: InternalStorage | None = None

    # --- the parts ----------------------------------------------------------------------------------

    @property
    def runner(self) -> LocalRunner:
        if self._runner is not None:
            return self._runner
        with self._lock:
            if self._runner is None:
                from engine.runtime.local import LocalRunner
                from engine.store.records import StoreOpenError

                try:
                    self._runner = LocalRunner(self._home, workers=self._workers, native_sqlite=self._native_sqlite)
                except StoreOpenError as exc:  # a garbage or unreachable database: one sentence
                    raise Unavailable(str(exc)) from None
            return self._runner

    @property
    def started(self) -> bool:
        """Whether the runner runs (an engine given none starts one on first use)."""
        return self._runner is not None

    @property
    def store(self) -> SqlStore:
        return self.runner.store

    @property
    def storage(self) -> InternalStorage:
        if self._runner is not None:
            if self._runner.storage is None:
                raise Unavailable("internal storage is not configured")
            return self._runner.storage
        if self._storage is None:  # namespace files without starting a runner
            self._storage = InternalStorage(default_root(self._home))
        return self._storage

    @property
    def kv(self) -> KvStore:
        if self._kv is None:
            from engine.store.kv import KvStore

            self._kv = KvStore(self.store)
        return self._kv

    def mask(self, data: object) -> Any:
        return self.runner.secrets.mask_data(data)

    def close(self) -> None:
        """Stop the runner this engine started (one it was given belongs to whoever gave it)."""
        if not self._owns_runner:
            return
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()

    # --- flows ----------------------------------------------------------------------------------------

    def validate(self, source: str) -> Validation:
        report = validate_text(source)
        data = report.data if isinstance(report.data, dict) else {}
        return Validation(valid=not report.errors, namespace=_text(data.get("namespace")), flow_id=_text(data.get("id")),
                          errors=report.errors, warnings=report.warnings)

    def deploy(self, source: str, *, path: Path | None = None) -> FlowInfo:
        flow = self.runner.deploy(source, path=path)
        if self.scheduler is not None:
            self.scheduler.wake()
        info = self.flow(flow.namespace, flow.id, flow.revision)
        assert info is not None  # just stored
        warnings = flow.__dict__.get("_warnings")
        return info.model_copy(update={"warnings": list(warnings)}) if warnings else info

    def flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowInfo | None:
        rec = self.store.get_flow(namespace, flow_id, revision)
        return None if rec is None else flow_info(rec)

    def definition(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        from engine.runtime.local import FlowNotFound

        try:
            return self.runner.get_flow(namespace, flow_id, revision)
        except FlowNotFound as exc:
            raise NotFound(str(exc)) from None

    def flow_revisions(self, namespace: str, flow_id: str) -> list[FlowInfo]:
        return [flow_info(r) for r in self.store.flow_revisions(namespace, flow_id)]

    def search_flows(self, *, namespace: str | None = None, q: str | None = None,
                     labels: Mapping[str, str] | None = None) -> list[FlowInfo]:
        out = []
        for rec in self.store.list_flows(namespace or None):
            info = flow_info(rec)
            if q and not any(q.lower() in (text or "").lower() for text in (info.id, info.namespace, info.description)):
                continue
            if labels and not all(info.labels.get(k) == v for k, v in labels.items()):
                continue
            if is_task_test(info.labels) and not (labels and any(is_task_test({k: v}) for k, v in labels.items())):
                continue  # a task test's one-task flow: listed only when asked for by its label
            out.append(info)
        return out

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        if not self.store.delete_flow(namespace, flow_id):
            raise NotFound(f"flow {namespace}.{flow_id} does not exist")
        if self.scheduler is not None:
            self.scheduler.store.forget_flow(namespace, flow_id)
            self.scheduler.wake()

    # --- executions -----------------------------------------------------------------------------------

    def start(self, namespace: str, flow_id: str, inputs: Mapping[str, Any] | None = None, *,
              labels: Mapping[str, str] | None = None, revision: int | None = None,
              trigger: dict[str, Any] | None = None) -> str:
        """Also ``trigger``: the trigger variables of an execution a trigger starts (the webhook route)."""
        flow = self.definition(namespace, flow_id, revision)
        if flow.disabled:
            raise Conflict(f"flow {namespace}.{flow_id} is disabled")
        values = {k: str(v) if isinstance(v, Path) else v for k, v in (inputs or {}).items()}
        return self.runner.start_execution(namespace, flow_id, values, labels=dict(labels) if labels else None,
                                           revision=revision, trigger=trigger)

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionSummary:
        try:
            return self._view(self.runner.wait(execution_id, timeout=timeout))
        except KeyError:
            raise NotFound(f"execution {execution_id} does not exist") from None

    def wait_ended(self, execution_id: str, timeout: float) -> bool:
        try:
            return self.runner.wait_ended(execution_id, timeout)
        except KeyError:
            raise NotFound(f"execution {execution_id} does not exist") from None

    def summary(self, execution_id: str) -> ExecutionSummary | None:
        data = self.store.summary(execution_id)
        return None if data is None else self._view(data)

    def _view(self, summary: dict[str, Any], known: dict[Any, Any] | None = None) -> ExecutionSummary:
        """What a front end sees of a summary: SECRET inputs read the mask, secret values are masked.

        ``known``: the SECRET declarations looked up for earlier summaries of the same page.
        """
        from engine.runtime.secret_inputs import hide_secret_inputs

        return ExecutionSummary.model_validate(self.mask(hide_secret_inputs(summary, self.runner.get_flow, known)))

    def summary_of(self, execution_id: str) -> ExecutionSummary:
        found = self.summary(execution_id)
        if found is None:
            raise NotFound(f"execution {execution_id} does not exist")
        return found

    def _execution(self, execution_id: str) -> Execution:
        ex = self.store.get_execution(execution_id)
        if ex is None:
            raise NotFound(f"execution {execution_id} does not exist")
        return ex

    def search_executions(self, *, namespace: str | None = None, flow_id: str | None = None,
                          states: Sequence[State] | None = None, labels: Mapping[str, str] | None = None,
                          started_after: datetime | None = None, started_before: datetime | None = None,
                          q: str | None = None, sort: SortOrder = "desc",
                          page: int = 1, size: int = 25) -> Page[ExecutionSummary]:
        if sort not in ("asc", "desc"):
            raise invalid("sort", f"sort {sort!r} is not asc or desc")
        found, total = self.store.search_executions(
            namespace=namespace or None, flow_id=flow_id or None, states=[str(s) for s in states or ()] or None,
            start_after=stored_time(started_after), start_before=stored_time(started_before),
            labels=dict(labels) if labels else None, q=q or None, oldest_first=sort == "asc",
            limit=size, offset=(page - 1) * size)
        known: dict[Any, Any] = {}
        return Page[ExecutionSummary](results=[self._view(ex.to_summary([]), known) for ex in found], total=total)

    def logs(self, execution_id: str, *, after_id: int = 0, task_id: str | None = None,
             min_level: LogLevel | None = None, limit: int | None = None) -> list[LogLine]:
        if self._execution(execution_id).state.terminal:
            self.runner.sync(2)  # lines printed just before the end are committed right after it
        rows = self.store.get_logs(execution_id, after_id=after_id, task_id=task_id or None, min_level=min_level,
                                   limit=limit)
        return [LogLine.model_validate(self.mask(row)) for row in rows]

    def follower(self, execution_id: str, *, task_id: str | None = None, min_level: LogLevel | None = None) -> Follower:
        """A :class:`Follower` to poll (the REST API's event stream does, between its own sleeps)."""
        from engine.runtime.follow import Follower  # with the event views: only a follower needs them

        self._execution(execution_id)
        return Follower(self.store, self.runner.sync, self.mask, execution_id, task_id, min_level)

    def follow(self, execution_id: str, *, task_id: str | None = None, min_level: LogLevel | None = None,
               interval: float = 0.2) -> Iterator[ExecutionEvent]:
        follower = self.follower(execution_id, task_id=task_id, min_level=min_level)
        while True:
            yield from follower.poll()
            if follower.finished:
                return
            time.sleep(interval)

    def kill(self, execution_id: str) -> ExecutionSummary:
        ex = self._execution(execution_id)
        if ex.state.terminal:
            raise Conflict(f"execution {execution_id} already ended {ex.state}")
        self.runner.kill(execution_id)
        self.runner.sync()
        return self.summary_of(execution_id)

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> ExecutionSummary:
        ex = self._execution(execution_id)
        if ex.state != State.PAUSED:
            raise Conflict(f"execution {execution_id} is {ex.state}, not PAUSED")
        values = self._resume_inputs(ex, dict(inputs or {}))
        self.runner.resume(execution_id, values or None)
        self.runner.sync()
        return self.summary_of(execution_id)

    def _resume_inputs(self, ex: Execution, raw: dict[str, Any]) -> dict[str, Any]:
        """Check the inputs against the paused task's ``onResume`` definitions (when it has any)."""
        from engine.runtime.flow_index import FlowIndex

        index = FlowIndex(self.definition(ex.namespace, ex.flow_id, ex.flow_revision))
        definitions: list[Input] = []
        for _id, task_id, _value, state in self.store.task_run_states(ex.id):
            if state != State.PAUSED:
                continue
            for d in getattr(index.get(task_id), "on_resume", None) or []:
                try:
                    definitions.append(Input.model_validate(d))
                except ValueError as exc:
                    raise Invalid(f"task {task_id}: its onResume input {d.get('id')!r} is invalid: {exc}") from None
        return coerce_inputs(definitions, raw) if definitions else raw

    def restart(self, execution_id: str) -> ExecutionSummary:
        ex = self._execution(execution_id)
        if ex.state not in (State.FAILED, State.KILLED):
            raise Conflict(f"execution {execution_id} is {ex.state}; only FAILED or KILLED executions can be restarted")
        self.runner.restart(execution_id)
        self.runner.sync()
        return self.summary_of(execution_id)

    def replay(self, execution_id: str, task_run_id: str | None = None) -> ExecutionSummary:
        from engine.runtime.restart import ReplayError

        ex = self._execution(execution_id)
        if not ex.state.terminal:
            raise Conflict(f"execution {execution_id} is {ex.state}; replay it once it has ended")
        try:
            new_id = self.runner.replay(execution_id, task_run_id)
        except ReplayError as exc:
            raise invalid("taskRunId", str(exc)) from None
        return self.summary_of(new_id)

    def set_labels(self, execution_id: str, labels: Mapping[str, str]) -> ExecutionSummary:
        ex = self._execution(execution_id)
        if not ex.state.terminal:
            raise Conflict(f"execution {execution_id} is {ex.state}; set labels once it has ended")
        self.runner.set_labels(execution_id, {**ex.labels, **check_labels(list(labels.items()))})
        return self.summary_of(execution_id)

    def delete_execution(self, execution_id: str) -> None:
        ex = self._execution(execution_id)
        if not ex.state.terminal:
            raise Conflict(f"execution {execution_id} is {ex.state}; kill it before deleting it")
        self.store.delete_execution(execution_id)
        try:
            self.storage.delete_execution(ex.namespace, ex.flow_id, execution_id)
        except (StorageError, OSError, Unavailable):
            pass  # the rows are gone; a leftover file is not worth a failure

    def download(self, execution_id: str, uri: str) -> Download:
        ex = self._execution(execution_id)
        try:
            parsed = parse_uri(uri)
        except (StorageError, OSError) as exc:
            raise invalid("path", str(exc)) from None
        if (parsed.namespace, parsed.flow_id, parsed.execution_id) != (ex.namespace, ex.flow_id, ex.id):
            raise invalid("path", f"{uri} is not a file of execution {execution_id}", "not a file of this execution")
        try:
            fh = self.storage.open(uri, namespace=ex.namespace)
        except (StorageError, OSError) as exc:
            raise NotFound(str(exc)) from None
        return Download.of_file(parsed.name, fh)

    # --- what only the server in this process asks -------------------------------------------------------

    def on_execution_end(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener`` with the summary of every execution that ends in this process (on the loop thread)."""
        self.runner.listeners.append(listener)

    def health(self) -> dict[str, str]:
        """``UP``/``DOWN`` of the store, the executor loop and the scheduler."""
        checks: dict[str, str] = {}
        try:
            self.store.get_execution("-")
            checks["store"] = "UP"
        except Exception:  # noqa: BLE001 - any store failure means DOWN
            checks["store"] = "DOWN"
        checks["executor"] = "UP" if self.runner.alive else "DOWN"
        if self.scheduler is not None:
            checks["scheduler"] = "UP" if self.scheduler.alive else "DOWN"
        return checks

    def stats(self) -> EngineStats:
        pool = self.runner.pool
        return EngineStats(self.store.count_executions_by_state(), pool.running(), getattr(pool, "size", 0),
                           self.scheduler.fired if self.scheduler is not None else None)


# --- helpers --------------------------------------------------------------------------------------------


def flow_info(rec: FlowRecord) -> FlowInfo:
    """A stored revision with what its YAML says of it (description, labels, disabled)."""
    try:
        data = load_any_yaml(rec.source or "")  # the loader flows are validated with: YAML 1.2, libyaml
    except YamlError:
        data = None
    data = data if isinstance(data, dict) else {}
    raw = data.get("labels")
    if isinstance(raw, list):
        labels = {str(i.get("key")): str(i.get("value")) for i in raw if isinstance(i, dict)}
    else:
        labels = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return FlowInfo(namespace=rec.namespace, id=rec.id, revision=rec.revision, deleted=bool(rec.deleted),
                    updated=rec.updated, description=_text(data.get("description")), labels=labels,
                    disabled=data.get("disabled") is True, source=rec.source)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


__all__ = ["EngineStats", "LocalEngine", "flow_info"]
