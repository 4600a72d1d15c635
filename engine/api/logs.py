"""Logs of an execution, stored and live (Server-Sent Events).

``GET /api/v1/logs/{executionId}/follow`` streams, as they happen:

* ``event: log`` — one stored log line (JSON, the same shape as the list endpoint);
* ``event: state`` — ``{"executionId", "state", "taskRuns": [{"id", "taskId", "state"}]}``
  whenever the execution's or a task run's state changes;
* ``event: end`` — the final state, after the last log line; then the stream closes.

It polls the store (which is the truth, whatever process writes it), so a
follower sees exactly what ``GET /api/v1/logs/{id}`` would return.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from engine.api.errors import COMMON_RESPONSES
from engine.api.models import LogLine
from engine.api.services import engine
from engine.model.views import Page
from engine.model.views_live import ExecutionEvent, LogEvent
from engine.runtime.follow import Follower

router = APIRouter(prefix="/api/v1", tags=["Logs"], responses=COMMON_RESPONSES)

Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
POLL = 0.2
KEEPALIVE = 15.0
#: One Server-Sent Event as the OpenAPI spec documents it (``data`` is a JSON document).
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["log", "state", "end"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
    },
    "required": ["event", "data"],
}


@router.get("/logs/search", response_model=Page[LogLine])
def search_logs(
    request: Request,
    namespace: str | None = Query(None, max_length=150, description="Namespace (and its children)."),
    flowId: str | None = Query(None, max_length=100),  # noqa: N803 - Kestra's parameter names
    executionId: str | None = Query(None, max_length=40),  # noqa: N803
    minLevel: Level | None = Query(None),  # noqa: N803
    startDate: datetime | None = Query(None, description="Written at or after (ISO-8601)."),  # noqa: N803
    endDate: datetime | None = Query(None, description="Written before (ISO-8601)."),  # noqa: N803
    q: str | None = Query(None, max_length=200, description="Free text found in the message or the task id."),
    page: int = Query(1, ge=1, le=100000),
    size: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    """Log lines of every execution, newest first, paginated; each names its namespace and flow."""
    found = engine(request).search_logs(namespace=namespace, flow_id=flowId, execution_id=executionId,
                                        min_level=minLevel, after=startDate, before=endDate, q=q, page=page, size=size)
    return found.to_dict()


@router.get("/logs/{execution_id}", response_model=list[LogLine])
def get_logs(
    request: Request,
    execution_id: str,
    taskId: str | None = Query(None, max_length=100),  # noqa: N803 - Kestra's parameter names
    minLevel: Level | None = Query(None),  # noqa: N803
    afterId: int = Query(0, ge=0, description="Only lines after this log id."),  # noqa: N803
    limit: int | None = Query(None, ge=1, le=100_000),
) -> list[dict[str, Any]]:
    """Stored log lines of an execution, oldest first."""
    lines = engine(request).logs(execution_id, after_id=afterId, task_id=taskId, min_level=minLevel, limit=limit)
    return [line.to_dict() for line in lines]


def sse(event: str, data: object, event_id: int | None = None) -> bytes:
    text = json.dumps(data, default=str, separators=(",", ":"))
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {text}\n\n".encode()


@router.get(
    "/logs/{execution_id}/follow",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}, "description": "Server-Sent Events, one object per event"}},
)
async def follow_logs(
    request: Request,
    execution_id: str,
    taskId: str | None = Query(None, max_length=100),  # noqa: N803
    minLevel: Level | None = Query(None),  # noqa: N803
) -> StreamingResponse:
    """Log lines and state changes of an execution as Server-Sent Events, until it ends."""
    follower = await run_in_threadpool(lambda: engine(request).follower(execution_id, task_id=taskId, min_level=minLevel))
    return StreamingResponse(
        _follow(request, follower),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def encode(event: ExecutionEvent) -> bytes:
    """One event as Server-Sent Event text (``engine.client`` reads it back)."""
    if isinstance(event, LogEvent):
        return sse("log", event.to_dict(), event.line.id)
    return sse(event.kind, event.to_dict())


async def _follow(request: Request, follower: Follower) -> AsyncIterator[bytes]:
    last_sent = time.monotonic()
    while True:
        for event in await run_in_threadpool(follower.poll):
            yield encode(event)
            last_sent = time.monotonic()
        if follower.finished or await request.is_disconnected():
            return
        if time.monotonic() - last_sent > KEEPALIVE:
            yield b": keepalive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL)
