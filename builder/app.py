"""The web builder's entry point: mount the Panel pages under ``/ui`` on the API's FastAPI app.

``mount(app, engine)`` is what the server calls; the pages share one
:class:`builder.services.Services` over the server's Engine, so the UI and
the REST API see the same engine without an HTTP hop. ``create_app`` builds a
FastAPI app with only the builder on it (development; the server mounts it
on its own app with the REST API).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any

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

    add_applications(apps, app=app, title=titles, prefix=PREFIX)
    return services


def create_app(engine: Engine) -> Any:
    """A FastAPI app serving only the builder (the real server also mounts the REST API)."""
    from fastapi import FastAPI

    app = FastAPI(title="Lanner builder")
    mount(app, engine)
    return app
