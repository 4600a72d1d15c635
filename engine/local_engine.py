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
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from engine.model.flow import Flow
from engine.model.inputs import Input, coerce_inputs
from engine.model.validation import FlowError, validate_text
from engine.model.views import (
    BackfillInfo,
    ExecutionEvent,
    ExecutionSummary,
    FlowInfo,
    KvEntry,
    LogLine,
    NamespaceFile,
    NamespaceInfo,
    Page,
    TriggerInfo,
    Validation,
)
from engine.runtime.follow import Follower
from engine.runtime.state import State
from engine.service import (
    BackfillAction,
    Conflict,
    Download,
    Invalid,
    LogLevel,
    NotFound,
    Unavailable,
    check_labels,
    check_namespace,
    invalid,
)
from engine.storage import InternalStorage, StorageError, default_root, parse_uri

if TYPE_CHECKING:
    from engine.runtime.execution import Execution
    from engine.runtime.local import LocalRunner
    from engine.store.kv import KvStore
    from engine.store.sql import FlowRecord, SqlStore
    from engine.triggers.scheduler import Scheduler

_BACKFILL_MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "pause": ("PAUSED", ("RUNNING",)),
    "unpause": ("RUNNING", ("PAUSED",)),
    "cancel": ("CANCELLED", ("RUNNING", "PAUSED")),
}


@dataclass(frozen=True)
class EngineStats:
    """What /metrics reports about this process."""

    executions_by_state: dict[str, int]
    workers_running: int
    workers: int
    trigger_firings: int | None


