"""A custom dashboard's page (``/ui/dashboard?id=<id>``): its charts, filters, live refresh and drill-down.

Filters (namespace, flow, labels, time range) start from the URL
(``&namespace=..&flow=..&labels=team:sales&range=7d``) so a filtered view can be
bookmarked. Every few seconds each chart asks the engine for its rows again and
only a chart whose rows changed is sent to the browser (its sources' data are
replaced in place). A tap on a point opens its execution when one execution is
behind it; a point with several lists them under the chart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from builder.dashboards import DashboardServices
from builder.pages.common import arg, badge, esc, html_pane, shell, url
from builder.pages.dashboard_charts import arrays, figure, series, table_html
from builder.services import Services
from engine.model.dashboard import Chart, Dashboard, parse_dashboard
from engine.model.durations import format_duration
from engine.model.views import ChartData
from engine.service import EngineError

REFRESH_MS = 5000
RANGES = {"1h": ("Last hour", timedelta(hours=1)), "24h": ("Last 24 hours", timedelta(days=1)),
          "7d": ("Last 7 days", timedelta(days=7)), "30d": ("Last 30 days", timedelta(days=30)),
          "365d": ("Last 365 days", timedelta(days=365))}


def parse_labels(text: str) -> dict[str, str]:
    """``team:sales, env:prod`` (or ``=``) as a mapping; pairs without a key are left out."""
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.replace("=", ":", 1).partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


class ChartView:
    """One chart on the page: its pane, its sources, and the signature of the rows it shows."""

    def __init__(self, page: CustomDashboard, chart: Chart):
        import panel as pn

        self.page = page
        self.chart = chart
        self.data: ChartData | None = None
        self.sources: dict[str, Any] = {}
        self.signature: Any = None
        self.body = pn.Column(sizing_mode="stretch_width", css_classes=[f"ln-dash-chart-body-{chart.id}"])
        self.drill = html_pane("", css_classes=["ln-drill"])
        opts = chart.chart_options
        head = f"<h4 class='ln-chart-title'>{esc(chart.title)}</h4>"
        if opts.description:
            head += f"<div class='ln-muted'>{esc(opts.description)}</div>"
        self.pane = pn.Column(html_pane(head), self.body, self.drill, sizing_mode="stretch_width",
                              css_classes=["ln-dash-chart", f"ln-dash-chart-{chart.id}"],
                              styles={"background": "white", "border": "1px solid #e2e8f0", "border-radius": "6px",
                                      "padding": "4px 12px"})

    def refresh(self) -> None:
        import panel as pn

        if self.chart.type == "Markdown":
            if self.signature is None:
                self.body[:] = [pn.pane.Markdown(self.chart.markdown, sizing_mode="stretch_width")]
                self.signature = "markdown"
            return
        try:
            data = self.page.query(self.chart.id)
        except EngineError as exc:
            self.signature = None
            self.body[:] = [html_pane(f"<p class='ln-error'>{esc(exc.message)}</p>")]
            return
        signature = (data.rows, data.execution_ids, data.execution_counts)
        if signature == self.signature:
            return
        self.signature = signature
        self.data = data
        note = "<p class='ln-muted'>Only the first rows are charted: narrow the filters.</p>" if data.truncated else ""
        if self.chart.type == "Table":
            self.body[:] = [html_pane(table_html(self.chart, data) + note)]
            return
        parts = series(self.chart, data)
        if self.sources and list(parts) == list(self.sources) and self.chart.type != "Pie":
            for name, cols in parts.items():  # same series: new data in place, the figure stays
                self.sources[name].data = arrays(cols)
            return
        fig, self.sources = figure(self.chart, data, self.picked)
        items: list[Any] = [pn.pane.Bokeh(fig, sizing_mode="stretch_width")]
        if not data.rows:
            items.append(html_pane("<p class='ln-muted ln-empty'>No data in this range.</p>"))
        if note:
            items.append(html_pane(note))
        self.body[:] = items

    def picked(self, row: int) -> None:
        """A tapped point: list the executions behind it (one opens directly in the browser)."""
        if self.data is None or row >= len(self.data.rows):
            return
        assert self.chart.data is not None
        point = {d: self.data.rows[row].get(d) for d in self.chart.data.dimensions()}
        try:
            found = self.page.executions_behind(self.chart.id, point)
        except EngineError as exc:
            self.drill.object = f"<p class='ln-error'>{esc(exc.message)}</p>"
            return
        what = ", ".join(f"{esc(k)} {esc(v)}" for k, v in point.items())
        rows = "".join(f"<tr><td>{badge(e['state'])}</td><td>{esc(e['namespace'])}.{esc(e['flowId'])}</td>"
                       f"<td>{esc(e.get('startDate') or '')}</td><td><a class='ln-open' "
                       f"href='{url('execution', id=e['id'])}'>Open</a></td></tr>" for e in found)
        self.drill.object = (f"<h5>Executions behind {what} ({len(found)})</h5>"
                             f"<table class='ln-table ln-drill-list'>{rows}</table>")


class CustomDashboard:
    def __init__(self, services: Services, dashboard: Dashboard):
        import panel as pn

        self.api = DashboardServices(services.engine)
        self.dashboard = dashboard
        flow_keys = self.api.flows()  # one read of the flows gives both lists
        namespaces = sorted({ns.rsplit(".", i)[0] for ns, _f in flow_keys for i in range(ns.count(".") + 1)})
        namespaces = ["", *namespaces]
        wanted = arg("namespace")
        self.namespace = pn.widgets.Select(name="Namespace", options=namespaces,
                                           value=wanted if wanted in namespaces else "", width=200,
                                           css_classes=["ln-dash-namespace"])
        flows = sorted({f for _ns, f in flow_keys})
        self.flow = pn.widgets.Select(name="Flow", options=["", *flows],
                                      value=arg("flow") if arg("flow") in flows else "", width=200,
                                      css_classes=["ln-dash-flow"])
        self.labels = pn.widgets.TextInput(name="Labels (key:value, ...)", value=arg("labels"), width=220,
                                           css_classes=["ln-dash-labels"])
        default = f"Dashboard default ({format_duration(dashboard.time_window.default)})"
        options = {default: "", **{label: key for key, (label, span) in RANGES.items()
                                   if span <= dashboard.time_window.max}}
        self.range = pn.widgets.Select(name="Time range", options=options,
                                       value=arg("range") if arg("range") in options.values() else "", width=200,
                                       css_classes=["ln-dash-range"])
        self.charts = [ChartView(self, c) for c in dashboard.charts]
        for widget in (self.namespace, self.flow, self.labels, self.range):
            widget.param.watch(lambda _e: self.refresh(), "value")
        self.refresh()

    def filters(self) -> dict[str, Any]:
        span = RANGES[self.range.value][1] if self.range.value else None
        start = datetime.now(UTC) - span if span else None
        return {"namespace": self.namespace.value or None, "flow_id": self.flow.value or None,
                "labels": parse_labels(self.labels.value), "start": start}

    def query(self, chart_id: str) -> ChartData:
        return self.api.chart_data(self.dashboard.id, chart_id, **self.filters())

    def executions_behind(self, chart_id: str, point: dict[str, Any]) -> list[dict[str, Any]]:
        return self.api.executions_behind(self.dashboard.id, chart_id, point, **self.filters())

    def refresh(self) -> None:
        for chart in self.charts:
            chart.refresh()

    def view(self) -> Any:
        import panel as pn

        pn.state.add_periodic_callback(self.refresh, period=REFRESH_MS)
        links = (f"<a href='{url('dashboards')}'>All dashboards</a> · "
                 f"<a class='ln-edit-dashboard' href='{url('dashboard_edit', id=self.dashboard.id)}'>Edit</a>")
        intro = html_pane(links + (f"<p>{esc(self.dashboard.description)}</p>" if self.dashboard.description else ""),
                          margin=(0, 16))
        grid = pn.GridBox(*(c.pane for c in self.charts), ncols=2 if len(self.charts) > 1 else 1,
                          sizing_mode="stretch_width", margin=(0, 16))
        return shell("dashboards", self.dashboard.title, intro,
                     pn.Row(self.namespace, self.flow, self.labels, self.range, margin=(0, 16)), grid)


def page(services: Services, dashboard_id: str) -> Any:
    info = DashboardServices(services.engine).get(dashboard_id)
    if info is None:
        return shell("dashboards", "Dashboard not found", html_pane(
            f"<p class='ln-error'>There is no dashboard '{esc(dashboard_id)}'. "
            f"<a href='{url('dashboards')}'>See every dashboard</a>.</p>", margin=(0, 16)))
    return CustomDashboard(services, parse_dashboard(info.source)).view()
