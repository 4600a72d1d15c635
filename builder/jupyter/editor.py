"""``%flow edit PATH|ID``: the web builder's drag-and-drop canvas in a notebook cell, saving YAML back.

The canvas is the builder's own bundle (``builder/canvas/bundle/canvas.js``, the
module Panel runs in the web builder), drawn in the notebook by its ``notebook``
export (``builder/frontend/src/notebook-canvas.js``) through anywidget; the bundle
travels once per kernel like the topology widget's (see ``builder/jupyter/widget.py``).
Every edit on the canvas comes back here as Kestra-shaped flow data; it is
validated at once (errors become the canvas's red badges) and written when the
user presses *Save* (or calls :meth:`FlowEditor.save`): to the flow file, or as
a new revision on the engine the flow came from (the embedded one or a server).
Saving is refused while the validator reports errors.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

from builder.canvas.flow_edit import container_spec
from builder.canvas.roundtrip import restore_key_order
from builder.jupyter.backends import NotebookError
from builder.jupyter.widget import WidgetCode, shared_code
from builder.yaml_sync import dump, validate_flow_data

_HERE = Path(__file__).parent

#: Writes flow YAML where the flow lives; returns what to tell the user (e.g. "saved to flows/x.yaml").
Saver = Callable[[str], str]


class FlowEditor(anywidget.AnyWidget):
    """A flow on the builder's canvas; edits are validated at once and saved on request."""

    _esm = (_HERE / "loader.js").read_text(encoding="utf-8")

    module = traitlets.Instance(WidgetCode, allow_none=True).tag(sync=True, **ipywidgets.widget_serialization)
    flow = traitlets.Dict().tag(sync=True)
    palette = traitlets.List().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    errors = traitlets.Dict().tag(sync=True)
    readonly = traitlets.Bool(False).tag(sync=True)
    container_spec = traitlets.Dict().tag(sync=True)
    #: Where *Save* writes: a file path, or ``namespace.id on <engine>``.
    target = traitlets.Unicode("").tag(sync=True)
    #: {"state": "saved" | "unsaved" | "invalid" | "error", "message": ...}
    status = traitlets.Dict().tag(sync=True)

    def __init__(self, data: dict[str, Any], saver: Saver, target: str, **kwargs: Any) -> None:
        from builder.canvas.palette import palette_items

        kwargs.setdefault("module", shared_code("canvas"))
        self._data = copy.deepcopy(data)
        self._saved_text = dump(self._data)
        self._saver = saver
        super().__init__(flow=copy.deepcopy(data), palette=palette_items(), container_spec=container_spec(),
                         target=target, **kwargs)
        self._check(saved=True)
        self.on_msg(self._on_message)

    @property
    def data(self) -> dict[str, Any]:
        """The flow as edited so far (Kestra YAML data, key order kept)."""
        return copy.deepcopy(self._data)

    @property
    def yaml(self) -> str:
        """The flow as edited so far, as YAML text."""
        return dump(self._data)

    @traitlets.observe("flow")
    def _on_flow(self, change: dict[str, Any]) -> None:
        new = change["new"] if isinstance(change["new"], dict) else {}
        # The browser loses the order of integer-like keys and whole floats: put them back.
        self._data = restore_key_order(copy.deepcopy(new), self._data)
        self._check()

    def _check(self, saved: bool = False) -> bool:
        _report, placed = validate_flow_data(self._data)
        self.errors = placed.canvas_errors()
        if not placed.ok:
            first = placed.all[0]
            more = f" (and {len(placed.all) - 1} more)" if len(placed.all) > 1 else ""
            self.status = {"state": "invalid", "message": f"not saved: {first}{more}"}
        elif saved or dump(self._data) == self._saved_text:
            self.status = {"state": "saved", "message": "saved"}
        else:
            self.status = {"state": "unsaved", "message": "unsaved changes"}
        return placed.ok

    def save(self) -> str:
        """Write the edited flow where it came from; NotebookError while it does not validate."""
        if not self._check():
            raise NotebookError(f"the flow is not saved: {self.status['message'].removeprefix('not saved: ')}")
        text = dump(self._data)
        try:
            where = self._saver(text)
        except NotebookError as exc:
            self.status = {"state": "error", "message": str(exc)}
            raise
        except OSError as exc:
            self.status = {"state": "error", "message": f"cannot write {self.target}: {exc.strerror or exc}"}
            raise NotebookError(self.status["message"]) from None
        self._saved_text = text
        self.status = {"state": "saved", "message": where}
        return where

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "save":
            try:
                self.save()
            except NotebookError:
                pass  # the status line shows why

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        data["text/plain"] = f"<FlowEditor of {self.target}: {self.status.get('message', '')}>"
        return data, metadata
