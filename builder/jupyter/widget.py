"""The flow topology widget: an anywidget whose JS is the topology bundle (``builder/frontend``, React Flow).

Every trait is plain JSON so the same JS can be driven by Panel's
``AnyWidgetComponent`` in the web builder. The trait holding the layout is
called ``topology`` rather than ``layout`` because ``layout`` is reserved by
ipywidgets (every DOM widget has a ``Layout`` model under that name).

The mimebundle carries a static SVG as ``text/html`` next to the widget view, so
a notebook opened without a kernel or widget support still shows the flow.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import anywidget
import traitlets

from builder.canvas.bundles import bundle
from builder.jupyter.static import static_html
from builder.topology import (
    PENDING_COLOUR,
    STATE_COLOURS,
    TERMINAL_STATES,
    apply_execution,
    layout_flow,
    node_details,
    run_duration,
)

#: While a run is going on and the Gantt view is open, rebuild it at most this often (seconds).
GANTT_REFRESH = 2.0


class FlowWidget(anywidget.AnyWidget):
    """Topology of one flow, coloured by the state of one execution (when there is one)."""

    _esm = bundle("topology.js")
    _css = bundle("topology.css")

    topology = traitlets.Dict().tag(sync=True)
    states = traitlets.Dict().tag(sync=True)
    details = traitlets.Dict().tag(sync=True)
    execution = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Unicode("topology").tag(sync=True)
    gantt_html = traitlets.Unicode("").tag(sync=True)
    palette = traitlets.Dict(dict(STATE_COLOURS)).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.RLock()
        self._summary: dict[str, Any] | None = None
        self._logs: list[dict[str, Any]] = []
        self._gantt_at = 0.0

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
                done = state in TERMINAL_STATES
                if done or time.monotonic() - self._gantt_at >= GANTT_REFRESH:
                    self._build_gantt()

    def show_gantt(self) -> None:
        """Switch to the Gantt view (built now, from the last summary)."""
        self.view = "gantt"
        self._build_gantt()

    def _build_gantt(self) -> None:
        if self._summary is None:
            return
        from builder.jupyter.gantt import gantt_html

        self._gantt_at = time.monotonic()
        self.gantt_html = gantt_html(self._summary)

    @traitlets.observe("view")
    def _on_view(self, change: dict[str, Any]) -> None:
        if change["new"] == "gantt" and self._summary is not None:
            with self._lock:
                self._build_gantt()

    def to_html(self) -> str:
        """The static picture (SVG in a div) of the current state."""
        return static_html(self.topology, self.states, self.execution)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data)
        data["text/html"] = self.to_html()
        return data, metadata
