"""Custom dashboards: create, read, update, delete their YAML definitions; the data of their charts.

Kestra's paths: ``/api/v1/dashboards`` (list, create), ``/api/v1/dashboards/{id}``
(read, replace, delete), ``POST /api/v1/dashboards/{id}/charts/{chartId}`` (a chart's
rows for the filters in the body); and ``.../executions`` (the executions behind one
row: drill-down) and ``POST /api/v1/dashboards/validate``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from engine.api.errors import COMMON_RESPONSES, CONFLICT, ApiError, not_found
from engine.api.flows import YAML_TYPES
from engine.api.services import engine
from engine.model.dashboard import DashboardValidationError, parse_dashboard
from engine.model.validation import FlowError
from engine.model.views import ExecutionSummary
from engine.model.views_workspace import ChartData, DashboardInfo

router = APIRouter(prefix="/api/v1/dashboards", tags=["Dashboards"], responses=COMMON_RESPONSES)

YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/x-yaml": {"schema": {"type": "string", "description": "Dashboard YAML"}}},
    }
}
Scalar = str | int | float | bool | None


class ChartQuery(BaseModel):
    """The page's filters on top of the chart's own: namespace (and below), flow, labels, time range."""

    namespace: str | None = Field(default=None, max_length=150)
    flowId: str | None = Field(default=None, max_length=100)  # noqa: N815 - the API's camelCase
    labels: dict[str, str] | None = None
    startDate: datetime | None = None  # noqa: N815
    endDate: datetime | None = None  # noqa: N815


class DrillQuery(ChartQuery):
    point: dict[str, Scalar] = Field(default_factory=dict, description="The row's values of the columns without agg.")


class DashboardValidation(BaseModel):
    valid: bool
    errors: list[dict[str, Any]] = []


async def _yaml(request: Request) -> str:
    ctype = request.headers.get("content-type", "application/x-yaml").split(";")[0].strip().lower()
    if ctype not in YAML_TYPES:
        raise ApiError(415, f"send the dashboard as YAML with Content-Type: application/x-yaml (got {ctype or 'none'})")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "the dashboard YAML is not valid UTF-8") from None
    if not text.strip():
        raise ApiError(422, "the request body is empty: send the dashboard YAML",
                       [FlowError("", "empty body").to_dict()])
    return text


def _filters(q: ChartQuery) -> dict[str, Any]:
    return {"namespace": q.namespace, "flow_id": q.flowId, "labels": q.labels, "start": q.startDate, "end": q.endDate}


@router.get("", response_model=list[DashboardInfo])
def list_dashboards(request: Request) -> list[dict[str, Any]]:
    """Every custom dashboard with its charts and YAML."""
    return [d.to_dict() for d in engine(request).dashboards()]


@router.post("", response_model=DashboardInfo, openapi_extra=YAML_BODY, responses={**CONFLICT, 415: COMMON_RESPONSES[422]})
async def create_dashboard(request: Request) -> dict[str, Any]:
    """Create a dashboard from its YAML (409 when its id exists: PUT replaces it)."""
    text = await _yaml(request)
    return (await run_in_threadpool(engine(request).save_dashboard, text)).to_dict()


@router.post("/validate", response_model=DashboardValidation, openapi_extra=YAML_BODY,
             responses={415: COMMON_RESPONSES[422]})
async def validate_dashboard(request: Request) -> dict[str, Any]:
    """Every error of a dashboard's YAML, with its path and line (nothing is stored)."""
    text = await _yaml(request)
    try:
        parse_dashboard(text)
    except DashboardValidationError as exc:
        return {"valid": False, "errors": [e.to_dict() for e in exc.errors]}
    return {"valid": True, "errors": []}


@router.get("/{dashboard_id}", response_model=DashboardInfo)
def get_dashboard(request: Request, dashboard_id: str) -> dict[str, Any]:
    found = engine(request).dashboard(dashboard_id)
    if found is None:
        raise not_found(f"dashboard '{dashboard_id}' does not exist")
    return found.to_dict()


@router.put("/{dashboard_id}", response_model=DashboardInfo, openapi_extra=YAML_BODY, responses={415: COMMON_RESPONSES[422]})
async def update_dashboard(request: Request, dashboard_id: str) -> dict[str, Any]:
    """Replace a dashboard's YAML (its id stays)."""
    text = await _yaml(request)
    return (await run_in_threadpool(engine(request).save_dashboard, text, dashboard_id)).to_dict()


@router.delete("/{dashboard_id}", status_code=204, response_class=Response)
def delete_dashboard(request: Request, dashboard_id: str) -> Response:
    engine(request).delete_dashboard(dashboard_id)
    return Response(status_code=204)


@router.post("/{dashboard_id}/charts/{chart_id}", response_model=ChartData)
def chart_data(request: Request, dashboard_id: str, chart_id: str, query: ChartQuery | None = None) -> dict[str, Any]:
    """The rows of one chart, aggregated by the store, for the filters of the body."""
    q = query or ChartQuery()
    return engine(request).chart_data(dashboard_id, chart_id, **_filters(q)).to_dict()


@router.post("/{dashboard_id}/charts/{chart_id}/executions", response_model=list[ExecutionSummary])
def chart_executions(request: Request, dashboard_id: str, chart_id: str, query: DrillQuery | None = None) -> list[dict[str, Any]]:
    """The executions behind one row of a chart (newest first, at most 100)."""
    q = query or DrillQuery()
    found = engine(request).chart_executions(dashboard_id, chart_id, q.point, **_filters(q))
    return [e.to_dict(task_runs=False) for e in found]
