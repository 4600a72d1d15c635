"""Executions: start (with inputs), read, search, kill, restart, resume, replay, change a task run's state,
delete, labels, files.

Routes with a literal last segment (``/{id}/kill``...) are declared before
``POST /executions/{namespace}/{flowId}``, so they win over a flow whose id
happens to be ``kill``, ``restart``, ``resume``, ``replay``, ``state`` or ``labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from engine.api.errors import COMMON_RESPONSES, CONFLICT, ApiError, not_found
from engine.api.flows import parse_labels
from engine.api.inputs import RequestInputs
from engine.api.models import Execution, ExecutionPage
from engine.api.services import engine, services
from engine.model.state import State
from engine.model.views import ExecutionSummary
from engine.service import check_labels
from engine.storage import StorageError

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


def _iso(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@router.get("/executions/search", response_model=ExecutionPage)
def search_executions(
    request: Request,
    namespace: str | None = Query(None, max_length=150, description="Namespace (and its children)."),
    flowId: str | None = Query(None, max_length=100),  # noqa: N803 - Kestra's parameter name
    state: list[State] = Query([], description="Execution states (repeatable)."),
    labels: list[str] = Query([], description="Label filter key:value (repeatable)."),
    startDate: datetime | None = Query(None, description="Started at or after (ISO-8601)."),  # noqa: N803
    endDate: datetime | None = Query(None, description="Started before (ISO-8601)."),  # noqa: N803
    q: str | None = Query(None, max_length=200, description="Free text found in the id, namespace, flow id or labels."),
    sort: Literal["startDate:desc", "startDate:asc"] = Query("startDate:desc", description="Order by start date."),
    page: int = Query(1, ge=1, le=100000),
    size: int = Query(25, ge=1, le=500),
) -> dict[str, Any]:
    """Executions by start date (newest first unless ``sort=startDate:asc``), paginated."""
    found = engine(request).search_executions(
        namespace=namespace, flow_id=flowId, states=state, labels=parse_labels(labels) or None,
        started_after=_iso(startDate) if startDate else None, started_before=_iso(endDate) if endDate else None,
        q=q, sort="asc" if sort.endswith(":asc") else "desc", page=page, size=size)
    return {"results": [ex.to_dict(task_runs=False) for ex in found.results], "total": found.total}


@router.get("/executions/{execution_id}", response_model=Execution)
def get_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """The execution summary: state, inputs, outputs and every task run with its attempts."""
    summary = engine(request).summary(execution_id)
    if summary is None:
        raise not_found(f"execution {execution_id} does not exist")
    return summary.to_dict()


@router.api_route("/executions/{execution_id}/kill", methods=["POST", "DELETE"], status_code=202, response_model=Execution, responses=CONFLICT)
def kill_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """Kill a running, paused or queued execution (its running attempts are stopped)."""
    return engine(request).kill(execution_id).to_dict()


@router.post("/executions/{execution_id}/restart", response_model=Execution, responses=CONFLICT)
def restart_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """Re-run a FAILED or KILLED execution from its failed task runs; successful ones are kept."""
    return engine(request).restart(execution_id).to_dict()


class StateRequest(BaseModel):
    """Kestra's body of a task run's change of state."""

    taskRunId: str = Field(max_length=40)
    state: State


@router.post("/executions/{execution_id}/state", response_model=Execution, responses=CONFLICT)
def change_task_run_state(request: Request, execution_id: str, body: StateRequest) -> dict[str, Any]:
    """Set an ended task run to SUCCESS, WARNING or FAILED; the execution goes on from there (RESTARTED)."""
    return engine(request).change_task_run_state(execution_id, body.taskRunId, body.state).to_dict()


@router.post("/executions/{execution_id}/resume", response_model=Execution, responses=CONFLICT, openapi_extra=INPUTS_BODY)
async def resume_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """Resume a PAUSED execution; the body may carry the pause task's ``onResume`` inputs."""
    eng = engine(request)
    with RequestInputs() as given:
        await given.read(request)
        summary = await run_in_threadpool(eng.resume, execution_id, given.values)
    return summary.to_dict()


@router.post("/executions/{execution_id}/replay", response_model=Execution, responses=CONFLICT)
def replay_execution(
    request: Request,
    execution_id: str,
    taskRunId: str | None = Query(None, max_length=40, description="Run again from this task run; the ones before it are copied."),  # noqa: N803
) -> dict[str, Any]:
    """Start a NEW execution that copies the task runs before ``taskRunId`` and runs from it."""
    return engine(request).replay(execution_id, taskRunId).to_dict()


@router.delete("/executions/{execution_id}", status_code=204, response_class=Response, responses=CONFLICT)
def delete_execution(request: Request, execution_id: str) -> Response:
    """Delete an ended execution with its task runs, logs and files."""
    engine(request).delete_execution(execution_id)
    return Response(status_code=204)


@router.post("/executions/{execution_id}/labels", response_model=Execution, responses=CONFLICT)
def set_execution_labels(
    request: Request,
    execution_id: str,
    labels: list[dict[str, str]] | dict[str, str] = Body(..., description="[{key, value}] or {key: value}; merged into the labels."),
) -> dict[str, Any]:
    """Add or change labels of an ended execution."""
    pairs: Sequence[tuple[str | None, str | None]] = list(labels.items()) if isinstance(labels, dict) else [(x.get("key"), x.get("value")) for x in labels]
    return engine(request).set_labels(execution_id, check_labels(pairs)).to_dict()


@router.get("/executions/{execution_id}/file", responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def download_file(request: Request, execution_id: str, path: str = Query(..., max_length=2000, description="lanner:/// URI of a file of this execution.")) -> StreamingResponse:
    """Download an output file of this execution (URIs of other executions are refused)."""
    download = engine(request).download(execution_id, path)
    name = download.name.replace('"', "")
    return StreamingResponse(iter(download), media_type="application/octet-stream", headers={"content-disposition": f'attachment; filename="{name}"'})


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
    svc = services(request)
    eng = svc.engine
    label_map = parse_labels(labels)
    flow = await run_in_threadpool(eng.definition, namespace, flow_id, revision)
    if flow.disabled:
        raise ApiError(409, f"flow {namespace}.{flow_id} is disabled")
    with RequestInputs() as given:
        await given.read(request)
        given.check_files(flow)
        try:
            ex_id = await run_in_threadpool(
                lambda: eng.start(namespace, flow_id, given.values, labels=label_map or None, revision=revision)
            )
        except StorageError as exc:  # an uploaded file that internal storage refuses to keep
            raise ApiError(422, str(exc), [{"path": "inputs", "message": str(exc), "line": None, "column": None}]) from None
    summary: ExecutionSummary | None = await (run_in_threadpool(eng.wait, ex_id, svc.wait_timeout) if wait else run_in_threadpool(eng.summary, ex_id))
    if summary is None:
        raise not_found(f"execution {ex_id} does not exist")
    return summary.to_dict()
