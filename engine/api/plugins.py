"""``GET /api/v1/plugins``: every installed plugin, the types it adds and what failed to load."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["Plugins"])


@router.get("/plugins", response_model=list[dict[str, Any]])
def list_plugins() -> list[dict[str, Any]]:
    """Each distribution that adds types (Lanner's own first): name, version, its tasks, triggers and
    conditions (type, aliases, title, group, class) and the load errors of its entry points."""
    from engine.model.registry import plugins

    return [plugin.to_dict() for plugin in plugins()]
