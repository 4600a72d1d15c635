"""The UI mount point: the builder fills it when installed, else /ui says it is not.

The builder (``builder.app.create_app(engine)``, its own FastAPI app over the same Engine) costs
more to import than the whole API, so the server does not wait for it: it is
loaded in a background thread once the server has started (or by the first
request under ``/ui``, whichever comes first), and requests under ``/ui`` wait
for it. ``/health`` and the REST API answer meanwhile. The engine never imports
the builder otherwise; a builder that fails to load leaves the placeholder page.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import threading
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.static_assets import CompressedStatic
from engine.service import Engine

log = logging.getLogger("lanner.api")

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lanner</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5;color:#222}
code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>Lanner</h1>
<p>The UI is not installed in this server. The REST API is at <code>/api/v1</code>
(OpenAPI: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>).</p></body></html>
"""


#: How long a request under /ui waits for the builder to load (seconds).
UI_LOAD_WAIT = 120.0


def _is_ui(scope: Scope) -> bool:
    path = scope.get("path", "")
    return scope["type"] in ("http", "websocket") and (path == "/ui" or path.startswith("/ui/"))


class BuilderLoader:
    """Loads the builder app once, in a background thread, and starts its lifespan on first use."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.app: Any = None
        self.loaded = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._lifespan: AbstractAsyncContextManager[Any] | None = None
        self._entered: asyncio.Lock | None = None

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._load, name="lanner-ui-loader", daemon=True)
                self._thread.start()

    def _load(self) -> None:
        try:
            module = importlib.import_module("builder.app")
            self.app = module.create_app(self.engine)
        except Exception:  # noqa: BLE001 - a broken UI must not take the API down
            log.exception("the UI failed to load; serving the placeholder page")
        finally:
            self.loaded.set()

    async def ready(self) -> Any:
        """The builder app with its lifespan started, or None when it could not load."""
        self.start()
        if not self.loaded.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self.loaded.wait, UI_LOAD_WAIT)
        if self.app is None:
            return None
        if self._entered is None:
            self._entered = asyncio.Lock()
        async with self._entered:
            if self._lifespan is None:
                lifespan = self.app.router.lifespan_context(self.app)
                await lifespan.__aenter__()
                self._lifespan = lifespan
        return self.app

    async def stop(self) -> None:
        if self._lifespan is not None:
            lifespan, self._lifespan = self._lifespan, None
            await lifespan.__aexit__(None, None, None)


class _UiDispatch:
    """ASGI middleware: ``/ui`` and ``/ui/*`` go to the builder app once it is loaded.

    Its static files (Panel's and Bokeh's scripts) are kept by the browser and sent compressed.
    """

    def __init__(self, app: ASGIApp, loader: BuilderLoader):
        self.app = app
        self.loader = loader
        self.static = CompressedStatic()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _is_ui(scope):
            builder = await self.loader.ready()
            if builder is not None:
                if scope.get("type") == "http" and "/static/" in scope.get("path", ""):
                    await self.static(builder, scope, receive, send)
                else:
                    await builder(scope, receive, send)
                return
        await self.app(scope, receive, send)


def mount_ui(app: FastAPI, engine: Engine, *, builder: bool = True) -> bool:
    """Serve the builder UI at /ui when it is installed (and ``builder``); True when it will be."""
    if builder and _builder_installed():
        loader = BuilderLoader(engine)
        app.add_middleware(_UiDispatch, loader=loader)
        previous = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: FastAPI):
            async with previous(a):
                loader.start()  # after start-up: the API and /health answer while the UI loads
                try:
                    yield
                finally:
                    await loader.stop()

        app.router.lifespan_context = lifespan
        app.state.ui_loader = loader
    # The placeholder: what /ui serves when there is no builder (or when it failed to load).

    @app.get("/ui", include_in_schema=False)
    @app.get("/ui/", include_in_schema=False)
    def ui_placeholder() -> HTMLResponse:
        return HTMLResponse(PLACEHOLDER)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    return builder and _builder_installed()


def _builder_installed() -> bool:
    try:
        return importlib.util.find_spec("builder.app") is not None
    except ImportError:  # no "builder" package at all
        return False
