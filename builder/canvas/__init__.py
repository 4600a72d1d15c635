"""The drag-and-drop flow canvas of the web builder.

``FlowCanvas`` (the Panel component) is imported lazily so that ``flow_edit``
and ``palette`` can be used without loading Panel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.canvas.component import FlowCanvas

__all__ = ["FlowCanvas"]


def __getattr__(name: str) -> Any:
    if name == "FlowCanvas":
        from builder.canvas.component import FlowCanvas

        return FlowCanvas
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
