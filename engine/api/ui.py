"""The UI mount point: the builder fills it when installed, else /ui says it is not.

``builder.app.mount(app, engine)`` is called when ``builder.app`` is importable
and has ``mount``; the engine never imports the builder otherwise.
"""

from __future__ import annotations

import importlib
import logging

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse

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


def mount_ui(app: FastAPI, engine: Engine, *, builder: bool = True) -> bool:
    """Mount the builder UI if available (and ``builder``); True when it was mounted."""
    module = None
    if builder:
        try:
            module = importlib.import_module("builder.app")
        except ImportError as exc:
            if exc.name not in ("builder.app", "builder"):
                log.warning("the UI could not be loaded: %s", exc)
    mount = getattr(module, "mount", None) if module is not None else None
    if callable(mount):
        try:
            mount(app, engine)
            return True
        except Exception:  # noqa: BLE001 - a broken UI must not take the API down
            log.exception("the UI failed to mount; serving the placeholder page")

    @app.get("/ui", include_in_schema=False)
    @app.get("/ui/", include_in_schema=False)
    def ui_placeholder() -> HTMLResponse:
        return HTMLResponse(PLACEHOLDER)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    return False
