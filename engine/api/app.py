"""The FastAPI application: REST under /api/v1 (OpenAPI at /api/v1/openapi.json), /health, /metrics, /ui."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from engine.api import errors
from engine.api.metrics import Metrics
from engine.api.request_guard import HostPolicy, RequestGuardMiddleware
from engine.api.security import SecurityMiddleware
from engine.api.services import Services

if TYPE_CHECKING:
    from engine.local_engine import LocalEngine

API_VERSION = "0.1.0"


def create_app(
    engine: LocalEngine,
    *,
    users: dict[str, str] | None = None,
    max_body: int = 10 * 1024 * 1024,
    ui: bool = True,
    allowed_hosts: list[str] | None = None,
    bind_host: str = "127.0.0.1",
) -> FastAPI:
    """Build the app around the in-process engine (its runner, and the scheduler when it has one).

    ``ui=False`` skips loading the builder (a placeholder page is served at /ui).
    ``allowed_hosts`` and ``bind_host`` say which Host names the server answers
    to besides the loopback ones (engine/api/request_guard.py).
    """
    from engine.api import (
        assist,
        dashboards,
        executions,
        flows,
        logs,
        namespaces,
        plugins,
        system,
        triggers,
        webhooks,
    )
    from engine.api.ui import mount_ui

    app = FastAPI(
        title="Lanner API",
        version=API_VERSION,
        description="Kestra-compatible REST API of the Lanner workflow orchestrator.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI loads from a CDN: not served
        redoc_url=None,
    )
    app.state.services = Services(engine, Metrics(engine), max_body)
    errors.install(app)
    for module in (system, flows, webhooks, executions, logs, triggers, namespaces, plugins, dashboards, assist):
        app.include_router(module.router)
    mount_ui(app, engine, builder=ui)
    # Added last, so it is the outermost middleware: Panel's dispatch middleware
    # (added by mount_ui) answers /ui/* itself and would otherwise bypass auth.
    app.add_middleware(SecurityMiddleware, users=users or {}, max_body=max_body)
    # Outermost of all: a request for another host name, or from another site, goes no further.
    app.add_middleware(RequestGuardMiddleware, policy=HostPolicy(allowed_hosts or [], bind_host))
    return app
