"""Flows: create, read (by revision, with source), update, delete, validate, search; the flow JSON Schema."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from engine.api.errors import COMMON_RESPONSES, CONFLICT, ApiError, not_found
from engine.api.models import FlowOut, FlowPage, ValidationResult
from engine.api.services import engine
from engine.model.views import FlowInfo, Validation
from engine.model.yaml_loader import YamlError, load_any_yaml
from engine.service import Engine

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


def _as_data(source: str | None) -> dict[str, Any]:
    try:
        data = load_any_yaml(source or "")
    except YamlError:
        return {}
    return json.loads(json.dumps(data, default=str)) if isinstance(data, dict) else {}


def flow_out(info: FlowInfo, *, source: bool = False) -> dict[str, Any]:
    """A flow as the API shows it: its YAML as JSON, with its id, namespace, revision, deleted flag and date."""
    out = _as_data(info.source)
    out.update({"id": info.id, "namespace": info.namespace, "revision": info.revision, "deleted": info.deleted, "updated": info.updated})
    if source:
        out["source"] = info.source
    return out


def _validate(eng: Engine, text: str) -> Validation:
    result = eng.validate(text)
    if result.errors:
        raise ApiError(422, f"the flow is invalid: {result.errors[0]}", [e.to_dict() for e in result.errors])
    return result


def _wants_yaml(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(t in accept for t in ("application/x-yaml", "application/yaml", "text/yaml"))


@router.post("/flows", response_model=FlowOut, openapi_extra=YAML_BODY, responses={**CONFLICT, 415: COMMON_RESPONSES[422]})
async def create_flow(request: Request) -> dict[str, Any]:
    """Create a flow from its YAML (409 when it exists: use PUT to update it)."""
    eng = engine(request)
    text = await yaml_body(request)
    flow = await run_in_threadpool(_validate, eng, text)
    if await run_in_threadpool(eng.flow, flow.namespace or "", flow.flow_id or "") is not None:
        raise ApiError(409, f"flow {flow.namespace}.{flow.flow_id} already exists; update it with PUT /api/v1/flows/{flow.namespace}/{flow.flow_id}")
    return flow_out(await run_in_threadpool(eng.deploy, text), source=True)


@router.post("/flows/validate", response_model=list[ValidationResult], openapi_extra=YAML_BODY, responses={415: COMMON_RESPONSES[422]})
async def validate_flows(request: Request) -> list[dict[str, Any]]:
    """Validate one or more flows (YAML documents separated by ``---``) without saving them."""
    eng = engine(request)
    text = await yaml_body(request)
    docs = [d for d in re.split(r"(?m)^---[ \t]*$", text) if d.strip()] or [text]
    out = []
    for i, doc in enumerate(docs[:100]):
        result = await run_in_threadpool(eng.validate, doc)
        out.append({"index": i, **result.to_dict()})
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
    results = engine(request).search_flows(namespace=namespace, q=q, labels=parse_labels(labels) or None)
    start = (page - 1) * size
    return {"results": [flow_out(r) for r in results[start : start + size]], "total": len(results)}


@router.get("/flows/distinct-namespaces", response_model=list[str])
def distinct_namespaces(request: Request) -> list[str]:
    return sorted({r.namespace for r in engine(request).search_flows()})


@router.get("/flows/{namespace}/{flow_id}/revisions", response_model=list[FlowOut])
def flow_revisions(request: Request, namespace: str, flow_id: str) -> list[dict[str, Any]]:
    """Every stored revision, oldest first (a deletion is a revision with ``deleted: true``)."""
    revisions = engine(request).flow_revisions(namespace, flow_id)
    if not revisions:
        raise not_found(f"flow {namespace}.{flow_id} does not exist")
    return [flow_out(r, source=True) for r in revisions]


@router.get("/flows/{namespace}", response_model=list[FlowOut])
def flows_of_namespace(request: Request, namespace: str) -> list[dict[str, Any]]:
    """The flows of exactly this namespace."""
    return [flow_out(r) for r in engine(request).search_flows(namespace=namespace) if r.namespace == namespace]


@router.get("/flows/{namespace}/{flow_id}", response_model=FlowOut, responses={200: {"content": {"application/x-yaml": {"schema": {"type": "string"}}}}})
def get_flow(
    request: Request,
    namespace: str,
    flow_id: str,
    response: Response,
    revision: int | None = Query(None, ge=1, le=10_000_000),
    source: bool = Query(False, description="Include the YAML source."),
) -> Any:
    """A flow (latest revision, or ``?revision=N``); ``Accept: application/x-yaml`` returns the YAML itself.

    The ``ETag`` header is the revision: send it back as ``If-Match`` on PUT so that a save
    made by someone else in between is refused (409) instead of silently undone.
    """
    info = engine(request).flow(namespace, flow_id, revision)
    if info is None:
        raise not_found(f"flow {namespace}.{flow_id}" + (f" revision {revision}" if revision else "") + " does not exist")
    etag = {"ETag": f'"{info.revision}"'}
    if _wants_yaml(request):
        return Response(info.source, media_type="application/x-yaml", headers=etag)
    response.headers.update(etag)
    return flow_out(info, source=source)


#: One save at a time per server process, so that the If-Match check and the write see the same revision.
_save_lock = threading.Lock()


def _expected_revision(if_match: str | None) -> int | None:
    """The revision an ``If-Match`` header names (None: no header, or ``*``); 422 when it is not one."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or len(tag) > 9:
        raise ApiError(422, f"If-Match header {if_match[:40]!r} must be a flow revision, as the ETag of GET /api/v1/flows/{{namespace}}/{{id}} gives it",
                       [{"path": "If-Match", "message": "expected a revision number such as \"3\"", "line": None, "column": None}])
    return int(tag)


