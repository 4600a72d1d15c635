"""Dashboard for business users: executions over time by state, success rate, durations, failures, next runs.

Filters (namespace, time range) and a live refresh every few seconds; every
figure comes from :meth:`builder.services.Services.dashboard` so the page only
draws.
"""

from __future__ import annotations

from typing import Any

from builder.pages.common import Poller, arg, badge, esc, html_pane, shell, url
from builder.services import Services
from builder.topology import PENDING_COLOUR, STATE_COLOURS
from builder.topology import format_duration as fmt

RANGES = {"Last hour": 1, "Last 24 hours": 24, "Last 7 days": 24 * 7, "Last 30 days": 24 * 30}
REFRESH_MS = 3000


def over_time_figure(data: dict[str, Any]) -> Any:
    """Stacked bars: executions started per time bucket, one colour per state."""
    from datetime import datetime

    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    buckets = list(data["overTime"])
    states = sorted({s for counts in data["overTime"].values() for s in counts})
    source = {"t": [datetime.fromisoformat(b).replace(tzinfo=None) for b in buckets]}
    for s in states:
        source[s] = [data["overTime"][b].get(s, 0) for b in buckets]
    width_ms = data["bucket"].total_seconds() * 1000 * 0.9
    fig = figure(x_axis_type="datetime", height=260, sizing_mode="stretch_width", title="Executions over time",
                 toolbar_location=None, tools="")
    if states:
        fig.vbar_stack(states, x="t", width=width_ms, source=ColumnDataSource(source),
                       color=[STATE_COLOURS.get(s, PENDING_COLOUR) for s in states], legend_label=states)
        fig.legend.location = "top_left"
        fig.add_tools(HoverTool(tooltips=[("state", "$name"), ("count", "@$name")]))
    fig.x_range.start = data["since"].replace(tzinfo=None)
    fig.x_range.end = data["until"].replace(tzinfo=None)
    fig.y_range.start = 0
    fig.xaxis.axis_label = "start time (UTC)"
    return fig


class Dashboard:
    def __init__(self, services: Services):
        import panel as pn

        self.services = services
        namespaces = ["", *services.namespaces()]
        wanted = arg("namespace")
        self.namespace = pn.widgets.Select(name="Namespace", options=namespaces,
                                           value=wanted if wanted in namespaces else "", width=200,
                                           css_classes=["ln-dash-namespace"])
        self.range = pn.widgets.Select(name="Time range", options=list(RANGES), value="Last 24 hours", width=160,
                                       css_classes=["ln-dash-range"])
        self.chart = pn.pane.Bokeh(sizing_mode="stretch_width")
        self.kpis = html_pane("", css_classes=["ln-kpis"])
        self.durations = html_pane("", css_classes=["ln-durations"])
        self.failures = html_pane("", css_classes=["ln-failures"])
        self.recent = html_pane("", css_classes=["ln-recent"])
        self.next_runs = html_pane("", css_classes=["ln-next"])
        self.namespace.param.watch(lambda _e: self.refresh(), "value")
        self.range.param.watch(lambda _e: self.refresh(), "value")
        self._signature: Any = None
        self.refresh()

    def refresh(self) -> None:
        data = self.services.dashboard(self.namespace.value or None, RANGES[self.range.value])
        triggers = [t for t in self.services.triggers(self.namespace.value or None) if t["next"]]
        signature = (self.namespace.value, self.range.value, [(e["id"], e["state"]) for e in data["executions"]],
                     [(t["flowId"], t["triggerId"], t["next"]) for t in triggers])
        if signature == self._signature:
            return
        self._signature = signature
        self.chart.object = over_time_figure(data)
        rate = "–" if data["successRate"] is None else f"{data['successRate'] * 100:.0f}%"
        self.kpis.object = (
            "<table class='ln-table'><tr>"
            f"<td><div class='ln-muted'>Executions</div><div class='ln-big ln-kpi-total'>{data['total']}</div></td>"
            f"<td><div class='ln-muted'>Success rate</div><div class='ln-big ln-kpi-success'>{rate}</div></td>"
            f"<td><div class='ln-muted'>Failed</div><div class='ln-big ln-kpi-failed'>{len(data['failures'])}</div>"
            "</td></tr></table>")
        rows = "".join(f"<tr><td>{esc(d['flow'])}</td><td>{d['count']}</td><td>{fmt(d['p50'])}</td>"
                       f"<td>{fmt(d['p90'])}</td><td>{fmt(d['p99'])}</td></tr>" for d in data["durations"])
        self.durations.object = ("<h4>Duration per flow</h4><table class='ln-table'><tr><th>Flow</th><th>Runs</th>"
                                 f"<th>p50</th><th>p90</th><th>p99</th></tr>{rows}</table>")
        fails = "".join(
            f"<tr class='ln-failure'><td>{badge(f['state'])}</td><td>{esc(f['namespace'])}.{esc(f['flowId'])}</td>"
            f"<td>{esc(f['startDate'] or '')}</td><td><a class='ln-open' href='{url('execution', id=f['id'])}'>"
            f"Open</a></td></tr>" for f in data["failures"])
        failed = url("executions", namespace=self.namespace.value or None, state="FAILED,KILLED")
        self.failures.object = ("<h4>Recent failures</h4>" + (f"<table class='ln-table'>{fails}</table>" if fails
                                else "<p class='ln-muted'>No failure in this range.</p>")
                                + f"<p><a class='ln-failed-executions' href='{failed}'>Every failed execution →</a></p>")
        recent = "".join(
            f"<tr class='ln-recent-row' data-id='{esc(e['id'])}'><td>{badge(e['state'])}</td>"
            f"<td>{esc(e['namespace'])}.{esc(e['flowId'])}</td><td>{esc(e['startDate'] or '')}</td>"
            f"<td>{fmt(e['duration'])}</td><td><a href='{url('execution', id=e['id'])}'>Open</a></td></tr>"
            for e in data["executions"][:15])
        every = url("executions", namespace=self.namespace.value or None)
        self.recent.object = ("<h4>Latest executions</h4>" + (f"<table class='ln-table'>{recent}</table>" if recent
                              else "<p class='ln-muted'>No execution in this range.</p>")
                              + f"<p><a class='ln-all-executions' href='{every}'>All executions →</a></p>")
        nxt = "".join(f"<tr><td>{esc(t['namespace'])}.{esc(t['flowId'])}</td><td>{esc(t['triggerId'])}</td>"
                      f"<td>{esc(t['next'])}</td></tr>" for t in sorted(triggers, key=lambda t: t["next"])[:10])
        self.next_runs.object = ("<h4>Next scheduled runs</h4>" + (f"<table class='ln-table'>{nxt}</table>" if nxt
                                 else "<p class='ln-muted'>No active schedule.</p>"))

    def view(self) -> Any:
        import panel as pn

        Poller(self.refresh, REFRESH_MS).start()
        return shell("dashboard", "Dashboard", pn.Column(
            pn.Row(self.namespace, self.range), self.kpis, self.chart,
            pn.Row(pn.Column(self.recent, self.failures, sizing_mode="stretch_width"),
                   pn.Column(self.durations, self.next_runs, sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            sizing_mode="stretch_width", margin=(0, 16)))


def page(services: Services) -> Any:
    """The built-in dashboard (a custom one, ``?id=..``, is served without Panel: builder/app.py)."""
    return Dashboard(services).view()
