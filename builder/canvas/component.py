"""``FlowCanvas``: the Panel component that draws a flow and lets people edit it by dragging.

The browser side is the React Flow + elkjs canvas bundled from
``builder/frontend`` (``builder/canvas/bundle/canvas.js``); Panel serves the
bundle from Lanner's own server as a cacheable file. All tree edits run in the
browser (``builder/frontend/src/edits.js``) so that dragging stays instant; each edit assigns a new ``flow`` object, which Panel syncs back here.
The Python side only restores what a browser cannot keep: the order of
integer-like keys and the float-ness of whole numbers (see
:func:`builder.canvas.roundtrip.restore_key_order`), so a round trip is
lossless.
"""

from __future__ import annotations

from typing import Any

import param
from panel.custom import JSComponent

from builder.canvas.bundles import bundle
from builder.canvas.flow_edit import container_spec
from builder.canvas.roundtrip import restore_key_order

_BUNDLE = bundle("canvas.js")


class FlowCanvas(JSComponent):
    """A flow as boxes and arrows, with a palette to drag tasks from.

    ``flow`` is the Kestra YAML data of the flow; every edit on the canvas
    replaces it with a new dict. ``selected`` follows clicks; ``errors`` maps
    task ids to messages shown as red badges (other keys show in a banner).
    """

    flow = param.Dict(default={}, doc="The flow as Kestra YAML data (camelCase keys, order kept).")
    palette = param.List(default=[], doc="Palette entries, as returned by builder.canvas.palette.palette_items().")
    selected = param.String(default="", doc="Id of the selected task ('' when none).")
    errors = param.Dict(default={}, doc="Task id -> list of messages, shown as red badges on the nodes.")
    readonly = param.Boolean(default=False, doc="Show the flow without palette, drag and drop or edit buttons.")
    dirty = param.Boolean(default=False, doc="Unsaved changes: leaving or reloading the page asks first.")
    container_spec = param.Dict(
        default={}, constant=True,
        doc="Child-list shapes of the registered task types, for the JavaScript (from the registry; not meant to be changed).",
    )

    _esm = _BUNDLE
    _bundle = _BUNDLE  # served by URL (one cached download), not inlined in every session's document
    _stylesheets = [_BUNDLE.with_suffix(".css")]

    def __init__(self, **params: Any) -> None:
        if "palette" not in params:
            from builder.canvas.palette import palette_items

            params["palette"] = palette_items()
        params.setdefault("container_spec", container_spec())
        params.setdefault("sizing_mode", "stretch_width")
        if params["sizing_mode"] in ("stretch_width", "fixed", None):
            params.setdefault("height", 640)  # the board and the palette scroll inside
        params.setdefault("min_height", 480)
        super().__init__(**params)

    def _process_property_change(self, props: dict[str, Any]) -> dict[str, Any]:
        props = super()._process_property_change(props)
        if isinstance(props.get("flow"), dict):
            props["flow"] = restore_key_order(props["flow"], self.flow)
        return props

    def reset_history(self) -> None:
        """Forget the canvas's undo/redo history (e.g. after loading another flow)."""
        self._send_msg({"action": "reset_history"})