def _deploy_if_current(eng: Engine, namespace: str, flow_id: str, text: str, expected: int | None) -> FlowInfo:
    with _save_lock:
        current = eng.flow(namespace, flow_id)
        if current is None:
            raise not_found(f"flow {namespace}.{flow_id} does not exist; create it with POST /api/v1/flows")
        if expected is not None and current.revision != expected:
            raise ApiError(409, f"flow {namespace}.{flow_id} is at revision {current.revision}, not {expected}: someone saved it "
                                "since you read it; GET it again, apply your change to that revision and save again")
        return eng.deploy(text)


@router.put("/flows/{namespace}/{flow_id}", response_model=FlowOut, openapi_extra=YAML_BODY,
            responses={**CONFLICT, 415: COMMON_RESPONSES[422]})
async def update_flow(
    request: Request, namespace: str, flow_id: str,
    if_match: str | None = Header(None, alias="If-Match", max_length=64,
                                  description="The revision the change was made on (the ETag of GET); 409 when the flow moved on since."),
) -> dict[str, Any]:
    """Save a new revision (an unchanged source keeps its revision)."""
    eng = engine(request)
    expected = _expected_revision(if_match)
    text = await yaml_body(request)
    flow = await run_in_threadpool(_validate, eng, text)
    if (flow.namespace, flow.flow_id) != (namespace, flow_id):
        raise ApiError(422, f"the YAML is flow {flow.namespace}.{flow.flow_id}, not {namespace}.{flow_id}: id and namespace cannot change",
                       [{"path": "id", "message": "must match the URL", "line": None, "column": None}])
    return flow_out(await run_in_threadpool(_deploy_if_current, eng, namespace, flow_id, text, expected), source=True)


@router.delete("/flows/{namespace}/{flow_id}", status_code=204, response_class=Response)
def delete_flow(request: Request, namespace: str, flow_id: str) -> Response:
    """Delete a flow (its history and executions stay)."""
    engine(request).delete_flow(namespace, flow_id)
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
