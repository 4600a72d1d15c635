"""What the dashboard pages ask of the engine, and the YAML a dashboard built from the form becomes.

The pages call :class:`DashboardServices` (over the server's Engine, like
:class:`builder.services.Services`), never the engine directly. A dashboard
built with the form (data source, flow, output, aggregation, chart type,
group-by) is written as ordinary dashboard YAML, so it can be edited as YAML
afterwards and read by ``/api/v1/dashboards`` like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from engine.model.dashboard import (
    KESTRA_CHART,
    KESTRA_DATA,
    LANNER_DATA,
    DashboardValidationError,
    parse_dashboard,
)
from engine.model.views_workspace import ChartData, DashboardInfo
from engine.service import Engine, EngineError

SOURCES = {"Flow outputs": "FlowOutputs", "Executions": "Executions", "Logs": "Logs"}
CHARTS = {"Line over time": "TimeSeries", "Bars": "Bar", "Pie": "Pie", "Table": "Table"}
AGGS = {"Sum": "SUM", "Average": "AVG", "Minimum": "MIN", "Maximum": "MAX", "Count": "COUNT"}
#: Group-by choices that every source has (an output or a label is added by the form).
GROUPS = {"Executions": ["STATE", "FLOW_ID", "NAMESPACE"], "FlowOutputs": ["STATE", "FLOW_ID", "NAMESPACE"],
          "Logs": ["LEVEL", "TASK_ID", "FLOW_ID", "NAMESPACE"]}


@dataclass
class Saved:
    """The outcome of saving: the dashboard, or its errors (one sentence each, with the YAML line)."""

    dashboard: DashboardInfo | None = None
    errors: list[str] | None = None


@dataclass
class ChartForm:
    """What the form asks: enough to chart one number without writing YAML."""

    dashboard_id: str
    title: str
    source: str = "FlowOutputs"          # FlowOutputs, Executions or Logs
    namespace: str = ""
    flow_id: str = ""
    value: str = ""                      # an output (sum.values.total), a field (DURATION), "" for a count
    agg: str = "SUM"
    chart: str = "TimeSeries"
    group_by: str = ""                   # "", a field (STATE), label:<key> or an output (sum.values.region)


def _column(source: str, choice: str) -> dict[str, Any]:
    if choice.startswith("label:"):
        return {"field": "LABELS", "labelKey": choice[len("label:"):], "displayName": choice[len("label:"):]}
    if choice in GROUPS.get(source, []) or choice in ("DURATION", "FLOW_REVISION"):
        return {"field": choice}
    return {"field": f"outputs.{choice}", "displayName": choice.rsplit(".", 1)[-1]}


def form_yaml(form: ChartForm) -> str:
    """The dashboard YAML of a form (one chart); the form's own words become titles."""
    columns: dict[str, Any] = {}
    date_field = "DATE" if form.source == "Logs" else "START_DATE"
    if form.chart in ("TimeSeries", "Table"):
        columns["date"] = {"field": date_field, "displayName": "Date" if form.source == "Logs" else "Started"}
    if form.group_by:
        columns["group"] = _column(form.source, form.group_by)
    agg = "COUNT" if not form.value else form.agg
    value = {"agg": agg} if not form.value else {**_column(form.source, form.value), "agg": agg}
    value["displayName"] = f"{agg.lower()} of {form.value}" if form.value else "count"
    columns["value"] = value
    options: dict[str, Any] = {"displayName": form.title}
    if form.chart == "TimeSeries":
        options["column"] = "date"
        if form.group_by:
            options["colorByColumn"] = "group"
    where = []
    if form.namespace:
        where.append({"field": "NAMESPACE", "type": "EQUAL_TO", "value": form.namespace})
    if form.flow_id:
        where.append({"field": "FLOW_ID", "type": "EQUAL_TO", "value": form.flow_id})
    prefix = LANNER_DATA if form.source == "FlowOutputs" else KESTRA_DATA
    data: dict[str, Any] = {"type": prefix + form.source, "columns": columns}
    if where:
        data["where"] = where
    doc = {"id": form.dashboard_id, "title": form.title,
           "charts": [{"id": "chart_1", "type": KESTRA_CHART + form.chart, "chartOptions": options, "data": data}]}
    return "# Built with the dashboard form; edit it here or build another one from the form.\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def check(source: str) -> list[str]:
    """Every error of a dashboard's YAML (empty when it is valid)."""
    try:
        parse_dashboard(source)
    except DashboardValidationError as exc:
        return [str(e) for e in exc.errors]
    return []


