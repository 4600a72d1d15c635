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

import copy
from typing import Any

import param
from panel.custom import JSComponent

from builder.canvas.bundles import bundle
from builder.canvas.flow_edit import container_spec
from builder.canvas.flow_merge import merge
from builder.canvas.roundtrip import restore_key_order

_BUNDLE = bundle("canvas.js")

#: The key under which the flow sent to the browser carries its revision, and an edit sent back the revision it was
#: made on (one property, so the two can never be paired wrongly); never part of the flow itself.
REVISION_KEY = "__lanner_revision__"
#: The number of each browser edit (1, 2, ...), and in what Python sends the last one it has taken in: the browser
#: keeps its own flow while Python's answer predates its latest edit (that edit's answer is on its way), so its
#: own change never blinks out.
EDIT_KEY = "__lanner_edit__"
SEEN_KEY = "__lanner_seen__"
_KEPT_REVISIONS = 64


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
        self._revision = 0
        self._sent: dict[int, dict[str, Any]] = {0: copy.deepcopy(self.flow)}
        self._edit_base: int | None = None
        self._seen_edit = 0
        self._from_browser: dict[str, Any] | None = None

    # --- versioned exchange: Python pushes revisions, the browser's edits say which one they were made on ---------

    def push(self, flow: dict[str, Any]) -> None:
        """Show a flow changed on the server (form, YAML, settings) as a new revision."""
        self._revision += 1
        self._sent[self._revision] = copy.deepcopy(flow)
        self._sent.pop(self._revision - _KEPT_REVISIONS, None)
        self.flow = flow

    def rebase(self, edit: dict[str, Any], current: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The flow a browser edit leads to, and whether the browser lacks part of it.

        An edit made on the latest revision is taken as it is. One made on an
        older revision (a form change was on its way to the browser) is merged
        onto ``current`` so that neither edit is lost; the browser must then be
        sent the merged flow.
        """
        made_on = self._edit_base
        if made_on is None or made_on not in self._sent:
            return edit, False
        base = self._sent[made_on]
        # The browser's flow on that revision is now this edit: its next edit on the same revision starts here.
        self._sent[made_on] = copy.deepcopy(edit)
        if made_on == self._revision:
            return edit, False
        merged = merge(base, edit, current)
        return merged, merged != edit

    def _process_events(self, events: dict[str, Any]) -> None:
        try:
            super()._process_events(events)
        finally:
            self._from_browser = None

    def _process_param_change(self, params: dict[str, Any]) -> dict[str, Any]:
        params = super()._process_param_change(params)
        flow = params.get("flow")
        if flow is not None and flow is self._from_browser:
            # The browser's own edit, taken as it was sent: it shows it already. Sending it back (Panel's echo
            # guard does not know the keys added here) would double the traffic of every canvas edit, the whole
            # flow each time; the browser learns that the edit was taken from the next flow Python sends.
            del params["flow"]
        elif isinstance(flow, dict):
            params["flow"] = {**flow, REVISION_KEY: self._revision, SEEN_KEY: self._seen_edit}
        return params

    def _process_property_change(self, props: dict[str, Any]) -> dict[str, Any]:
        props = super()._process_property_change(props)
        if isinstance(props.get("flow"), dict):
            edit = dict(props["flow"])
            base = edit.pop(REVISION_KEY, None)
            self._edit_base = base if isinstance(base, int) else None
            number = edit.pop(EDIT_KEY, None)
            if isinstance(number, int):
                self._seen_edit = max(self._seen_edit, number)
            props["flow"] = self._from_browser = restore_key_order(edit, self.flow)
        return props

    def reset_history(self) -> None:
        """Forget the canvas's undo/redo history (e.g. after loading another flow)."""
        self._send_msg({"action": "reset_history"})