class LocalEngine:
    """The in-process :class:`~engine.service.Engine`."""

    label = "local"

    def __init__(self, runner: LocalRunner | None = None, *, scheduler: Scheduler | None = None,
                 home: str | Path | None = None, workers: int | None = None):
        self._runner = runner
        self._owns_runner = runner is None
        self.scheduler = scheduler
        self._home = home
        self._workers = workers
        self._lock = threading.Lock()
        self._kv: KvStore | None = None
        self._storage: InternalStorage | None = None

    # --- the parts ----------------------------------------------------------------------------------

    @property
    def runner(self) -> LocalRunner:
        with self._lock:
            if self._runner is None:
                from engine.runtime.local import LocalRunner

                self._runner = LocalRunner(self._home, workers=self._workers)
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

    def _mask(self, data: Any) -> Any:
        return self.runner.secrets.mask_data(data)

    def close(self) -> None:
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None and self._owns_runner:
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
        return info

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

    def summary(self, execution_id: str) -> ExecutionSummary | None:
        data = self.store.summary(execution_id)
        return None if data is None else self._view(data)

    def _view(self, summary: dict[str, Any]) -> ExecutionSummary:
        return ExecutionSummary.model_validate(self._mask(summary))

    def _summary_of(self, execution_id: str) -> ExecutionSummary:
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
                          page: int = 1, size: int = 25) -> Page[ExecutionSummary]:
        found, total = self.store.search_executions(
            namespace=namespace or None, flow_id=flow_id or None, states=[str(s) for s in states or ()] or None,
            start_after=_iso(started_after), start_before=_iso(started_before), labels=dict(labels) if labels else None,
            limit=size, offset=(page - 1) * size)
        return Page[ExecutionSummary](results=[self._view(ex.to_summary([])) for ex in found], total=total)

    def logs(self, execution_id: str, *, after_id: int = 0, task_id: str | None = None,
             min_level: LogLevel | None = None, limit: int | None = None) -> list[LogLine]:
        if self._execution(execution_id).state.terminal:
            self.runner.sync(2)  # lines printed just before the end are committed right after it
        rows = self.store.get_logs(execution_id, after_id=after_id, task_id=task_id or None, min_level=min_level,
                                   limit=limit)
        return [LogLine.model_validate(self._mask(row)) for row in rows]

    def follower(self, execution_id: str, *, task_id: str | None = None, min_level: LogLevel | None = None) -> Follower:
        """A :class:`Follower` to poll (the REST API's event stream does, between its own sleeps)."""
        self._execution(execution_id)
        return Follower(self.store, self.runner.sync, self._mask, execution_id, task_id, min_level)

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
        return self._summary_of(execution_id)

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> ExecutionSummary:
        ex = self._execution(execution_id)
        if ex.state != State.PAUSED:
            raise Conflict(f"execution {execution_id} is {ex.state}, not PAUSED")
        values = self._resume_inputs(ex, dict(inputs or {}))
        self.runner.resume(execution_id, values or None)
        self.runner.sync()
        return self._summary_of(execution_id)

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
        return self._summary_of(execution_id)

    def replay(self, execution_id: str, task_run_id: str | None = None) -> ExecutionSummary:
        from engine.runtime.restart import ReplayError

        ex = self._execution(execution_id)
        if not ex.state.terminal:
            raise Conflict(f"execution {execution_id} is {ex.state}; replay it once it has ended")
        try:
            new_id = self.runner.replay(execution_id, task_run_id)
        except ReplayError as exc:
            raise invalid("taskRunId", str(exc)) from None
        return self._summary_of(new_id)

    def set_labels(self, execution_id: str, labels: Mapping[str, str]) -> ExecutionSummary:
        ex = self._execution(execution_id)
        if not ex.state.terminal:
            raise Conflict(f"execution {execution_id} is {ex.state}; set labels once it has ended")
        self.runner.set_labels(execution_id, {**ex.labels, **check_labels(list(labels.items()))})
        return self._summary_of(execution_id)

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

    # --- namespaces, namespace files, key-value store ------------------------------------------------------

    def namespaces(self) -> list[NamespaceInfo]:
        counts: dict[str, int] = {}
        for rec in self.store.list_flows():
            counts[rec.namespace] = counts.get(rec.namespace, 0) + 1
        names = set(counts) | set(self.kv.namespaces())
        for name in list(names):
            parts = name.split(".")
            names.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return [NamespaceInfo(id=n, parent=n.rpartition(".")[0] or None, flow_count=counts.get(n, 0)) for n in sorted(names)]

    def namespace_files(self, namespace: str, prefix: str = "") -> list[NamespaceFile]:
        storage = self.storage
        with _storage_errors():
            names = storage.namespace_files_list(check_namespace(namespace), prefix)
            return [NamespaceFile(path=n, size=storage.namespace_files_size(namespace, n)) for n in names]

    def read_namespace_file(self, namespace: str, path: str) -> bytes:
        storage = self.storage
        with _storage_errors():
            return storage.namespace_files_get(check_namespace(namespace), path)

    def write_namespace_file(self, namespace: str, path: str, data: bytes) -> NamespaceFile:
        storage = self.storage
        check_namespace(namespace)
        if any(len(part.encode()) > 255 for part in path.split("/")):
            raise invalid("path", "path: each part of a namespace file path must be at most 255 bytes",
                          "a path segment is longer than 255 bytes")
        with _storage_errors():
            return NamespaceFile(path=storage.namespace_files_put(namespace, path, data), size=len(data))

    def upload_namespace_dir(self, namespace: str, directory: Path) -> list[NamespaceFile]:
        storage = self.storage
        with _storage_errors("directory"):
            names = storage.upload_namespace_dir(check_namespace(namespace), Path(directory))
            return [NamespaceFile(path=n, size=storage.namespace_files_size(namespace, n)) for n in names]

    def delete_namespace_file(self, namespace: str, path: str) -> None:
        storage = self.storage
        with _storage_errors():
            storage.namespace_files_delete(check_namespace(namespace), path)

    def kv_list(self, namespace: str) -> list[KvEntry]:
        return [self._kv_view(e.to_dict()) for e in self.kv.list(check_namespace(namespace))]

    def kv_get(self, namespace: str, key: str) -> KvEntry | None:
        with _kv_errors():
            entry = self.kv.get(check_namespace(namespace), key)
        return None if entry is None else self._kv_view(entry.to_dict())

    def kv_put(self, namespace: str, key: str, value: Any) -> KvEntry:
        with _kv_errors():
            return self._kv_view(self.kv.put(check_namespace(namespace), key, value).to_dict())

    def kv_delete(self, namespace: str, key: str) -> None:
        with _kv_errors():
            if not self.kv.delete(check_namespace(namespace), key):
                raise NotFound(f"namespace {namespace} has no key {key!r}")

    def _kv_view(self, data: dict[str, Any]) -> KvEntry:
        return KvEntry.model_validate(self._mask(data))

    # --- triggers and backfills ----------------------------------------------------------------------------

    def _scheduler(self) -> Scheduler:
        if self.scheduler is None:
            raise Unavailable("the scheduler is not running in this server")
        return self.scheduler

    def triggers(self, *, namespace: str | None = None, flow_id: str | None = None,
                 q: str | None = None) -> list[TriggerInfo]:
        out = []
        for item in self._scheduler().describe():
            if namespace and not (item["namespace"] == namespace or item["namespace"].startswith(namespace + ".")):
                continue
            if flow_id and item["flowId"] != flow_id:
                continue
            if q and q.lower() not in item["flowId"].lower() and q.lower() not in item["triggerId"].lower():
                continue
            out.append(TriggerInfo.model_validate(item))
        return out

    def set_trigger_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> TriggerInfo:
        try:
            self._scheduler().set_disabled(namespace, flow_id, trigger_id, disabled)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        for info in self.triggers(namespace=namespace, flow_id=flow_id):
            if info.trigger_id == trigger_id:
                return info
        raise NotFound(f"flow {namespace}.{flow_id} has no trigger '{trigger_id}'")

    def backfill(self, namespace: str, flow_id: str, trigger_id: str, start: str, end: str | None = None, *,
                 inputs: Mapping[str, Any] | None = None, labels: Mapping[str, str] | None = None) -> BackfillInfo:
        from engine.triggers.scheduler import TriggerFailure

        try:
            bf = self._scheduler().create_backfill(namespace, flow_id, trigger_id, start, end,
                                                   dict(inputs) if inputs else None, dict(labels) if labels else None)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        except TriggerFailure as exc:
            raise invalid("start", str(exc)) from None
        return BackfillInfo.model_validate(bf.to_dict())

    def backfills(self, *, namespace: str | None = None, flow_id: str | None = None,
                  trigger_id: str | None = None) -> list[BackfillInfo]:
        found = self._scheduler().store.backfills(namespace=namespace, flow_id=flow_id, trigger_id=trigger_id)
        return [BackfillInfo.model_validate(b.to_dict()) for b in found]

    def get_backfill(self, backfill_id: str) -> BackfillInfo | None:
        bf = self._scheduler().store.get_backfill(backfill_id)
        return None if bf is None else BackfillInfo.model_validate(bf.to_dict())

    def change_backfill(self, backfill_id: str, action: BackfillAction) -> BackfillInfo:
        sched = self._scheduler()
        if action not in _BACKFILL_MOVES:
            raise invalid("action", f"unknown backfill action '{action}': use pause, unpause or cancel")
        bf = sched.store.get_backfill(backfill_id)
        if bf is None:
            raise NotFound(f"backfill {backfill_id} does not exist")
        target, allowed = _BACKFILL_MOVES[action]
        if bf.state not in allowed:
            raise Conflict(f"backfill {backfill_id} is {bf.state}; cannot {action} it")
        updated = sched.store.set_backfill_state(backfill_id, target, only_from=allowed) or bf
        sched.wake()
        return BackfillInfo.model_validate(updated.to_dict())

    # --- what only the server in this process asks -------------------------------------------------------

    def fire_webhook(self, namespace: str, flow_id: str, key: str, variables: dict[str, Any],
                     wait_timeout: float) -> ExecutionSummary | None:
        """Start the flow whose enabled Webhook trigger has ``key``; None when none has.

        ``variables`` are the request's (``body``, ``headers``, ``parameters``); the
        trigger's ``id`` and ``type`` are added. Raises InputError, or Invalid when the
        trigger's inputs do not render.
        """
        from engine.triggers.scheduler import render
        from engine.triggers.webhook import match_webhook

        try:
            flow = self.definition(namespace, flow_id)
        except NotFound:
            return None
        disabled: set[str] = set()
        if self.scheduler is not None:
            states = self.scheduler.store.all()
            disabled = {t for (ns, f, t), st in states.items() if ns == namespace and f == flow_id and st.disabled}
        trig = match_webhook(flow, key, disabled)
        if trig is None or flow.disabled:
            return None
        variables = {"id": trig.id, "type": "webhook", **variables}
        try:
            inputs = render(dict(trig.inputs or {}), {"trigger": variables, "flow": {"id": flow.id, "namespace": flow.namespace}})
        except Exception as exc:  # noqa: BLE001 - a bad expression in the trigger's inputs
            raise Invalid(f"trigger {trig.id}: its inputs could not be rendered: {exc}") from None
        ex_id = self.start(namespace, flow_id, inputs, trigger=variables)
        if not trig.wait:
            return self._summary_of(ex_id)
        summary = self.wait(ex_id, wait_timeout)
        return summary if trig.return_outputs else summary.model_copy(update={"outputs": {}})

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
        data = yaml.safe_load(rec.source)
    except yaml.YAMLError:
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


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@contextmanager
def _storage_errors(field: str = "path") -> Iterator[None]:
    """Storage refusals as engine errors: a missing file is NotFound, a bad path or a failed write Invalid."""
    try:
        yield
    except OSError as exc:
        message = f"{field}: the file cannot be stored ({exc.strerror or exc})"
        raise Invalid(message, [FlowError(field, message)]) from None
    except StorageError as exc:
        message = str(exc)
        if "has no file" in message or "does not exist" in message:
            raise NotFound(message) from None
        raise invalid(field, message) from None


@contextmanager
def _kv_errors() -> Iterator[None]:
    from engine.store.kv import KvError

    try:
        yield
    except KvError as exc:
        raise invalid("key", str(exc)) from None


__all__ = ["EngineStats", "Follower", "LocalEngine", "flow_info"]
