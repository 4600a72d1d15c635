"""Custom dashboards in the store: their YAML definitions (one row each) and the data of their charts.

Definitions are kept as written (comments included) with the title for lists;
the data of a chart is one SQL aggregation built by
:mod:`engine.store.dashboard_sql`, run on the reading connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from engine.model.dashboard import DataSource
from engine.model.ids import now_iso
from engine.store.dashboard_sql import MAX_ROWS, ChartQuery, ChartRows, Scope, plain
from engine.store.sql import SqlStore
from engine.store.tables import dashboards


@dataclass(frozen=True)
class DashboardRecord:
    id: str
    title: str
    source: str
    created: str
    updated: str


def _record(row: Row[Any]) -> DashboardRecord:
    return DashboardRecord(row.id, row.title, row.source, row.created, row.updated)


class DashboardStore:
    """Dashboard definitions and chart queries over the shared SQL store."""

    def __init__(self, store: SqlStore):
        self.store = store

    @property
    def dialect(self) -> str:
        return self.store.read_engine.dialect.name

    def all(self) -> list[DashboardRecord]:
        with self.store.read_engine.begin() as conn:
            rows = conn.execute(select(dashboards).order_by(dashboards.c.title, dashboards.c.id)).all()
        return [_record(r) for r in rows]

    def get(self, dashboard_id: str) -> DashboardRecord | None:
        with self.store.read_engine.begin() as conn:
            row = conn.execute(select(dashboards).where(dashboards.c.id == dashboard_id)).first()
        return None if row is None else _record(row)

    def save(self, dashboard_id: str, title: str, source: str, *, create: bool) -> DashboardRecord | None:
        """Insert (``create``) or replace a definition; None when it exists (create) or does not (replace)."""
        now = now_iso()
        with self.store.engine.begin() as conn:
            found = conn.execute(select(dashboards.c.created).where(dashboards.c.id == dashboard_id)).first()
            if create:
                if found is not None:
                    return None
                conn.execute(insert(dashboards).values(id=dashboard_id, title=title, source=source, created=now,
                                                       updated=now))
                return DashboardRecord(dashboard_id, title, source, now, now)
            if found is None:
                return None
            conn.execute(update(dashboards).where(dashboards.c.id == dashboard_id).values(title=title, source=source,
                                                                                          updated=now))
            return DashboardRecord(dashboard_id, title, source, found.created, now)

    def delete(self, dashboard_id: str) -> bool:
        with self.store.engine.begin() as conn:
            return bool(conn.execute(delete(dashboards).where(dashboards.c.id == dashboard_id)).rowcount)

    def chart_rows(self, data: DataSource, scope: Scope, *, bucket: str | None = None,
                   limit: int = MAX_ROWS) -> ChartRows:
        """The rows of one chart's data, aggregated by the database."""
        stmt = ChartQuery(data, self.dialect, bucket).rows(scope, limit)
        names = list(data.columns)
        with self.store.read_engine.begin() as conn:
            found = conn.execute(stmt).all()
        truncated = len(found) > limit
        found = found[:limit]
        rows = [{name: plain(r[i]) for i, name in enumerate(names)} for r in found]
        return ChartRows(names, rows, [r.ex for r in found], [int(r.n_ex or 0) for r in found], truncated)

    def executions_behind(self, data: DataSource, scope: Scope, point: dict[str, Any], *,
                          bucket: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The executions behind one row of a chart (newest first)."""
        stmt = ChartQuery(data, self.dialect, bucket).executions_behind(scope, point, limit)
        with self.store.read_engine.begin() as conn:
            return [{"id": r.id, "namespace": r.namespace, "flowId": r.flow_id, "flowRevision": r.flow_revision,
                     "state": r.state,
                     "startDate": r.start_date, "endDate": r.end_date} for r in conn.execute(stmt)]
