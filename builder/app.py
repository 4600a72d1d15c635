"""The web builder's entry point: mount the Panel pages under ``/ui`` on the API's FastAPI app.

``mount(app, engine)`` is what the server calls; the pages share one
:class:`builder.services.Services` over the server's Engine, so the UI and
the REST API see the same engine without an HTTP hop. ``create_app`` builds a
FastAPI app with only the builder on it (development; the server mounts it
on its own app with the REST API).

A custom dashboard (``/ui/dashboard?id=..``) is the one page that is not a Panel
session: it is served whole, charts and data included, by
:mod:`builder.pages.dashboard_custom`, which draws in a fraction of a Panel
page's start (see there); ``/ui/dashboard`` without ``id`` stays the Panel page.
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request

from builder.services import Services
from engine.service import Engine, Invalid, NotFound

PREFIX = "/ui"


def _pages() -> dict[str, Callable[[Services], Any]]:
    from builder.pages import (
        dashboard,
        dashboard_edit,
        dashboards,
        editor,
        execute,
        execution,
        executions,
        flow,
        flows,
        logs,
        namespace,
        triggers,
    )

    return {"flows": flows.page, "editor": editor.page, "execute": execute.page, "execution": execution.page,
            "dashboard": dashboard.page, "triggers": triggers.page,
            "executions": executions.page, "flow": flow.page, "logs": logs.page,
            "dashboards": dashboards.page, "dashboard_edit": dashboard_edit.page,
            "namespace": namespace.page}


def _bind(fn: Callable[[Services], Any], services: Services) -> Callable[[], Any]:
    """A page function without arguments (Panel calls one per browser session; partials are not accepted)."""
    def app() -> Any:
        return fn(services)

    app.__name__ = fn.__module__.rsplit(".", 1)[-1]
    return app


def mount(app: Any, engine: Engine) -> Services:
    """Serve the builder pages at ``/ui/<page>`` on ``app`` (a FastAPI app) and return their services."""
    from fastapi import HTTPException
    from fastapi.responses import RedirectResponse, Response
    from panel.io.fastapi import add_applications

    services = Services(engine)
    apps = {f"/{name}": _bind(fn, services) for name, fn in _pages().items()}
    titles = {f"/{name}": f"Lanner · {name.capitalize()}" for name in _pages()}

    @app.get(PREFIX, include_in_schema=False)
    @app.get(PREFIX + "/", include_in_schema=False)
    def _home() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/flows")

    @app.get(PREFIX + "/files/{execution_id}", include_in_schema=False)
    def _file(execution_id: str, uri: str, download: bool = False) -> Response:
        """An execution's output or input file (the notebook report shown in an iframe, downloads)."""
        try:
            with services.download(execution_id, uri) as found:
                name, data = found.name, found.read()
        except NotFound as exc:
            raise HTTPException(404, f"file {uri} is not available: {exc}") from None
        except Invalid:
            raise HTTPException(403, "this file does not belong to that execution") from None
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'} if download else {}
        # Reports are self-contained HTML; they must not reach the network either.
        headers["Content-Security-Policy"] = "default-src 'self' 'unsafe-inline' data: blob:"
        return Response(data, media_type=media, headers=headers)

    _dashboard_routes(app, services)
    add_applications(apps, app=app, title=titles, prefix=PREFIX)
    # After Panel's dispatch middleware, so outside it: a custom dashboard never becomes a Panel session.
    app.add_middleware(CustomDashboardRoute, services=services)
    return services


def _dashboard_routes(app: Any, services: Services) -> None:
    """The custom dashboard page's data: its charts for a set of filters, the executions behind a point."""
    from fastapi import HTTPException
    from fastapi.responses import HTMLResponse, JSONResponse

    from builder.pages import dashboard_charts, dashboard_custom

    dashboard_charts.warm_up()

    @app.get(PREFIX + "/dashboard-data", include_in_schema=False)
    def _charts(request: Request, id: str, item: str = "") -> JSONResponse:  # noqa: A002 - the page's URL argument
        """Every chart's rows as the page's sources; ``item``: also the whole Bokeh figure of that chart."""
        query = dict(request.query_params)
        return JSONResponse(dashboard_custom.charts_payload(services, id, query, frozenset([item]) if item else
                                                            frozenset()), headers={"Cache-Control": "no-store"})

    @app.get(PREFIX + "/dashboard-drill", include_in_schema=False)
    def _drill(request: Request, id: str, chart: str, point: str) -> HTMLResponse:  # noqa: A002
        try:
            values = json.loads(point)
        except ValueError:
            values = None
        if not isinstance(values, dict):
            raise HTTPException(422, "point must be a JSON object of the row's grouping values")
        return HTMLResponse(dashboard_custom.drill_html(services, id, chart, values, dict(request.query_params)),
                            headers={"Cache-Control": "no-store"})


class CustomDashboardRoute:
    """ASGI middleware: ``GET /ui/dashboard?id=..`` is answered by the custom dashboard page, not by Panel."""

    def __init__(self, app: Any, services: Services):
        self.app = app
        self.services = services

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") == PREFIX + "/dashboard" and scope.get("method") in ("GET", "HEAD"):
            query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
            if query.get("id"):
                from fastapi.concurrency import run_in_threadpool
                from fastapi.responses import HTMLResponse

                from builder.pages import dashboard_custom

                started = time.perf_counter()
                page = await run_in_threadpool(dashboard_custom.page_html, self.services, query["id"], query)
                took = (time.perf_counter() - started) * 1000
                # Server-Timing: the browser's timeline shows how much of the wait was the page's making.
                response = HTMLResponse(page if page is not None else dashboard_custom.not_found_page(query["id"]),
                                        status_code=200 if page is not None else 404,
                                        headers={"Cache-Control": "no-store", "Server-Timing": f"page;dur={took:.1f}"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(engine: Engine) -> Any:
    """A FastAPI app serving only the builder (the real server also mounts the REST API)."""
    from fastapi import FastAPI

    app = FastAPI(title="Lanner builder")
    mount(app, engine)
    return app
