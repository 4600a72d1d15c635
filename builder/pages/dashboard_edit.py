"""Dashboard YAML editor (``/ui/dashboard_edit?id=<id>``; without ``id``: a new dashboard from a starter).

The YAML is checked as it is typed (every error with its line, the same checks
as ``POST /api/v1/dashboards/validate``); Save stores it (a new dashboard, or a
new version of this one) and opens the dashboard. Nothing is stored while there
are errors, and the text stays in the editor.
"""

from __future__ import annotations

from typing import Any

from builder.dashboards import DashboardServices, check
from builder.pages.common import arg, esc, go, html_pane, shell, url
from builder.services import Services

STARTER = """\
id: my-dashboard
title: My dashboard
description: What this dashboard answers.
timeWindow:
  default: P30D
charts:
  - id: runs_per_flow
    type: io.kestra.plugin.core.dashboard.chart.Bar
    chartOptions:
      displayName: Runs per flow
    data:
      type: io.kestra.plugin.core.dashboard.data.Executions
      columns:
        flow: {field: FLOW_ID}
        runs: {agg: COUNT}
      orderBy:
        - {column: runs, order: DESC}
"""


class DashboardEditor:
    def __init__(self, services: Services, dashboard_id: str):
        import panel as pn

        self.api = DashboardServices(services.engine)
        self.dashboard_id = dashboard_id or None
        found = self.api.get(dashboard_id) if dashboard_id else None
        self.missing = bool(dashboard_id) and found is None
        self.code = pn.widgets.CodeEditor(value=found.source if found else STARTER, language="yaml",
                                          sizing_mode="stretch_width", height=520, css_classes=["ln-dash-yaml"])
        self.errors = html_pane("", css_classes=["ln-dash-errors"])
        self.save = pn.widgets.Button(name="Save", button_type="primary", css_classes=["ln-dash-save"])
        self.save.on_click(lambda _e: self.store())
        self.code.param.watch(lambda _e: self.validate(), "value")
        self.validate()

    def validate(self) -> bool:
        errors = check(self.code.value or "")
        self.errors.object = ("<p class='ln-ok'>Valid.</p>" if not errors else
                              "<ul class='ln-error'>" + "".join(f"<li>{esc(e)}</li>" for e in errors) + "</ul>")
        return not errors

    def store(self) -> None:
        saved = self.api.save(self.code.value or "", self.dashboard_id)
        if saved.dashboard is None:
            self.errors.object = ("<p class='ln-error'>Not saved:</p><ul class='ln-error'>"
                                  + "".join(f"<li>{esc(e)}</li>" for e in saved.errors or []) + "</ul>")
            return
        go("dashboard", id=saved.dashboard.id)

    def view(self) -> Any:
        import panel as pn

        if self.missing:
            return shell("dashboards", "Dashboard not found", html_pane(
                f"<p class='ln-error'>There is no dashboard '{esc(self.dashboard_id)}'. "
                f"<a href='{url('dashboards')}'>See every dashboard</a>.</p>", margin=(0, 16)))
        title = f"Edit dashboard {self.dashboard_id}" if self.dashboard_id else "New dashboard"
        help_text = html_pane(
            "<p class='ln-muted'>Kestra's dashboard YAML: charts of type io.kestra.plugin.core.dashboard.chart."
            "TimeSeries, Bar, Pie, Table or Markdown over io.kestra.plugin.core.dashboard.data.Executions, Logs, or "
            "io.lanner.dashboard.data.FlowOutputs (fields outputs.&lt;taskId&gt;.&lt;key&gt;). "
            f"<a href='{url('dashboards')}'>All dashboards</a></p>")
        return shell("dashboards", title, pn.Column(help_text, pn.Row(self.save), self.errors, self.code,
                                                    sizing_mode="stretch_width", margin=(0, 16)))


def page(services: Services) -> Any:
    return DashboardEditor(services, arg("id")).view()
