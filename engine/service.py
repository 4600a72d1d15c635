"""The front door: the one typed ``Engine`` every front end talks to.

The CLI, the REST API, the web builder and the Jupyter extension deploy, run, watch
and manage flows through :class:`Engine` and nothing else: none of them reaches
the store, the runner's loop or the storage directly. Two implementations keep the
same contract (``tests/integration/test_engine_contract.py`` runs one suite over both):

* :class:`LocalEngine` (here): in this process, over the runner loop (the only
  writer of executions), its store and its internal storage. The server, the
  builder inside it, ``lanner flow run`` and Jupyter without ``--server`` use it.
* :class:`engine.client.HttpEngine`: a Lanner server's REST API (Jupyter's
  ``--server``, scripts).

Records come back as the typed views of :mod:`engine.model.views`. Refusals are
:class:`EngineError` subclasses carrying one sentence and, when a field is at fault,
the field's errors (the REST API answers them with the status each one names); an
invalid flow raises the model's ``FlowValidationError`` and invalid inputs its
``InputError``, whichever implementation answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from engine.model.flow import NAMESPACE_RE, Flow
from engine.model.state import State
from engine.model.validation import FlowError
from engine.model.views import ExecutionSummary, FlowInfo, LogLine, Page, Validation

if TYPE_CHECKING:
    from engine.local_engine import LocalEngine
    from engine.model.views_live import ExecutionEvent
    from engine.model.views_workspace import (
        BackfillInfo,
        ChartData,
        DashboardInfo,
        ExpressionPreview,
        FlowTemplate,
        KvEntry,
        NamespaceFile,
        NamespaceInfo,
        TriggerInfo,
    )

BackfillAction = Literal["pause", "unpause", "cancel"]
LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
SortOrder = Literal["desc", "asc"]


# --- errors -------------------------------------------------------------------------------------------


class EngineError(Exception):
    """A refusal: one sentence for the user, and the fields at fault when there are any."""

    status: ClassVar[int] = 500

    def __init__(self, message: str, errors: list[FlowError] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class NotFound(EngineError, LookupError):
    """The execution, flow, file, key, trigger or backfill does not exist."""

    status = 404


class Conflict(EngineError):
    """Not allowed in the current state (kill an ended execution, restart a successful one...)."""

    status = 409


class Invalid(EngineError, ValueError):
    """A parameter is refused (a malformed path, key, label or range); ``errors`` names it."""

    status = 422


class Unavailable(EngineError):
    """A part this engine does not run (the scheduler, internal storage)."""

    status = 409


class Unreachable(EngineError):
    """The server did not answer (HttpEngine only)."""

    status = 503


def invalid(field: str, message: str, detail: str | None = None) -> Invalid:
    """An Invalid naming one field."""
    return Invalid(message, [FlowError(field, detail or message)])


# --- shared checks (the in-process engine and the REST API refuse the same way) -------------------------


def check_namespace(namespace: str) -> str:
    if len(namespace) > 150 or not re.match(NAMESPACE_RE, namespace):
        raise invalid("namespace", f"namespace {namespace!r} is invalid: use lowercase dotted names such as company.team",
                      "invalid namespace")
    return namespace


def check_labels(pairs: Sequence[tuple[str | None, str | None]]) -> dict[str, str]:
    """Labels given as (key, value) pairs: each needs a key of at most 100 characters and a value of at most 1000."""
    out: dict[str, str] = {}
    for i, (key, value) in enumerate(pairs):
        if not key or value is None or len(key) > 100 or len(value) > 1000:
            raise invalid(f"labels[{i}]", f"label {i}: a label needs a key (<= 100 characters) and a value (<= 1000)",
                          "key and value are required")
        out[key] = value
    return out


# --- downloads ------------------------------------------------------------------------------------------


class Download:
    """A file being read: its name, then its bytes in chunks. Close it (or use ``with``)."""

    CHUNK = 256 * 1024

    def __init__(self, name: str, chunks: Iterator[bytes], close: Callable[[], None]):
        self.name = name
        self._chunks = chunks
        self._close = close

    @classmethod
    def of_file(cls, name: str, fh: IO[bytes]) -> Download:
        def chunks() -> Iterator[bytes]:
            while data := fh.read(cls.CHUNK):
                yield data

        return cls(name, chunks(), fh.close)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self.close()

    def read(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> Download:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the contract -------------------------------------------------------------------------------------


class Engine(Protocol):
    """What every front end may ask of an engine, in-process or over HTTP."""

    @property
    def label(self) -> str:
        """Where it runs, for messages: ``local`` or the server's URL."""
        ...

    # flows
    def validate(self, source: str) -> Validation:
        """Validate one flow document (YAML) without saving it."""
        ...

    def deploy(self, source: str, *, path: Path | None = None) -> FlowInfo:
        """Create the flow or store a new revision (unchanged source keeps its revision).

        ``path``: the file it was read from, so relative notebook paths resolve (in-process only).
        Raises FlowValidationError.
        """
        ...

    def flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowInfo | None:
        """A revision with its source (the latest when ``revision`` is None; None when there is none)."""
        ...

    def definition(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        """The parsed flow of a revision (its typed inputs, tasks, triggers). Raises NotFound."""
        ...

    def flow_revisions(self, namespace: str, flow_id: str) -> list[FlowInfo]:
        """Every revision, oldest first (a deletion is a revision with ``deleted``)."""
        ...

    def search_flows(self, *, namespace: str | None = None, q: str | None = None,
                     labels: Mapping[str, str] | None = None) -> list[FlowInfo]:
        """Latest revision of the flows under ``namespace`` whose id, namespace or description holds ``q``."""
        ...

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        """Delete a flow (its history and executions stay). Raises NotFound."""
        ...

    # executions
    def start(self, namespace: str, flow_id: str, inputs: Mapping[str, Any] | None = None, *,
              labels: Mapping[str, str] | None = None, revision: int | None = None) -> str:
        """Start an execution; returns its id. A FILE input is a local file given as a ``Path``.

        Raises InputError before anything is stored, NotFound, Conflict (a disabled flow).
        """
        ...

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionSummary:
        """The summary once the execution has ended (or when ``timeout`` passed: check ``ended``)."""
        ...

    def wait_ended(self, execution_id: str, timeout: float) -> bool:
        """Whether the execution has ended, waiting up to ``timeout`` seconds, without building its summary
        (a live view reads the summary itself between waits). Raises NotFound."""
        ...

    def summary(self, execution_id: str) -> ExecutionSummary | None:
        ...

    def search_executions(self, *, namespace: str | None = None, flow_id: str | None = None,
                          states: Sequence[State] | None = None, labels: Mapping[str, str] | None = None,
                          started_after: datetime | None = None, started_before: datetime | None = None,
                          q: str | None = None, sort: SortOrder = "desc",
                          page: int = 1, size: int = 25) -> Page[ExecutionSummary]:
        """One page of executions by start date (newest first; ``sort="asc"`` oldest first), without task runs.

        ``namespace`` includes its children; ``q`` is free text found in the id, namespace, flow id or labels.
        """
        ...

    def search_logs(self, *, namespace: str | None = None, flow_id: str | None = None,
                    execution_id: str | None = None, min_level: LogLevel | None = None,
                    after: datetime | None = None, before: datetime | None = None, q: str | None = None,
                    page: int = 1, size: int = 50) -> Page[LogLine]:
        """One page of log lines across executions, newest first; each names its namespace and flow."""
        ...

    def logs(self, execution_id: str, *, after_id: int = 0, task_id: str | None = None,
             min_level: LogLevel | None = None, limit: int | None = None) -> list[LogLine]:
        ...

    def follow(self, execution_id: str, *, task_id: str | None = None,
               min_level: LogLevel | None = None) -> Iterator[ExecutionEvent]:
        """Log lines and state changes as they happen; an EndEvent last."""
        ...

    def kill(self, execution_id: str) -> ExecutionSummary:
        ...

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> ExecutionSummary:
        """Resume a PAUSED execution with its pause task's ``onResume`` inputs."""
        ...

    def restart(self, execution_id: str) -> ExecutionSummary:
        """Re-run a FAILED or KILLED execution from its failed task runs (same id)."""
        ...

    def replay(self, execution_id: str, task_run_id: str | None = None) -> ExecutionSummary:
        """A NEW execution copying the task runs before ``task_run_id``, run from there; its summary."""
        ...

    def change_task_run_state(self, execution_id: str, task_run_id: str, state: State) -> ExecutionSummary:
        """Set an ended task run to SUCCESS, WARNING or FAILED (Kestra's "change status") and go on from there.

        The execution must have ended and not been killed; it is RESTARTED, then the tasks after that
        task run run (a FAILED task marked SUCCESS lets the flow continue). Conflict, NotFound, Invalid.
        """
        ...

    def set_labels(self, execution_id: str, labels: Mapping[str, str]) -> ExecutionSummary:
        """Add or change labels of an ended execution."""
        ...

    def delete_execution(self, execution_id: str) -> None:
        """Delete an ended execution with its task runs, logs and files."""
        ...

    def download(self, execution_id: str, uri: str) -> Download:
        """A file of this execution (an output or an input file); URIs of other executions are refused."""
        ...

    # namespaces
    def namespaces(self) -> list[NamespaceInfo]:
        """Every namespace that has flows or key-value entries, with its parents."""
        ...

    def namespace_files(self, namespace: str, prefix: str = "") -> list[NamespaceFile]:
        ...

    def read_namespace_file(self, namespace: str, path: str) -> bytes:
        ...

    def write_namespace_file(self, namespace: str, path: str, data: bytes) -> NamespaceFile:
        ...

    def upload_namespace_dir(self, namespace: str, directory: Path) -> list[NamespaceFile]:
        """Every file of a local directory (``.git`` and caches skipped) as namespace files."""
        ...

    def delete_namespace_file(self, namespace: str, path: str) -> None:
        ...

    # key-value store
    def kv_list(self, namespace: str) -> list[KvEntry]:
        ...

    def kv_get(self, namespace: str, key: str) -> KvEntry | None:
        ...

    def kv_put(self, namespace: str, key: str, value: object, *, ttl: str | None = None) -> KvEntry:
        """Store a JSON value (text, number, boolean, list or object); ``ttl`` (ISO-8601) makes it expire."""
        ...

    def kv_delete(self, namespace: str, key: str) -> None:
        ...

    def secret_names(self, namespace: str) -> list[str]:
        """Names of the secrets a flow of the namespace can read; never their values."""
        ...

    # templates, task tests, expression previews (the builder's help)
    def templates(self) -> list[FlowTemplate]:
        """The flows Lanner ships to start from, with what each uses and whether it runs here."""
        ...

    def open_template(self, template_id: str, namespace: str, flow_id: str) -> str:
        """A template's YAML under the chosen namespace and id; writes the namespace files it needs
        (a notebook...) that the namespace lacks. Nothing is deployed."""
        ...

    def test_task(self, namespace: str, flow_id: str, task_id: str, *, source: str | None = None,
                  inputs: Mapping[str, Any] | None = None, pinned_execution_id: str | None = None) -> str:
        """Run one task alone as an execution of a one-task flow; returns its execution id.

        ``source``: the flow as edited (the latest revision when None); ``inputs``: sample inputs;
        ``pinned_execution_id``: an execution of the flow whose earlier task outputs the task reads.
        """
        ...

    def preview_expression(self, namespace: str, flow_id: str, template: str, *, execution_id: str | None = None,
                           task_id: str | None = None) -> ExpressionPreview:
        """What ``template`` renders to in the sandbox against a task's context in an execution of the
        flow (its latest when ``execution_id`` is None), or the sentence that says why it does not."""
        ...

    # triggers and backfills
    def triggers(self, *, namespace: str | None = None, flow_id: str | None = None,
                 q: str | None = None) -> list[TriggerInfo]:
        ...

    def set_trigger_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> TriggerInfo:
        ...

    def backfill(self, namespace: str, flow_id: str, trigger_id: str, start: str, end: str | None = None, *,
                 inputs: Mapping[str, Any] | None = None, labels: Mapping[str, str] | None = None) -> BackfillInfo:
        """One execution per tick of a Schedule trigger in [start, end) (ISO-8601; end defaults to now)."""
        ...

    def backfills(self, *, namespace: str | None = None, flow_id: str | None = None,
                  trigger_id: str | None = None) -> list[BackfillInfo]:
        ...

    def get_backfill(self, backfill_id: str) -> BackfillInfo | None:
        ...

    def change_backfill(self, backfill_id: str, action: BackfillAction) -> BackfillInfo:
        ...

    # custom dashboards
    def dashboards(self) -> list[DashboardInfo]:
        """Every stored dashboard (the built-in default is not stored), by title."""
        ...

    def dashboard(self, dashboard_id: str) -> DashboardInfo | None:
        ...

    def save_dashboard(self, source: str, dashboard_id: str | None = None) -> DashboardInfo:
        """Store a dashboard's YAML: a new one (``dashboard_id`` None; Conflict when its id exists) or a new
        version of ``dashboard_id`` (NotFound; Invalid when the YAML names another id). Invalid names every
        error of the YAML with its line."""
        ...

    def delete_dashboard(self, dashboard_id: str) -> None:
        ...

    def chart_data(self, dashboard_id: str, chart_id: str, *, namespace: str | None = None,
                   flow_id: str | None = None, labels: Mapping[str, str] | None = None,
                   start: datetime | None = None, end: datetime | None = None) -> ChartData:
        """The rows of one chart, aggregated by the store; ``start`` defaults to the dashboard's timeWindow."""
        ...

    def chart_executions(self, dashboard_id: str, chart_id: str, point: Mapping[str, Any], *,
                         namespace: str | None = None, flow_id: str | None = None,
                         labels: Mapping[str, str] | None = None, start: datetime | None = None,
                         end: datetime | None = None) -> list[ExecutionSummary]:
        """The executions behind one row of a chart (``point``: its values of the columns without agg)."""
        ...

    def close(self) -> None:
        ...


def __getattr__(name: str) -> Any:
    """``engine.service.LocalEngine`` without importing the runtime until it is used."""
    if name == "LocalEngine":
        from engine.local_engine import LocalEngine

        return LocalEngine
    raise AttributeError(name)


__all__ = ["BackfillAction", "Conflict", "Download", "Engine", "EngineError", "Invalid", "LocalEngine", "NotFound",
           "SortOrder", "Unavailable", "Unreachable", "check_labels", "check_namespace"]
