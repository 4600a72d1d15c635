"""Executions: start (with inputs), read, search, kill, restart, resume, replay, delete, labels, files.

Routes with a literal last segment (``/{id}/kill``...) are declared before
``POST /executions/{namespace}/{flowId}``, so they win over a flow whose id
happens to be ``kill``, ``restart``, ``resume``, ``replay`` or ``labels``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from engine.api.errors import COMMON_RESPONSES, CONFLICT, ApiError, not_found
from engine.api.flows import parse_labels
from engine.api.inputs import RequestInputs
from engine.api.models import Execution, ExecutionPage
from engine.api.queries import set_labels
from engine.api.services import Services, services
from engine.model.inputs import Input, InputError, coerce_inputs
from engine.model.state import State
from engine.storage import StorageError, parse_uri

router = APIRouter(prefix="/api/v1", tags=["Executions"], responses=COMMON_RESPONSES)

INPUTS_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            "multipart/form-data": {"schema": {"type": "object", "additionalProperties": True}},
        },
    }
}


def summary_or_404(svc: Services, execution_id: str) -> dict[str, Any]:
    summary = svc.runner.summary(execution_id)
    if summary is None:
        raise not_found(f"execution {execution_id} does not exist")
    return svc.mask(summary)


def input_errors(exc: InputError) -> ApiError:
    errors = [{"path": f"inputs.{e.input_id}" if e.input_id else "inputs", "message": e.message, "line": None, "column": None} for e in exc.errors]
    return ApiError(422, errors[0]["message"] if len(errors) == 1 else f"{len(errors)} inputs are invalid: " + "; ".join(e["message"] for e in errors), errors)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@router.get("/executions/search", response_model=ExecutionPage)
def search_executions(
    request: Request,
    namespace: str | None = Query(None, max_length=150, description="Namespace (and its children)."),
    flowId: str | None = Query(None, max_length=100),  # noqa: N803 - Kestra's parameter name
    state: list[State] = Query([], description="Execution states (repeatable)."),
    labels: list[str] = Query([], description="Label filter key:value (repeatable)."),
    startDate: datetime | None = Query(None, description="Started at or after (ISO-8601)."),  # noqa: N803
    endDate: datetime | None = Query(None, description="Started before (ISO-8601)."),  # noqa: N803
    page: int = Query(1, ge=1, le=100000),
    size: int = Query(25, ge=1, le=500),
) -> dict[str, Any]:
    """Executions, newest first, paginated."""
    svc = services(request)
    found, total = svc.runner.store.search_executions(
        namespace=namespace or None,
        flow_id=flowId or None,
        states=[str(s) for s in state] or None,
        start_after=_iso(startDate) if startDate else None,
        start_before=_iso(endDate) if endDate else None,
        labels=parse_labels(labels) or None,
        limit=size,
        offset=(page - 1) * size,
    )
    results = [svc.mask({k: v for k, v in ex.to_summary([]).items() if k != "taskRuns"}) for ex in found]
    return {"results": results, "total": total}


@router.get("/executions/{execution_id}", response_model=Execution)
def get_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """The execution summary: state, inputs, outputs and every task run with its attempts."""
    return summary_or_404(services(request), execution_id)


def _stored(svc: Services, execution_id: str) -> Any:
    ex = svc.runner.store.get_execution(execution_id)
    if ex is None:
        raise not_found(f"execution {execution_id} does not exist")
    return ex


@router.api_route("/executions/{execution_id}/kill", methods=["POST", "DELETE"], status_code=202, response_model=Execution, responses=CONFLICT)
def kill_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """Kill a running, paused or queued execution (its running attempts are stopped)."""
    svc = services(request)
    ex = _stored(svc, execution_id)
    if ex.state.terminal:
        raise ApiError(409, f"execution {execution_id} already ended {ex.state}")
    svc.runner.kill(execution_id)
    svc.runner.sync()
    return summary_or_404(svc, execution_id)


@router.post("/executions/{execution_id}/restart", response_model=Execution, responses=CONFLICT)
def restart_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """Re-run a FAILED or KILLED execution from its failed task runs; successful ones are kept."""
    svc = services(request)
    ex = _stored(svc, execution_id)
    if ex.state not in (State.FAILED, State.KILLED):
        raise ApiError(409, f"execution {execution_id} is {ex.state}; only FAILED or KILLED executions can be restarted")
    svc.runner.restart(execution_id)
    svc.runner.sync()
    return summary_or_404(svc, execution_id)


@router.post("/executions/{execution_id}/resume", response_model=Execution, responses=CONFLICT, openapi_extra=INPUTS_BODY)
async def resume_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """Resume a PAUSED execution; the body may carry the pause task's ``onResume`` inputs."""
    svc = services(request)
    ex = await run_in_threadpool(_stored, svc, execution_id)
    if ex.state != State.PAUSED:
        raise ApiError(409, f"execution {execution_id} is {ex.state}, not PAUSED")
    with RequestInputs() as given:
        await given.read(request)
        values = await run_in_threadpool(_resume_inputs, svc, ex, given.values)
    svc.runner.resume(execution_id, values or None)
    await run_in_threadpool(svc.runner.sync)
    return await run_in_threadpool(summary_or_404, svc, execution_id)


