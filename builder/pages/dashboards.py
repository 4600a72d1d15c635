"""Dashboards page (``/ui/dashboards``): every dashboard, and a form that builds one without YAML.

The form asks what a business user knows: which data (a flow's outputs, its
executions or logs), which flow, which number and how to aggregate it, which
chart and what to group by. The outputs offered are those the flow's last
execution produced. Saving writes ordinary dashboard YAML (shown live under the
form), so the dashboard can be edited as YAML later (``/ui/dashboard_edit``).
"""

from __future__ import annotations

import re
from typing import Any

from builder.dashboards import AGGS, CHARTS, GROUPS, SOURCES, ChartForm, DashboardServices, form_yaml
from builder.pages.common import esc, go, html_pane, shell, url
from builder.services import Services


def slug(text: str) -> str:
    """A dashboard id from a title (``Nightly sales`` -> ``nightly-sales``)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100] or "dashboard"


class DashboardsPage:
    def __init__(self, services: Services):
        import panel as pn

        self.api = DashboardServices(services.engine)
        self.list = pn.Column(sizing_mode="stretch_width", css_classes=["ln-dashboard-list"])
        self.message = html_pane("", css_classes=["ln-message"])
        flows = self.api.flows()
        self.flow_ns = {f"{ns}.{fid}": (ns, fid) for ns, fid in flows}
        self.title = pn.widgets.TextInput(name="Title", placeholder="Nightly sales", width=240,
                                          css_classes=["ln-form-title"])
        self.source = pn.widgets.Select(name="Data", options=SOURCES, value="FlowOutputs", width=160,
                                        css_classes=["ln-form-source"])
        self.flow = pn.widgets.Select(name="Flow", options=["", *self.flow_ns], width=260,
                                      css_classes=["ln-form-flow"])
        self.value = pn.widgets.Select(name="Number", options={"Count of runs": ""}, width=240,
                                       css_classes=["ln-form-value"])
        self.agg = pn.widgets.Select(name="Aggregation", options=AGGS, value="SUM", width=130,
                                     css_classes=["ln-form-agg"])
        self.chart = pn.widgets.Select(name="Chart", options=CHARTS, value="TimeSeries", width=150,
                                       css_classes=["ln-form-chart"])
        self.group = pn.widgets.Select(name="Group by", options={"Nothing": ""}, width=220,
                                       css_classes=["ln-form-group"])
        self.preview = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["ln-form-yaml"])
        self.save = pn.widgets.Button(name="Create dashboard", button_type="primary", align="end",
                                      css_classes=["ln-form-save"])
        self.save.on_click(lambda _e: self.create())
        self.source.param.watch(lambda _e: self.choices(), "value")
        self.flow.param.watch(lambda _e: self.choices(), "value")
        for w in (self.title, self.value, self.agg, self.chart, self.group):
            w.param.watch(lambda _e: self.show_yaml(), "value")
        self.choices()
        self.refresh()

    # --- the list -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        import panel as pn

        rows: list[Any] = [html_pane(
            "<table class='ln-table'><tr class='ln-dashboard-row' data-id=''><td style='width:40%'>"
            f"<a href='{url('dashboard')}'>Executions overview</a></td><td class='ln-muted'>built in: executions over "
            "time, success rate, durations, failures</td></tr></table>")]
        for d in self.api.list():
            delete = pn.widgets.Button(name="Delete", width=80, css_classes=["ln-dashboard-delete"])
            delete.on_click(lambda _e, d=d: self.ask_delete(d.id, d.title))
            charts = ", ".join(c.title for c in d.charts) or "no chart yet"
            rows.append(pn.Row(html_pane(
                f"<table class='ln-table'><tr class='ln-dashboard-row' data-id='{esc(d.id)}'><td style='width:40%'>"
                f"<a class='ln-dashboard-open' href='{url('dashboard', id=d.id)}'>{esc(d.title)}</a> "
                f"<span class='ln-muted'>{esc(d.id)}</span></td><td class='ln-muted'>{esc(charts)}</td><td>"
                f"<a href='{url('dashboard_edit', id=d.id)}'>Edit YAML</a></td></tr></table>"), delete,
                sizing_mode="stretch_width"))
        self.list[:] = rows

    def ask_delete(self, dashboard_id: str, title: str) -> None:
        import panel as pn

        yes = pn.widgets.Button(name=f"Delete '{title}'", button_type="danger", css_classes=["ln-delete-confirm"])
        no = pn.widgets.Button(name="Keep it", css_classes=["ln-delete-cancel"])

        def delete(_e: Any) -> None:
            self.api.delete(dashboard_id)
            self.message.object = f"<p class='ln-ok'>Dashboard '{esc(title)}' deleted.</p>"
            self.refresh()

        yes.on_click(delete)
        no.on_click(lambda _e: (setattr(self.message, "object", ""), self.refresh()))
        self.list.append(pn.Row(html_pane(f"<p>Delete dashboard '{esc(title)}'? Its YAML is gone for good.</p>"),
                                yes, no))

    # --- the form -----------------------------------------------------------------------------------

    def choices(self) -> None:
        """The numbers and groupings the chosen data source (and flow) offers."""
        source = self.source.value
        ns, fid = self.flow_ns.get(self.flow.value, ("", ""))
        numbers, others = self.api.outputs_of(ns, fid) if source == "FlowOutputs" and fid else ([], [])
        values = {"Count of runs" if source != "Logs" else "Count of log lines": ""}
        if source == "FlowOutputs":
            values.update({f"Output {p}": p for p in numbers})
        if source != "Logs":
            values["Duration (s)"] = "DURATION"
        groups = {"Nothing": ""}
        groups.update({f"Output {p}": p for p in [*others, *numbers]} if source == "FlowOutputs" else {})
        groups.update({f"Label {k}": f"label:{k}" for k in self.api.label_keys(ns, fid)} if source != "Logs" else {})
        groups.update({g.replace("_", " ").capitalize(): g for g in GROUPS[source]})
        self.value.options = values
        self.value.value = next(iter(v for v in values.values() if v), "")
        self.group.options = groups
        self.group.value = ""
        self.show_yaml()

    def form(self) -> ChartForm:
        ns, fid = self.flow_ns.get(self.flow.value, ("", ""))
        title = self.title.value.strip() or (f"{fid} {self.value.value}".strip() if fid else "My dashboard")
        return ChartForm(dashboard_id=slug(title), title=title, source=self.source.value, namespace=ns, flow_id=fid,
                         value=self.value.value, agg=self.agg.value, chart=self.chart.value, group_by=self.group.value)

    def show_yaml(self) -> None:
        self.preview.object = "The dashboard as YAML:\n```yaml\n" + form_yaml(self.form()) + "```"

    def create(self) -> None:
        form = self.form()
        saved = self.api.save(form_yaml(form))
        if saved.dashboard is None:
            errors = "".join(f"<li>{esc(e)}</li>" for e in saved.errors or [])
            self.message.object = f"<p class='ln-error'>Not created:</p><ul class='ln-error'>{errors}</ul>"
            return
        go("dashboard", id=saved.dashboard.id)

    def view(self) -> Any:
        import panel as pn

        form = pn.Column(
            html_pane("<h4>Build a dashboard</h4><p class='ln-muted'>Chart a number your flows produce, without "
                      f"YAML. Prefer YAML? <a class='ln-new-yaml' href='{url('dashboard_edit')}'>Write it</a>.</p>"),
            pn.Row(self.title, self.source, self.flow), pn.Row(self.value, self.agg, self.chart, self.group),
            pn.Row(self.save), self.preview, sizing_mode="stretch_width",
            styles={"background": "white", "border": "1px solid #e2e8f0", "border-radius": "6px", "padding": "4px 12px"})
        return shell("dashboards", "Dashboards", pn.Column(self.message, self.list, form, sizing_mode="stretch_width",
                                                           margin=(0, 16)))


def page(services: Services) -> Any:
    return DashboardsPage(services).view()
