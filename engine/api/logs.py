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
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from engine.api.errors import COMMON_RESPONSES, not_found
from engine.api.models import LogLine
from engine.api.queries import task_run_states
from engine.api.services import Services, services

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


def _exists(svc: Services, execution_id: str) -> Any:
    ex = svc.runner.store.get_execution(execution_id)
    if ex is None:
        raise not_found(f"execution {execution_id} does not exist")
    return ex


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
    svc = services(request)
    _exists(svc, execution_id)
    return svc.runner.store.get_logs(execution_id, after_id=afterId, task_id=taskId, min_level=minLevel, limit=limit)


def sse(event: str, data: Any, event_id: int | None = None) -> bytes:
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
    svc = services(request)
    await run_in_threadpool(_exists, svc, execution_id)
    return StreamingResponse(
        _follow(request, svc, execution_id, taskId, minLevel),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def _follow(request: Request, svc: Services, execution_id: str, task_id: str | None, min_level: str | None) -> AsyncIterator[bytes]:
    store = svc.runner.store
    last_log = 0
    last_state: Any = None
    last_sent = time.monotonic()

    async def new_lines() -> list[bytes]:
        nonlocal last_log
        rows = await run_in_threadpool(store.get_logs, execution_id, after_id=last_log, task_id=task_id, min_level=min_level, limit=5000)
        out = []
        for row in rows:
            last_log = row["id"]
            out.append(sse("log", svc.mask(row), row["id"]))
        return out

    while True:
        ex = await run_in_threadpool(store.get_execution, execution_id)
        if ex is None:  # deleted while followed
            yield sse("end", {"executionId": execution_id, "state": None})
            return
        runs = await run_in_threadpool(task_run_states, store, execution_id)
        state = (str(ex.state), runs)
        for chunk in await new_lines():
            yield chunk
            last_sent = time.monotonic()
        if state != last_state:
            last_state = state
            yield sse("state", {"executionId": execution_id, "state": str(ex.state), "taskRuns": [{"id": i, "taskId": t, "state": s} for i, t, s in runs]})
            last_sent = time.monotonic()
        if ex.state.terminal:
            await run_in_threadpool(svc.runner.sync, 2)  # logs written just before the end
            for chunk in await new_lines():
                yield chunk
            yield sse("end", {"executionId": execution_id, "state": str(ex.state)})
            return
        if await request.is_disconnected():
            return
        if time.monotonic() - last_sent > KEEPALIVE:
            yield b": keepalive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL)
