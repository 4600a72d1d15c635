"""Custom dashboards of the in-process Engine (a part of LocalEngine): definitions and chart data.

Definitions are validated with :func:`engine.model.dashboard.parse_dashboard` before
they are stored, so a stored dashboard always parses; chart data is aggregated by
the store (:mod:`engine.store.dashboards`) and masked like every answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.model.durations import format_duration
from engine.model.views import ExecutionSummary
from engine.service import Conflict, Invalid, NotFound, invalid

if TYPE_CHECKING:
    from engine.model.dashboard import Chart, Dashboard, DataSource
    from engine.model.views_workspace import ChartData, DashboardInfo
    from engine.store.dashboard_sql import Scope
    from engine.store.dashboards import DashboardRecord, DashboardStore
    from engine.store.sql import SqlStore

#: Time windows up to this long are charted per hour, longer ones per day (flow outputs: always per run).
HOURLY_UP_TO = timedelta(days=2)


class DashboardOps:
    """What LocalEngine answers about custom dashboards."""

    if TYPE_CHECKING:  # provided by LocalEngine
        @property
        def store(self) -> SqlStore: ...

        def mask(self, data: object) -> Any: ...

    @property
    def _dashboards(self) -> DashboardStore:
        from engine.store.dashboards import DashboardStore

        return DashboardStore(self.store)

    def dashboards(self) -> list[DashboardInfo]:
        return [_info(rec) for rec in self._dashboards.all()]

    def dashboard(self, dashboard_id: str) -> DashboardInfo | None:
        rec = self._dashboards.get(dashboard_id)
        return None if rec is None else _info(rec)

    def save_dashboard(self, source: str, dashboard_id: str | None = None) -> DashboardInfo:
        from engine.model.dashboard import DashboardValidationError, parse_dashboard

        try:
            parsed = parse_dashboard(source)
        except DashboardValidationError as exc:
            raise Invalid(f"the dashboard is invalid: {exc.errors[0]}", exc.errors) from None
        if dashboard_id is not None and parsed.id != dashboard_id:
            raise invalid("id", f"id: the YAML says '{parsed.id}' but this is dashboard '{dashboard_id}'; "
                          "keep its id (or create a new dashboard)")
        rec = self._dashboards.save(parsed.id, parsed.title, source, create=dashboard_id is None)
        if rec is None and dashboard_id is None:
            raise Conflict(f"dashboard '{parsed.id}' already exists: choose another id, or edit that one")
        if rec is None:
            raise NotFound(f"dashboard '{dashboard_id}' does not exist")
        return _info(rec)

    def delete_dashboard(self, dashboard_id: str) -> None:
        if not self._dashboards.delete(dashboard_id):
            raise NotFound(f"dashboard '{dashboard_id}' does not exist")

    def _chart(self, dashboard_id: str, chart_id: str) -> tuple[Dashboard, Chart]:
        from engine.model.dashboard import parse_dashboard

        rec = self._dashboards.get(dashboard_id)
        if rec is None:
            raise NotFound(f"dashboard '{dashboard_id}' does not exist")
        dashboard = parse_dashboard(rec.source)
        chart = dashboard.chart(chart_id)
        if chart is None:
            raise NotFound(f"dashboard '{dashboard_id}' has no chart '{chart_id}'")
        if chart.data is None:
            raise invalid("chartId", f"chart '{chart_id}' of dashboard '{dashboard_id}' is {chart.type}: it has no data")
        return dashboard, chart

    def _scope(self, dashboard: Dashboard, namespace: str | None, flow_id: str | None,
               labels: Mapping[str, str] | None, start: datetime | None, end: datetime | None) -> Scope:
        from engine.store.dashboard_sql import Scope

        try:
            until = _utc(end) or datetime.now(UTC)
            since = _utc(start) or until - dashboard.time_window.default
        except (OverflowError, ValueError):
            raise invalid("endDate", "endDate: the time range is out of the calendar's bounds") from None
        if since >= until:
            raise invalid("startDate", "startDate: the time range must start before it ends")
        if until - since > dashboard.time_window.max + timedelta(seconds=1):
            raise invalid("startDate", f"startDate: dashboard '{dashboard.id}' charts at most "
                          f"{format_duration(dashboard.time_window.max)} (its timeWindow.max); choose a shorter range")
        return Scope(since=since, until=until, namespace=namespace or None, flow_id=flow_id or None,
                     labels=dict(labels or {}))

    def _query(self, dashboard_id: str, chart_id: str, namespace: str | None, flow_id: str | None,
               labels: Mapping[str, str] | None, start: datetime | None,
               end: datetime | None) -> tuple[DataSource, Scope, str | None]:
        """A chart's data source, the page's filters as a scope, and how its dates are grouped."""
        dashboard, chart = self._chart(dashboard_id, chart_id)
        assert chart.data is not None
        scope = self._scope(dashboard, namespace, flow_id, labels, start, end)
        assert scope.since is not None and scope.until is not None
        bucket = None if chart.data.type == "FlowOutputs" else (
            "hour" if scope.until - scope.since <= HOURLY_UP_TO else "day")
        return chart.data, scope, bucket

    def chart_data(self, dashboard_id: str, chart_id: str, *, namespace: str | None = None,
                   flow_id: str | None = None, labels: Mapping[str, str] | None = None,
                   start: datetime | None = None, end: datetime | None = None) -> ChartData:
        from engine.model.views_workspace import ChartData
        data, scope, bucket = self._query(dashboard_id, chart_id, namespace, flow_id, labels, start, end)
        found = self._dashboards.chart_rows(data, scope, bucket=bucket)
        return ChartData(dashboard_id=dashboard_id, chart_id=chart_id, columns=found.columns,
                         rows=self.mask(found.rows), execution_ids=found.execution_ids,
                         execution_counts=found.execution_counts, bucket=bucket,
                         since=scope.since.isoformat() if scope.since else None,
                         until=scope.until.isoformat() if scope.until else None, truncated=found.truncated)

    def chart_executions(self, dashboard_id: str, chart_id: str, point: Mapping[str, Any], *,
                         namespace: str | None = None, flow_id: str | None = None,
                         labels: Mapping[str, str] | None = None, start: datetime | None = None,
                         end: datetime | None = None) -> list[ExecutionSummary]:
        data, scope, bucket = self._query(dashboard_id, chart_id, namespace, flow_id, labels, start, end)
        found = self._dashboards.executions_behind(data, scope, dict(point), bucket=bucket)
        return [ExecutionSummary.model_validate(row) for row in found]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _info(rec: DashboardRecord) -> DashboardInfo:
    from engine.model.dashboard import DashboardValidationError, parse_dashboard
    from engine.model.views_workspace import ChartInfo, DashboardInfo

    try:
        parsed: Dashboard | None = parse_dashboard(rec.source)
    except DashboardValidationError:
        parsed = None
    charts = [ChartInfo(id=c.id, type=c.type, title=c.title) for c in parsed.charts] if parsed else []
    return DashboardInfo(id=rec.id, title=rec.title, description=parsed.description if parsed else None,
                         source=rec.source, charts=charts, created=rec.created, updated=rec.updated)