def _leaves(value: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() if isinstance(k, str) and "." not in k
                for leaf in _leaves(v, f"{prefix}.{k}")]
    return [(prefix, value)] if isinstance(value, (str, int, float, bool)) else []


class DashboardServices:
    """The dashboard pages' door to the engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def list(self) -> list[DashboardInfo]:
        return self.engine.dashboards()

    def get(self, dashboard_id: str) -> DashboardInfo | None:
        return self.engine.dashboard(dashboard_id)

    def save(self, source: str, dashboard_id: str | None = None) -> Saved:
        """Create (no ``dashboard_id``) or replace a dashboard; refusals become sentences, nothing is lost."""
        errors = check(source)
        if errors:
            return Saved(errors=errors)
        try:
            return Saved(dashboard=self.engine.save_dashboard(source, dashboard_id))
        except EngineError as exc:
            return Saved(errors=[str(e) for e in exc.errors] if exc.errors else [exc.message])

    def delete(self, dashboard_id: str) -> None:
        self.engine.delete_dashboard(dashboard_id)

    def chart_data(self, dashboard_id: str, chart_id: str, *, namespace: str | None, flow_id: str | None,
                   labels: dict[str, str], start: datetime | None, end: datetime | None = None) -> ChartData:
        return self.engine.chart_data(dashboard_id, chart_id, namespace=namespace or None, flow_id=flow_id or None,
                                      labels=labels or None, start=start, end=end)

    def executions_behind(self, dashboard_id: str, chart_id: str, point: dict[str, Any], *, namespace: str | None,
                          flow_id: str | None, labels: dict[str, str], start: datetime | None) -> list[dict[str, Any]]:
        found = self.engine.chart_executions(dashboard_id, chart_id, point, namespace=namespace or None,
                                             flow_id=flow_id or None, labels=labels or None, start=start)
        return [e.to_dict(task_runs=False) for e in found]

    def flows(self, namespace: str | None = None) -> list[tuple[str, str]]:
        return [(f.namespace, f.id) for f in self.engine.search_flows(namespace=namespace or None)]

    def outputs_of(self, namespace: str, flow_id: str) -> tuple[list[str], list[str]]:
        """The outputs of the flow's last execution that has any: (numbers, other values) as ``task.key`` paths."""
        found = self.engine.search_executions(namespace=namespace, flow_id=flow_id, size=5).results
        for ex in found:
            summary = self.engine.summary(ex.id)
            leaves = [leaf for tr in (summary.task_runs if summary else []) for leaf in _leaves(tr.outputs, tr.task_id)]
            if leaves:
                numbers = sorted({p for p, v in leaves if isinstance(v, (int, float)) and not isinstance(v, bool)})
                others = sorted({p for p, v in leaves if p not in numbers})
                return numbers, others
        return [], []

    def label_keys(self, namespace: str | None = None, flow_id: str | None = None) -> list[str]:
        """Label keys of recent executions (for the group-by choices)."""
        found = self.engine.search_executions(namespace=namespace or None, flow_id=flow_id or None, size=50).results
        return sorted({k for ex in found for k in ex.labels})


__all__ = ["AGGS", "CHARTS", "SOURCES", "ChartForm", "DashboardServices", "Saved", "check", "form_yaml"]
