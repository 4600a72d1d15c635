"""Triggers: list with next/last dates, enable/disable, and backfills of Schedule triggers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from engine.api.errors import COMMON_RESPONSES, CONFLICT, ApiError, not_found
from engine.api.models import BackfillIn, BackfillOut, Count, Disabled, SetDisabled, TriggerOut, TriggerPage
from engine.api.services import Services, services
from engine.triggers.scheduler import TriggerFailure

router = APIRouter(prefix="/api/v1/triggers", tags=["Triggers"], responses=COMMON_RESPONSES)


def _scheduler(svc: Services) -> Any:
    if svc.scheduler is None:
        raise ApiError(409, "the scheduler is not running in this server")
    return svc.scheduler


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
    items = _scheduler(services(request)).describe()
    if namespace:
        items = [t for t in items if t["namespace"] == namespace or t["namespace"].startswith(namespace + ".")]
    if flowId:
        items = [t for t in items if t["flowId"] == flowId]
    if q:
        items = [t for t in items if q.lower() in t["flowId"].lower() or q.lower() in t["triggerId"].lower()]
    start = (page - 1) * size
    return {"results": items[start : start + size], "total": len(items)}


@router.post("/set-disabled", response_model=Count, responses=CONFLICT)
def set_disabled(request: Request, body: SetDisabled) -> dict[str, int]:
    """Enable or disable several triggers at once (unknown ones are reported as 404)."""
    sched = _scheduler(services(request))
    for ref in body.triggers:
        try:
            sched.set_disabled(ref.namespace, ref.flowId, ref.triggerId, body.disabled)
        except LookupError as exc:
            raise not_found(str(exc)) from None
    return {"count": len(body.triggers)}


@router.put("/{namespace}/{flow_id}/{trigger_id}", response_model=TriggerOut, responses=CONFLICT)
def update_trigger(request: Request, namespace: str, flow_id: str, trigger_id: str, body: Disabled) -> dict[str, Any]:
    """Enable (``{"disabled": false}``) or disable a trigger; re-enabling never runs missed ticks."""
    sched = _scheduler(services(request))
    try:
        sched.set_disabled(namespace, flow_id, trigger_id, body.disabled)
    except LookupError as exc:
        raise not_found(str(exc)) from None
    for item in sched.describe():
        if (item["namespace"], item["flowId"], item["triggerId"]) == (namespace, flow_id, trigger_id):
            return item
    raise not_found(f"flow {namespace}.{flow_id} has no trigger '{trigger_id}'")


@router.post("/backfill", response_model=BackfillOut, status_code=201, responses=CONFLICT)
def create_backfill(request: Request, body: BackfillIn) -> dict[str, Any]:
    """Run one execution per tick of a Schedule trigger in [start, end), a few per second."""
    sched = _scheduler(services(request))
    try:
        bf = sched.create_backfill(body.namespace, body.flowId, body.triggerId, body.start, body.end, body.inputs, body.labels)
    except LookupError as exc:
        raise not_found(str(exc)) from None
    except TriggerFailure as exc:
        raise ApiError(422, str(exc), [{"path": "start", "message": str(exc), "line": None, "column": None}]) from None
    return bf.to_dict()


@router.get("/backfills", response_model=list[BackfillOut], responses=CONFLICT)
def list_backfills(
    request: Request,
    namespace: str | None = Query(None, max_length=150),
    flowId: str | None = Query(None, max_length=100),  # noqa: N803
    triggerId: str | None = Query(None, max_length=100),  # noqa: N803
) -> list[dict[str, Any]]:
    sched = _scheduler(services(request))
    return [b.to_dict() for b in sched.store.backfills(namespace=namespace, flow_id=flowId, trigger_id=triggerId)]


@router.get("/backfill/{backfill_id}", response_model=BackfillOut, responses=CONFLICT)
def get_backfill(request: Request, backfill_id: str) -> dict[str, Any]:
    """A backfill's progress: ``done`` of ``total`` ticks, its state, and the last tick run."""
    bf = _scheduler(services(request)).store.get_backfill(backfill_id)
    if bf is None:
        raise not_found(f"backfill {backfill_id} does not exist")
    return bf.to_dict()


_TRANSITIONS = {"pause": ("PAUSED", ("RUNNING",)), "unpause": ("RUNNING", ("PAUSED",)), "cancel": ("CANCELLED", ("RUNNING", "PAUSED"))}


@router.post("/backfill/{backfill_id}/{action}", response_model=BackfillOut, responses=CONFLICT)
def change_backfill(request: Request, backfill_id: str, action: str) -> dict[str, Any]:
    """``pause``, ``unpause`` or ``cancel`` a backfill (executions already started are not touched)."""
    sched = _scheduler(services(request))
    if action not in _TRANSITIONS:
        raise not_found(f"unknown backfill action '{action}': use pause, unpause or cancel")
    bf = sched.store.get_backfill(backfill_id)
    if bf is None:
        raise not_found(f"backfill {backfill_id} does not exist")
    target, allowed = _TRANSITIONS[action]
    if bf.state not in allowed:
        raise ApiError(409, f"backfill {backfill_id} is {bf.state}; cannot {action} it")
    updated = sched.store.set_backfill_state(backfill_id, target, only_from=allowed)
    sched.wake()
    return updated.to_dict() if updated else bf.to_dict()
