"""Webhooks: ``GET|POST|PUT /api/v1/executions/webhook/{namespace}/{flowId}/{key}``.

The key is compared in constant time with every Webhook trigger of the flow;
a wrong key, a disabled trigger and an unknown flow all answer the same 404,
so the URL tells nothing to someone guessing. The request's body (parsed JSON
when it is JSON, else text), headers and query parameters are the execution's
``{{ trigger.body }}``, ``{{ trigger.headers }}`` and ``{{ trigger.parameters }}``
(Authorization and Cookie headers are dropped).

Calls are rate-limited per key and source address, found or not (so guessing
keys is slow too): ``LANNER_WEBHOOK_RATE`` calls per second (default 10, with
bursts of as many; ``0`` turns the limit off) before answering 429. The
source is the connecting address: behind a reverse proxy, limit there.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Hashable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from engine.api.errors import COMMON_RESPONSES, CONFLICT, ApiError, not_found
from engine.api.models import Execution
from engine.api.services import services

router = APIRouter(prefix="/api/v1", tags=["Webhooks"], responses=COMMON_RESPONSES)

DROPPED_HEADERS = {"authorization", "cookie", "proxy-authorization"}
PATH = "/executions/webhook/{namespace}/{flow_id}/{key}"
#: The one answer to every miss: it must not tell whether the flow, the key or the namespace was wrong.
NO_MATCH = "no webhook matches this URL"
DEFAULT_RATE = 10.0


class RateLimiter:
    """Token buckets: ``rate`` calls per second per key, bursts of up to ``rate`` (at least 1)."""

    def __init__(self, rate: float, max_keys: int = 10_000):
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
            if len(self._buckets) > self.max_keys:  # forget buckets that have refilled
                horizon = now - self.capacity / self.rate
                self._buckets = {k: v for k, v in self._buckets.items() if v[1] > horizon}
        return allowed


def _limiter(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "webhook_limiter", None)
    if limiter is None:
        raw = os.environ.get("LANNER_WEBHOOK_RATE", "").strip() or str(DEFAULT_RATE)
        try:
            rate = float(raw)
        except ValueError:
            raise ApiError(500, f"LANNER_WEBHOOK_RATE must be a number of calls per second, not {raw!r}") from None
        limiter = request.app.state.webhook_limiter = RateLimiter(rate)
    return limiter


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in request.headers.get("content-type", "").lower():
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


async def webhook(request: Request, namespace: str, flow_id: str, key: str) -> dict[str, Any]:
    """Start the flow whose Webhook trigger has this key."""
    source = request.client.host if request.client else "-"
    if not _limiter(request).allow((namespace, flow_id, key, source)):
        raise ApiError(429, "too many webhook calls from this address: slow down (LANNER_WEBHOOK_RATE)", headers={"Retry-After": "1"})
    svc = services(request)
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        if name.lower() not in DROPPED_HEADERS:
            headers.setdefault(name.lower(), []).append(value)
    parameters: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        parameters.setdefault(name, []).append(value)
    variables = {"body": await _body(request), "headers": headers, "parameters": parameters}
    fired = await run_in_threadpool(svc.engine.fire_webhook, namespace, flow_id, key, variables, svc.wait_timeout)
    if fired is None:
        raise not_found(NO_MATCH)
    trig, summary = fired
    if summary is None:
        return Response(status_code=204)  # type: ignore[return-value]  # Kestra: the trigger's conditions do not hold
    media = (trig.response_content_type or "").split(";")[0].strip().lower()
    if trig.wait and trig.return_outputs and media and "json" not in media:
        outputs = summary.outputs or {}
        only = next(iter(outputs.values())) if len(outputs) == 1 else outputs
        text = only if isinstance(only, str) else json.dumps(only, default=str)
        return Response(text, media_type=trig.response_content_type)  # type: ignore[return-value]
    return summary.to_dict()


for _method in ("GET", "POST", "PUT"):
    router.add_api_route(
        PATH, webhook, methods=[_method], response_model=Execution, name=f"webhook_{_method.lower()}", responses=CONFLICT,
        openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"schema": {}}, "text/plain": {"schema": {"type": "string"}}}}} if _method != "GET" else None,
    )
