"""Flows: create, read (by revision, with source), update, delete, validate, search; the flow JSON Schema."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from engine.api.errors import COMMON_RESPONSES, CONFLICT, ApiError, not_found
from engine.api.models import FlowOut, FlowPage, ValidationResult
from engine.api.services import services
from engine.model.validation import validate_text

router = APIRouter(prefix="/api/v1", tags=["Flows"], responses=COMMON_RESPONSES)

YAML_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/x-yaml": {"schema": {"type": "string", "description": "Flow YAML"}}},
    }
}
#: What a flow body may be sent as. Not text/plain: a page of another site could send that without asking.
YAML_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml", "application/json")


async def yaml_body(request: Request) -> str:
    ctype = request.headers.get("content-type", "application/x-yaml").split(";")[0].strip().lower()
    if ctype not in YAML_TYPES:
        raise ApiError(415, f"send the flow as YAML with Content-Type: application/x-yaml (got {ctype or 'an empty Content-Type'})")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "the flow YAML is not valid UTF-8") from None
    if not text.strip():
        raise ApiError(422, "the request body is empty: send the flow YAML", [{"path": "", "message": "empty body", "line": None, "column": None}])
    return text


def _as_data(source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError:
        return {}
    return json.loads(json.dumps(data, default=str)) if isinstance(data, dict) else {}


def flow_out(rec: Any, *, source: bool = False) -> dict[str, Any]:
    out = _as_data(rec.source)
    out.update({"id": rec.id, "namespace": rec.namespace, "revision": rec.revision, "deleted": bool(rec.deleted), "updated": rec.updated})
    if source:
        out["source"] = rec.source
    return out


def _validate(text: str) -> Any:
    report = validate_text(text)
    if report.errors:
        raise ApiError(422, f"the flow is invalid: {report.errors[0]}", [e.to_dict() for e in report.errors])
    return report.flow


def _wants_yaml(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(t in accept for t in ("application/x-yaml", "application/yaml", "text/yaml"))


@router.post("/flows", response_model=FlowOut, openapi_extra=YAML_BODY, responses={**CONFLICT, 415: COMMON_RESPONSES[422]})
async def create_flow(request: Request) -> dict[str, Any]:
    """Create a flow from its YAML (409 when it exists: use PUT to update it)."""
    svc = services(request)
    text = await yaml_body(request)
    flow = await run_in_threadpool(_validate, text)
    if svc.runner.store.get_flow(flow.namespace, flow.id) is not None:
        raise ApiError(409, f"flow {flow.namespace}.{flow.id} already exists; update it with PUT /api/v1/flows/{flow.namespace}/{flow.id}")
    return await _deploy(request, text)


async def _deploy(request: Request, text: str) -> dict[str, Any]:
    svc = services(request)
    flow = await run_in_threadpool(svc.runner.deploy, text)
    rec = svc.runner.store.get_flow(flow.namespace, flow.id)
    if svc.scheduler is not None:
        svc.scheduler.wake()
    return flow_out(rec, source=True)


@router.post("/flows/validate", response_model=list[ValidationResult], openapi_extra=YAML_BODY, responses={415: COMMON_RESPONSES[422]})
async def validate_flows(request: Request) -> list[dict[str, Any]]:
    """Validate one or more flows (YAML documents separated by ``---``) without saving them."""
    text = await yaml_body(request)
    docs = [d for d in re.split(r"(?m)^---[ \t]*$", text) if d.strip()] or [text]
    out = []
    for i, doc in enumerate(docs[:100]):
        report = await run_in_threadpool(validate_text, doc)
        data = report.data if isinstance(report.data, dict) else {}
        out.append(
            {
                "index": i,
                "flow": data.get("id") if isinstance(data.get("id"), str) else None,
                "namespace": data.get("namespace") if isinstance(data.get("namespace"), str) else None,
                "valid": not report.errors,
                "errors": [e.to_dict() for e in report.errors],
                "warnings": [w.to_dict() for w in report.warnings],
            }
        )
    return out


@router.get("/flows/search", response_model=FlowPage)
def search_flows(
    request: Request,
    namespace: str | None = Query(None, max_length=150, description="Namespace or namespace prefix."),
    labels: list[str] = Query([], description="Label filter key:value (repeatable)."),
    q: str | None = Query(None, max_length=200, description="Text in the id, namespace or description."),
    page: int = Query(1, ge=1, le=100000),
    size: int = Query(25, ge=1, le=500),
) -> dict[str, Any]:
    """Latest revision of the flows that match, paginated."""
    svc = services(request)
    wanted = parse_labels(labels)
    results = []
    for rec in svc.runner.store.list_flows(namespace or None):
        data = _as_data(rec.source)
        if q and not any(q.lower() in str(data.get(k, "")).lower() for k in ("id", "namespace", "description")):
            continue
        if wanted:
            flow_labels = data.get("labels") or {}
            if isinstance(flow_labels, list):
                flow_labels = {str(x.get("key")): str(x.get("value")) for x in flow_labels if isinstance(x, dict)}
            if not all(str(flow_labels.get(k)) == v for k, v in wanted.items()):
                continue
        results.append(rec)
    start = (page - 1) * size
    return {"results": [flow_out(r) for r in results[start : start + size]], "total": len(results)}


@router.get("/flows/distinct-namespaces", response_model=list[str])
def distinct_namespaces(request: Request) -> list[str]:
    return sorted({r.namespace for r in services(request).runner.store.list_flows()})


@router.get("/flows/{namespace}/{flow_id}/revisions", response_model=list[FlowOut])
def flow_revisions(request: Request, namespace: str, flow_id: str) -> list[dict[str, Any]]:
    """Every stored revision, oldest first (a deletion is a revision with ``deleted: true``)."""
    recs = services(request).runner.store.flow_revisions(namespace, flow_id)
    if not recs:
        raise not_found(f"flow {namespace}.{flow_id} does not exist")
    return [flow_out(r, source=True) for r in recs]


@router.get("/flows/{namespace}", response_model=list[FlowOut])
def flows_of_namespace(request: Request, namespace: str) -> list[dict[str, Any]]:
    """The flows of exactly this namespace."""
    return [flow_out(r) for r in services(request).runner.store.list_flows(namespace) if r.namespace == namespace]


@router.get("/flows/{namespace}/{flow_id}", response_model=FlowOut, responses={200: {"content": {"application/x-yaml": {"schema": {"type": "string"}}}}})
def get_flow(
    request: Request,
    namespace: str,
    flow_id: str,
    revision: int | None = Query(None, ge=1, le=10_000_000),
    source: bool = Query(False, description="Include the YAML source."),
) -> Any:
    """A flow (latest revision, or ``?revision=N``); ``Accept: application/x-yaml`` returns the YAML itself."""
    rec = services(request).runner.store.get_flow(namespace, flow_id, revision)
    if rec is None:
        raise not_found(f"flow {namespace}.{flow_id}" + (f" revision {revision}" if revision else "") + " does not exist")
    if _wants_yaml(request):
        return Response(rec.source, media_type="application/x-yaml")
    return flow_out(rec, source=source)


@router.put("/flows/{namespace}/{flow_id}", response_model=FlowOut, openapi_extra=YAML_BODY, responses={415: COMMON_RESPONSES[422]})
async def update_flow(request: Request, namespace: str, flow_id: str) -> dict[str, Any]:
    """Save a new revision (an unchanged source keeps its revision)."""
    svc = services(request)
    text = await yaml_body(request)
    flow = await run_in_threadpool(_validate, text)
    if (flow.namespace, flow.id) != (namespace, flow_id):
        raise ApiError(422, f"the YAML is flow {flow.namespace}.{flow.id}, not {namespace}.{flow_id}: id and namespace cannot change",
                       [{"path": "id", "message": "must match the URL", "line": None, "column": None}])
    if svc.runner.store.get_flow(namespace, flow_id) is None:
        raise not_found(f"flow {namespace}.{flow_id} does not exist; create it with POST /api/v1/flows")
    return await _deploy(request, text)


@router.delete("/flows/{namespace}/{flow_id}", status_code=204, response_class=Response)
def delete_flow(request: Request, namespace: str, flow_id: str) -> Response:
    """Delete a flow (its history and executions stay)."""
    svc = services(request)
    if not svc.runner.store.delete_flow(namespace, flow_id):
        raise not_found(f"flow {namespace}.{flow_id} does not exist")
    if svc.scheduler is not None:
        svc.scheduler.store.forget_flow(namespace, flow_id)
        svc.scheduler.wake()
    return Response(status_code=204)


@router.get("/plugins/schemas/flow", tags=["Plugins"], response_model=dict[str, Any])
def flow_schema() -> dict[str, Any]:
    """JSON Schema of a flow: every task and trigger type, camelCase properties."""
    from engine.model.schema import flow_json_schema

    return flow_json_schema()


def parse_labels(items: list[str]) -> dict[str, str]:
    """``key:value`` query values -> mapping (422 naming the bad one)."""
    out = {}
    for item in items:
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise ApiError(422, f"label filter {item!r} must be key:value", [{"path": "labels", "message": "expected key:value", "line": None, "column": None}])
        out[key] = value
    return out