def _resume_inputs(svc: Services, ex: Any, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate the inputs against the paused task's ``onResume`` definitions (when it has any)."""
    summary = svc.runner.summary(ex.id) or {}
    flow = svc.runner.get_flow(ex.namespace, ex.flow_id, ex.flow_revision)
    from engine.runtime.flow_index import FlowIndex

    index = FlowIndex(flow)
    definitions: list[Any] = []
    for tr in summary.get("taskRuns", []):
        if tr["state"] == "PAUSED":
            task = index.get(tr["taskId"])
            for d in getattr(task, "on_resume", None) or []:
                try:
                    definitions.append(Input.model_validate(d))
                except ValueError as exc:
                    raise ApiError(422, f"task {tr['taskId']}: its onResume input {d.get('id')!r} is invalid: {exc}") from None
    if not definitions:
        return raw
    try:
        return coerce_inputs(definitions, raw)
    except InputError as exc:
        raise input_errors(exc) from None


@router.post("/executions/{execution_id}/replay", response_model=Execution, responses=CONFLICT)
def replay_execution(
    request: Request,
    execution_id: str,
    taskRunId: str | None = Query(None, max_length=40, description="Run again from this task run; the ones before it are copied."),  # noqa: N803
) -> dict[str, Any]:
    """Start a NEW execution that copies the task runs before ``taskRunId`` and runs from it."""
    from engine.runtime.restart import ReplayError, build_replay

    svc = services(request)
    loaded = svc.runner.store.load_execution(execution_id)
    if loaded is None:
        raise not_found(f"execution {execution_id} does not exist")
    ex, runs = loaded
    try:
        new_ex, copies = build_replay(ex, runs, taskRunId)
    except ReplayError as exc:
        status = 409 if not ex.state.terminal else 422
        raise ApiError(status, str(exc), [{"path": "taskRunId", "message": str(exc), "line": None, "column": None}] if status == 422 else None) from None
    svc.runner.store.write_batch(new_executions=[new_ex], new_runs=copies)
    svc.runner.adopt(new_ex.id)
    svc.runner.sync()
    return summary_or_404(svc, new_ex.id)


@router.delete("/executions/{execution_id}", status_code=204, response_class=Response, responses=CONFLICT)
def delete_execution(request: Request, execution_id: str) -> Response:
    """Delete an ended execution with its task runs, logs and files."""
    svc = services(request)
    ex = _stored(svc, execution_id)
    if not ex.state.terminal:
        raise ApiError(409, f"execution {execution_id} is {ex.state}; kill it before deleting it")
    svc.runner.store.delete_execution(execution_id)
    storage = svc.runner.storage
    if storage is not None and hasattr(storage, "delete_execution"):
        try:
            storage.delete_execution(ex.namespace, ex.flow_id, execution_id)
        except (StorageError, OSError):
            pass
    return Response(status_code=204)


@router.post("/executions/{execution_id}/labels", response_model=Execution, responses=CONFLICT)
def set_execution_labels(
    request: Request,
    execution_id: str,
    labels: list[dict[str, str]] | dict[str, str] = Body(..., description="[{key, value}] or {key: value}; merged into the labels."),
) -> dict[str, Any]:
    """Add or change labels of an ended execution."""
    svc = services(request)
    ex = _stored(svc, execution_id)
    if not ex.state.terminal:
        raise ApiError(409, f"execution {execution_id} is {ex.state}; set labels once it has ended")
    pairs = labels.items() if isinstance(labels, dict) else [(x.get("key"), x.get("value")) for x in labels]
    merged = dict(ex.labels)
    for i, (k, v) in enumerate(pairs):
        if not k or v is None or len(k) > 100 or len(v) > 1000:
            raise ApiError(422, f"label {i}: a label needs a key (<= 100 characters) and a value (<= 1000)", [{"path": f"labels[{i}]", "message": "key and value are required", "line": None, "column": None}])
        merged[k] = v
    set_labels(svc.runner.store, execution_id, merged)
    return summary_or_404(svc, execution_id)


@router.get("/executions/{execution_id}/file", responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def download_file(request: Request, execution_id: str, path: str = Query(..., max_length=2000, description="lanner:/// URI of a file of this execution.")) -> StreamingResponse:
    """Download an output file of this execution (URIs of other executions are refused)."""
    svc = services(request)
    ex = _stored(svc, execution_id)
    try:
        uri = parse_uri(path)
    except (StorageError, OSError) as exc:
        raise ApiError(422, str(exc), [{"path": "path", "message": str(exc), "line": None, "column": None}]) from None
    if (uri.namespace, uri.flow_id, uri.execution_id) != (ex.namespace, ex.flow_id, ex.id):
        raise ApiError(422, f"{path} is not a file of execution {execution_id}", [{"path": "path", "message": "not a file of this execution", "line": None, "column": None}])
    storage = svc.runner.storage
    try:
        fh = storage.open(path, namespace=ex.namespace)
    except (StorageError, OSError) as exc:
        raise not_found(str(exc)) from None

    def chunks() -> Any:
        with fh:
            while data := fh.read(256 * 1024):
                yield data

    name = uri.name.replace('"', "")
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers={"content-disposition": f'attachment; filename="{name}"'})


@router.post("/executions/{namespace}/{flow_id}", response_model=Execution, responses=CONFLICT, openapi_extra=INPUTS_BODY)
async def create_execution(
    request: Request,
    namespace: str,
    flow_id: str,
    wait: bool = Query(False, description="Answer when the execution has ended."),
    labels: list[str] = Query([], description="Execution labels key:value (repeatable)."),
    revision: int | None = Query(None, ge=1, le=10_000_000, description="Flow revision (default: latest)."),
) -> dict[str, Any]:
    """Start an execution; inputs as a JSON object, or a multipart form for FILE inputs."""
    from engine.runtime.local import FlowNotFound

    svc = services(request)
    label_map = parse_labels(labels)
    try:
        flow = await run_in_threadpool(svc.runner.get_flow, namespace, flow_id, revision)
    except FlowNotFound:
        raise not_found(f"flow {namespace}.{flow_id}" + (f" revision {revision}" if revision else "") + " does not exist") from None
    if flow.disabled:
        raise ApiError(409, f"flow {namespace}.{flow_id} is disabled")
    with RequestInputs() as given:
        await given.read(request)
        given.check_files(flow)
        try:
            ex_id = await run_in_threadpool(
                lambda: svc.runner.start_execution(namespace, flow_id, given.values, labels=label_map or None, revision=revision)
            )
        except InputError as exc:
            raise input_errors(exc) from None
        except StorageError as exc:  # an uploaded file that internal storage refuses to keep
            raise ApiError(422, str(exc), [{"path": "inputs", "message": str(exc), "line": None, "column": None}]) from None
    if wait:
        await run_in_threadpool(svc.runner.wait, ex_id, svc.wait_timeout)
    return await run_in_threadpool(summary_or_404, svc, ex_id)
