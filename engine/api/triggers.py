"""Triggers: list with next/last dates, enable/disable, and backfills of Schedule triggers."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Query, Request

from engine.api.errors import COMMON_RESPONSES, CONFLICT, not_found
from engine.api.models import BackfillIn, BackfillOut, Count, Disabled, SetDisabled, TriggerOut, TriggerPage
from engine.api.services import engine
from engine.service import BackfillAction

router = APIRouter(prefix="/api/v1/triggers", tags=["Triggers"], responses=COMMON_RESPONSES)


@router.get("/search", response_model=TriggerPage, responses=CONFLICT)
def search_triggers(
    request: Request,
    namespace: str | None = Query(None, max_length=150, description="Namespace (and its children)."),
    flowId: str | None = Query(None, max_length=100),  # noqa: N803 - Kestra's parameter name
    q: str | None = Query(None, max_length=200, description="Text in the flow or trigger id."),
    page: int = Query(1, ge=1, le=100000),
    size: int = Query(25, ge=1, le=500),
) -> dict[str, Any]:
    """Every trigger of the deployed flows: next run, last firing and its execution's state, disabled flag."""
    items = engine(request).triggers(namespace=namespace, flow_id=flowId, q=q)
    start = (page - 1) * size
    return {"results": [t.to_dict() for t in items[start : start + size]], "total": len(items)}


@router.post("/set-disabled", response_model=Count, responses=CONFLICT)
def set_disabled(request: Request, body: SetDisabled) -> dict[str, int]:
    """Enable or disable several triggers at once (unknown ones are reported as 404)."""
    eng = engine(request)
    for ref in body.triggers:
        eng.set_trigger_disabled(ref.namespace, ref.flowId, ref.triggerId, body.disabled)
    return {"count": len(body.triggers)}


@router.put("/{namespace}/{flow_id}/{trigger_id}", response_model=TriggerOut, responses=CONFLICT)
def update_trigger(request: Request, namespace: str, flow_id: str, trigger_id: str, body: Disabled) -> dict[str, Any]:
    """Enable (``{"disabled": false}``) or disable a trigger; re-enabling never runs missed ticks."""
    return engine(request).set_trigger_disabled(namespace, flow_id, trigger_id, body.disabled).to_dict()


@router.post("/backfill", response_model=BackfillOut, status_code=201, responses=CONFLICT)
def create_backfill(request: Request, body: BackfillIn) -> dict[str, Any]:
    """Run one execution per tick of a Schedule trigger in [start, end), a few per second."""
    return engine(request).backfill(body.namespace, body.flowId, body.triggerId, body.start, body.end,
                                    inputs=body.inputs, labels=body.labels).to_dict()


@router.get("/backfills", response_model=list[BackfillOut], responses=CONFLICT)
def list_backfills(
    request: Request,
    namespace: str | None = Query(None, max_length=150),
    flowId: str | None = Query(None, max_length=100),  # noqa: N803
    triggerId: str | None = Query(None, max_length=100),  # noqa: N803
) -> list[dict[str, Any]]:
    return [b.to_dict() for b in engine(request).backfills(namespace=namespace, flow_id=flowId, trigger_id=triggerId)]


@router.get("/backfill/{backfill_id}", response_model=BackfillOut, responses=CONFLICT)
def get_backfill(request: Request, backfill_id: str) -> dict[str, Any]:
    """A backfill's progress: ``done`` of ``total`` ticks, its state, and the last tick run."""
    bf = engine(request).get_backfill(backfill_id)
    if bf is None:
        raise not_found(f"backfill {backfill_id} does not exist")
    return bf.to_dict()


@router.post("/backfill/{backfill_id}/{action}", response_model=BackfillOut, responses=CONFLICT)
def change_backfill(request: Request, backfill_id: str, action: str) -> dict[str, Any]:
    """``pause``, ``unpause`` or ``cancel`` a backfill (executions already started are not touched)."""
    if action not in ("pause", "unpause", "cancel"):
        raise not_found(f"unknown backfill action '{action}': use pause, unpause or cancel")
    return engine(request).change_backfill(backfill_id, cast("BackfillAction", action)).to_dict()
