"""Execution page: live topology, Gantt chart, streaming logs with filters, outputs, and actions.

The topology is the very ES module of the Jupyter widget (the topology bundle of ``builder/frontend``)
loaded through Panel's ``AnyWidgetComponent``, fed with the same layout and
state colouring (``builder.topology``), so a run looks the same in a notebook
and here. A periodic callback polls the store: the summary for states, and
``logs(after_id=)`` for new log lines only. It stops once the execution has
ended and everything has been shown.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import param
from panel.custom import AnyWidgetComponent

from builder.canvas.bundles import bundle
from builder.human import took, when_html
from builder.pages.common import Poller, arg, badge, esc, html_pane, shell, url
from builder.pages.execution_tools import ExecutionTools, history_html, metrics_html
from builder.services import Services
from builder.topology import STATE_COLOURS, apply_execution, layout_flow, node_details, run_duration
from engine.model.state import TERMINAL
from engine.storage import SCHEME

LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
POLL_MS = 500


class Topology(AnyWidgetComponent):
    """The shared topology widget (same JS and traits as ``builder.jupyter.widget.FlowWidget``)."""

    topology = param.Dict(default={})
    states = param.Dict(default={})
    details = param.Dict(default={})
    execution = param.Dict(default={})
    selected = param.String(default="")
    view = param.String(default="topology")
    gantt = param.Dict(default={})
    files_url = param.String(default="/")  # file links go to this server's /api/v1/executions/{id}/file
    palette = param.Dict(default=dict(STATE_COLOURS))

    _esm = bundle("topology.js")
    # Inlined: Panel serves component files only from beside the component's own module.
    _stylesheets = [bundle("topology.css").read_text()]


def _uris(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, uri) of every internal-storage URI inside an outputs structure."""
    if isinstance(value, str) and value.startswith(SCHEME):
        return [(path, value)]
    if isinstance(value, dict):
        return [u for k, v in value.items() for u in _uris(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [u for i, v in enumerate(value) for u in _uris(v, f"{path}[{i}]")]
    return []


class ExecutionPage:
    def __init__(self, services: Services, execution_id: str):
        import panel as pn

        self.services = services
        self.execution_id = execution_id
        self.summary = services.summary(execution_id) if execution_id else None
        self.last_log = 0
        self._poller = Poller(self.refresh, POLL_MS)
        self.header = html_pane("", css_classes=["ln-exec-header"])
        self.message = html_pane("")
        if self.summary is None:
            self.topology = None
            return
        flow_data = services.flow_data_of(self.summary)
        self.layout = layout_flow(flow_data).to_dict()
        self.topology = Topology(topology=self.layout, sizing_mode="stretch_width", height=420,
                                 css_classes=["ln-topology"])
        from bokeh.plotting import figure

        self.gantt = pn.pane.Bokeh(figure(height=160, sizing_mode="stretch_width"), sizing_mode="stretch_width")
        task_ids = sorted({str(n.get("taskId")) for n in self.layout.get("nodes", []) if n.get("taskId")})
        self.level = pn.widgets.Select(name="Level", options=LEVELS, value="INFO", width=120,
                                       css_classes=["ln-log-level"])
        self.task = pn.widgets.Select(name="Task", options=["", *task_ids], value="", width=180,
                                      css_classes=["ln-log-task"])
        self.logs = html_pane("<div class='ln-logs'></div>", css_classes=["ln-log-view"], height=360,
                              styles={"overflow-y": "auto", "background": "white"})
        self._lines: list[str] = []
        self.level.param.watch(self._reset_logs, "value")
        self.task.param.watch(self._reset_logs, "value")
        self.outputs = pn.Column(sizing_mode="stretch_width", css_classes=["ln-outputs"])
        self.history = html_pane("", css_classes=["ln-history"])
        self.metrics = html_pane("", css_classes=["ln-metrics"])
        self.tools = ExecutionTools(services, execution_id, self.message, self.start_polling)
        self.buttons = {}
        for name, kind in (("kill", "danger"), ("resume", "primary"), ("restart", "warning"), ("replay", "default")):
            b = pn.widgets.Button(name=name.capitalize(), button_type=kind, width=90, css_classes=[f"ln-{name}"])
            b.on_click(lambda _e, n=name: self.act(n))
            self.buttons[name] = b
        self.refresh()

    # --- polling ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Poll once: states, Gantt, new log lines; stop polling after the final update."""
        summary = self.services.summary(self.execution_id)
        if summary is None:
            return
        changed = summary != self.summary or not self.topology.states
        self.summary = summary
        ended = summary["state"] in TERMINAL
        if changed:
            self._show_summary(summary)
        self._append_logs()
        if ended:
            self._poller.stop()
        self._update_buttons()

    def _show_summary(self, summary: dict[str, Any]) -> None:
        from builder.jupyter.gantt import gantt_figure

        state = summary["state"]
        self.topology.param.update(
            states=apply_execution(self.layout, summary),
            details=node_details(self.layout, summary, None),
            execution={"id": summary["id"], "namespace": summary["namespace"], "flowId": summary["flowId"],
                       "flowRevision": summary.get("flowRevision"), "state": state,
                       "colour": STATE_COLOURS.get(state), "startDate": summary.get("startDate"),
                       "endDate": summary.get("endDate"),
                       "duration": run_duration([{"startDate": summary.get("startDate"),
                                                   "endDate": summary.get("endDate"), "state": state}]),
                       "inputs": summary.get("inputs") or {}, "outputs": summary.get("outputs") or {}},
        )
        self.gantt.object = gantt_figure(summary)
        ran = took(summary.get("startDate"), summary.get("endDate"))
        flow_link = url("flow", namespace=summary["namespace"], id=summary["flowId"])
        self.header.object = (
            f"<div>Flow <a class='ln-exec-flow' href='{flow_link}'>{esc(summary['namespace'])}."
            f"{esc(summary['flowId'])}</a> rev {summary.get('flowRevision')} · <span class='ln-exec-state' "
            f"data-state='{esc(state)}'>{badge(state)}</span> · started {when_html(summary.get('startDate'))}"
            f"{(' · took ' if summary.get('endDate') else ' · running for ') + esc(ran) if ran else ''}</div>"
            f"<div class='ln-muted'>inputs: {esc(json.dumps(summary.get('inputs') or {}, default=str))}</div>")
        self.history.object = history_html(summary)
        self.metrics.object = metrics_html(summary)
        self.tools.update(summary)
        self._show_outputs(summary)

    def _reset_logs(self, _event: Any = None) -> None:
        self.last_log = 0
        self._lines = []
        self._append_logs()

    def _append_logs(self) -> None:
        rows = self.services.logs(self.execution_id, after_id=self.last_log, task_id=self.task.value or None,
                                  min_level=self.level.value)
        if not rows and self._lines:
            return
        for r in rows:
            self.last_log = max(self.last_log, int(r["id"]))
            self._lines.append(
                f"<div class='ln-log-line ln-log-{esc(r['level'])}'>{when_html(r['timestamp'])} "
                f"<b>{esc(r['level'])}</b> [{esc(r.get('taskId') or 'execution')}] {esc(r['message'])}</div>")
        body = "".join(self._lines[-2000:]) or "<span class='ln-muted'>No log line yet.</span>"
        self.logs.object = f"<div class='ln-logs'>{body}</div>"

    def _show_outputs(self, summary: dict[str, Any]) -> None:
        import panel as pn

        parts: list[Any] = []
        per_task = {r["taskId"] + (f" [{r['value']}]" if r.get("value") is not None else ""): r.get("outputs")
                    for r in summary.get("taskRuns") or [] if r.get("outputs")}
        if summary.get("outputs"):
            per_task = {"(flow outputs)": summary["outputs"], **per_task}
        if not per_task:
            self.outputs.objects = [html_pane("<p class='ln-muted'>No output yet.</p>")]
            return
        for name, outputs in per_task.items():
            parts.append(pn.pane.Markdown(f"**{name}**", margin=(4, 10)))
            parts.append(pn.pane.JSON(outputs, depth=3, sizing_mode="stretch_width", theme="light"))
            for path, uri in _uris(outputs):
                href = f"./files/{self.execution_id}?uri={quote(uri, safe='')}"
                parts.append(html_pane(f"<a class='ln-download' href='{href}&download=true'>⬇ {esc(path)}</a>"))
                if uri.endswith(".html"):
                    parts.append(html_pane(f"<iframe class='ln-report' src='{href}' style='width:100%;height:480px;"
                                           f"border:1px solid #e2e8f0' sandbox=''></iframe>"))
        self.outputs.objects = parts

    # --- actions -------------------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        state = (self.summary or {}).get("state")
        running = state not in TERMINAL
        self.buttons["kill"].disabled = not (running and state != "KILLING")
        self.buttons["resume"].disabled = state != "PAUSED"
        self.buttons["restart"].disabled = state not in ("FAILED", "KILLED")
        self.buttons["replay"].disabled = running

    def act(self, name: str) -> None:
        from builder.pages.common import go

        try:
            result = getattr(self.services, name)(self.execution_id)
        except Exception as exc:  # noqa: BLE001 - an engine refusal is shown, not raised
            self.message.object = f"<span class='ln-error'>{name} failed: {esc(exc)}</span>"
            return
        self.message.object = f"<span class='ln-ok'>{name} requested</span>"
        if name == "replay" and isinstance(result, str) and result != self.execution_id:
            go("execution", id=result)
            return
        self.start_polling()

    def start_polling(self) -> None:
        self._poller.start()

    def view(self) -> Any:
        import panel as pn

        if self.summary is None:
            return shell("flows", "Execution not found",
                         html_pane(f"<p class='ln-error' style='margin:16px'>Execution {esc(self.execution_id)} "
                                   f"does not exist.</p>"))
        if self.summary["state"] not in TERMINAL:
            self.start_polling()
        tabs = pn.Tabs(("Topology", self.topology), ("Gantt", self.gantt), ("Outputs", self.outputs),
                       ("State history", self.history), ("Metrics", self.metrics), dynamic=False,
                       sizing_mode="stretch_width", css_classes=["ln-exec-tabs"])
        return shell("executions", f"Execution {esc(self.execution_id)}", pn.Column(
            self.header, self.tools.neighbours, pn.Row(*self.buttons.values()), self.tools.view(), self.message, tabs,
            pn.pane.Markdown("#### Logs"), pn.Row(self.level, self.task), self.logs,
            sizing_mode="stretch_width", margin=(0, 16)))


def page(services: Services) -> Any:
    return ExecutionPage(services, arg("id")).view()
