"""The flow topology widget: an anywidget whose drawing code is the topology bundle (``builder/frontend``, React Flow).

Every trait is plain JSON so the same JS can be driven by Panel's
``AnyWidgetComponent`` in the web builder. The trait holding the layout is
called ``topology`` rather than ``layout`` because ``layout`` is reserved by
ipywidgets (every DOM widget has a ``Layout`` model under that name).

A notebook keeps every widget's state when it is saved, so what a widget syncs
is kept small: the bundle (``topology.js``/``topology.css``) travels once per kernel,
gzip-compressed, in a shared :class:`WidgetCode` model (each widget's own ES module,
``loader.js``, only loads it), and the Gantt view is drawn from its rows, not from a
Bokeh page.

The mimebundle carries a static SVG as ``text/html`` next to the widget view, so
a notebook opened without a kernel or widget support still shows the flow.

Files an execution produced (an executed notebook, its HTML report, output
files) are listed as links under a task: with a server they point at its
download URL; with the embedded engine a click asks the kernel, which sends the
bytes back to the page (``file_reader``).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

from builder.canvas.bundles import bundle
from builder.jupyter.static import static_html
from builder.topology import (
    PENDING_COLOUR,
    STATE_COLOURS,
    apply_execution,
    layout_flow,
    node_details,
    run_duration,
)
from engine.model.state import TERMINAL

_HERE = Path(__file__).parent
#: While a run is going on and the Gantt view is open, rebuild it at most this often (seconds).
GANTT_REFRESH = 2.0
#: Bytes of one file the kernel sends to the page at most.
MAX_DOWNLOAD = 64 * 1024 * 1024

#: Reads a ``lanner:///`` file of the widget's execution: uri -> (file name, bytes).
FileReader = Callable[[str], tuple[str, bytes]]


class WidgetCode(ipywidgets.Widget):
    """Drawing code shared by every widget of one kind in a kernel (a plain model, never displayed).

    ``loader.js`` imports ``code`` once per page and version; ``css`` goes into the
    page's head, or, with ``shadow``, to the module, which scopes it in a shadow root.
    With ``encoding`` "gzip" both are gzip-compressed and base64-encoded: a saved notebook
    keeps every model's state, and the bundles compress to a third.
    """

    name = traitlets.Unicode("").tag(sync=True)
    code = traitlets.Unicode("").tag(sync=True)
    css = traitlets.Unicode("").tag(sync=True)
    shadow = traitlets.Bool(False).tag(sync=True)
    version = traitlets.Unicode("").tag(sync=True)
    encoding = traitlets.Unicode("").tag(sync=True)


#: The bundle each kind of shared code is (builder/frontend, built by ``make install``), and whether it is
#: drawn in a shadow root. The canvas bundle is the web builder's own module; its ``notebook`` export
#: runs it in a cell.
CODE_FILES: dict[str, tuple[str, bool]] = {
    "flow": ("topology", False),
    "canvas": ("canvas", True),
}


def _packed(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


@cache
def _sources(name: str) -> tuple[str, str, bool, str]:
    """(packed code, packed css, shadow, version) of one kind of shared code."""
    stem, shadow = CODE_FILES[name]
    code = bundle(f"{stem}.js").read_text(encoding="utf-8")
    css = bundle(f"{stem}.css").read_text(encoding="utf-8")
    version = hashlib.sha256((code + css).encode()).hexdigest()[:12]
    return _packed(code), _packed(css), shadow, version


_shared: dict[str, WidgetCode] = {}
_shared_lock = threading.Lock()


def shared_code(name: str = "flow") -> WidgetCode:
    """This kernel's :class:`WidgetCode` of one kind (made again if someone closed it)."""
    with _shared_lock:
        current = _shared.get(name)
        if current is None or current.comm is None:
            code, css, shadow, version = _sources(name)
            current = _shared[name] = WidgetCode(name=name, code=code, css=css, shadow=shadow, version=version,
                                                 encoding="gzip")
        return current


