"""``/health`` (the one route open without credentials) and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from engine.api.services import services

router = APIRouter(tags=["System"])


@router.get("/health", responses={503: {"description": "A component is down"}})
def health(request: Request) -> JSONResponse:
    """UP when the store answers and the executor (and scheduler) loops are alive."""
    svc = services(request)
    checks = svc.engine.health()
    up = all(v == "UP" for v in checks.values())
    body = {"status": "UP" if up else "DOWN", "checks": checks, "uptimeSeconds": round(time.time() - svc.started, 1)}
    return JSONResponse(body, status_code=200 if up else 503)


@router.get("/metrics", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text format: executions by state, task durations, queue depth, workers."""
    svc = services(request)
    text = svc.metrics.render() if svc.metrics is not None else ""
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