class FlowWidget(anywidget.AnyWidget):
    """Topology of one flow, coloured by the state of one execution (when there is one)."""

    _esm = (_HERE / "loader.js").read_text(encoding="utf-8")

    module = traitlets.Instance(WidgetCode, allow_none=True).tag(sync=True, **ipywidgets.widget_serialization)
    topology = traitlets.Dict().tag(sync=True)
    states = traitlets.Dict().tag(sync=True)
    details = traitlets.Dict().tag(sync=True)
    execution = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Unicode("topology").tag(sync=True)
    gantt = traitlets.Dict().tag(sync=True)
    palette = traitlets.Dict(dict(STATE_COLOURS)).tag(sync=True)
    #: Base URL of the server whose ``/api/v1/executions/{id}/file`` serves the execution's files ("" locally).
    files_url = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("module", shared_code())
        super().__init__(**kwargs)
        self._lock = threading.RLock()
        self._summary: dict[str, Any] | None = None
        self._logs: list[dict[str, Any]] = []
        self._gantt_at = 0.0
        self.file_reader: FileReader | None = None
        self.on_msg(self._on_message)

    @classmethod
    def from_flow(cls, flow_data: dict[str, Any], **kwargs: Any) -> FlowWidget:
        """A widget for flow YAML data (camelCase keys, as ``yaml.safe_load`` gives it)."""
        return cls(topology=layout_flow(flow_data).to_dict(), **kwargs)

    @property
    def summary(self) -> dict[str, Any] | None:
        """The last execution summary shown, if any."""
        return self._summary

    def show_execution(self, summary: dict[str, Any], logs: list[dict[str, Any]] | None = None) -> None:
        """Colour the topology with an execution summary (and its logs, when given).

        Safe to call from a polling thread: updates are serialised and sent as one
        message per call.
        """
        with self._lock:
            self._summary = summary
            if logs is not None:
                self._logs = list(logs)
            state = str(summary.get("state") or "")
            execution = {
                "id": summary.get("id"), "namespace": summary.get("namespace"), "flowId": summary.get("flowId"),
                "flowRevision": summary.get("flowRevision"), "state": state,
                "colour": STATE_COLOURS.get(state, PENDING_COLOUR),
                "startDate": summary.get("startDate"), "endDate": summary.get("endDate"),
                "duration": run_duration([{"startDate": summary.get("startDate"), "endDate": summary.get("endDate"),
                                           "state": state}]),
                "inputs": summary.get("inputs") or {}, "outputs": summary.get("outputs") or {},
            }
            with self.hold_sync():
                self.states = apply_execution(self.topology, summary)
                self.details = node_details(self.topology, summary, self._logs)
                self.execution = execution
            if self.view == "gantt":
                done = state in TERMINAL
                if done or time.monotonic() - self._gantt_at >= GANTT_REFRESH:
                    self._build_gantt()

    def show_gantt(self) -> None:
        """Switch to the Gantt view (built now, from the last summary)."""
        self.view = "gantt"
        self._build_gantt()

    def _build_gantt(self) -> None:
        if self._summary is None:
            return
        from builder.jupyter.gantt import gantt_data

        self._gantt_at = time.monotonic()
        self.gantt = gantt_data(self._summary)

    @traitlets.observe("view")
    def _on_view(self, change: dict[str, Any]) -> None:
        if change["new"] == "gantt" and self._summary is not None:
            with self._lock:
                self._build_gantt()

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """``{"kind": "download", "uri": ...}`` from the page: send the file's bytes back (or why not)."""
        if not isinstance(content, dict) or content.get("kind") != "download":
            return
        uri = str(content.get("uri") or "")
        try:
            if self.file_reader is None:
                raise LookupError("this widget has no engine to read files from (run or watch the execution)")
            name, data = self.file_reader(uri)
            if len(data) > MAX_DOWNLOAD:
                raise ValueError(f"the file is larger than {MAX_DOWNLOAD // (1024 * 1024)} MB: download it from the server")
        except Exception as exc:  # noqa: BLE001 - the page shows the reason, the kernel goes on
            self.send({"kind": "file", "uri": uri, "error": f"{type(exc).__name__}: {exc}"})
            return
        self.send({"kind": "file", "uri": uri, "name": name}, buffers=[data])

    def to_html(self) -> str:
        """The static picture (SVG in a div) of the current state."""
        return static_html(self.topology, self.states, self.execution)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        data["text/html"] = self.to_html()
        return data, metadata
