"""One chart of a custom dashboard as one SQL aggregation, on SQLite and PostgreSQL alike.

The store never loads executions into Python to chart them: a chart's columns
become a ``SELECT`` whose columns without ``agg`` are its ``GROUP BY`` and whose
columns with ``agg`` are aggregate functions; ``where`` filters and the page's
filters (namespace, flow, labels, time range) become its ``WHERE``. Flow outputs
are read inside the database from the task runs' JSON (SQLite's ``json_extract``,
PostgreSQL's ``jsonb`` path operators); a value that is not a number counts as
missing in a numeric aggregation instead of failing the query.

Every row also carries how many executions are behind it and one of their ids,
so a chart can link a point to its execution (drill-down).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, String, and_, case, cast, func, literal, literal_column, null, or_, select
from sqlalchemy.sql import ColumnElement, FromClause, Select

from engine.model.dashboard import DATE_FIELDS, NUMERIC_FIELDS, Column, DataSource, Filter, output_path
from engine.store.tables import executions, logs, task_runs

#: Rows a chart may return; more are cut (and said so).
MAX_ROWS = 5000
#: Characters of an ISO timestamp kept for each date bucket.
BUCKETS = {"hour": 13, "day": 10}


@dataclass(frozen=True)
class Scope:
    """The page's filters, on top of a chart's own ``where``."""

    since: datetime | None = None
    until: datetime | None = None
    namespace: str | None = None
    flow_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ChartRows:
    """The rows of a chart: one dict per row keyed by column name, with the executions behind each."""

    columns: list[str]
    rows: list[dict[str, Any]]
    execution_ids: list[str | None]
    execution_counts: list[int]
    truncated: bool = False


def iso(value: datetime) -> str:
    """The stored form of a time (fixed-width UTC ISO-8601, so texts compare as times)."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class ChartQuery:
    """The SQL of one chart's data for one database dialect."""

    def __init__(self, data: DataSource, dialect: str, bucket: str | None = None):
        self.data = data
        self.pg = dialect == "postgresql"
        self.bucket = bucket if data.type != "FlowOutputs" else None  # outputs are charted per run
        self._runs: dict[str, FromClause] = {}  # task id -> aliased task_runs joined for its outputs

    # --- expressions ------------------------------------------------------------------------------

    def _json(self, column: ColumnElement[Any], path: list[str], number: bool) -> ColumnElement[Any]:
        if self.pg:
            from sqlalchemy.dialects.postgresql import JSONB

            node = cast(column, JSONB)[tuple(path)]
            text = node.astext
            if not number:
                return text
            return case((func.jsonb_typeof(node) == "number", cast(text, Float)), else_=None)
        if any('"' in p or "\\" in p for p in path):
            return null()  # SQLite's JSON paths cannot quote these characters: such a key matches nothing
        where = "$" + "".join(f"[{p}]" if p.isdigit() else '."' + p.replace('"', '\\"') + '"' for p in path)
        if not number:  # text on both databases (PostgreSQL's ->> gives text), so groups compare alike
            return cast(func.json_extract(column, where), String)
        return case((func.json_type(column, where).in_(("integer", "real")), func.json_extract(column, where)),
                    else_=None)

    def _duration(self) -> ColumnElement[Any]:
        start, end = executions.c.start_date, executions.c.end_date
        if self.pg:
            return func.extract("epoch", cast(end, _timestamptz()) - cast(start, _timestamptz()))
        return (func.julianday(end) - func.julianday(start)) * 86400.0

    def field(self, name: str, label_key: str | None = None, number: bool = False) -> ColumnElement[Any]:
        """The SQL of a field of the data source (not bucketed)."""
        e = executions.c
        found = output_path(name)
        if found is not None:
            task_id, path = found
            if task_id not in self._runs:
                self._runs[task_id] = task_runs.alias(f"out_{len(self._runs)}")
            return self._json(self._runs[task_id].c.outputs, path, number)
        if name == "LABELS":
            return self._json(e.labels, [label_key or ""], False) if label_key else e.labels
        if self.data.type == "Logs":
            lg = logs.c
            by_log = {"EXECUTION_ID": lg.execution_id, "TASK_ID": lg.task_id, "DATE": lg.timestamp,
                      "LEVEL": lg.level, "MESSAGE": lg.message}
            if name in by_log:
                return by_log[name]
        if name == "DURATION":
            return self._duration()
        return {"ID": e.id, "NAMESPACE": e.namespace, "FLOW_ID": e.flow_id, "FLOW_REVISION": e.flow_revision,
                "STATE": e.state, "START_DATE": e.start_date, "END_DATE": e.end_date}[name]

    def dimension(self, col: Column) -> ColumnElement[Any]:
        assert col.field is not None
        expr = self.field(col.field, col.label_key)
        if col.field in DATE_FIELDS and self.bucket:
            return func.substr(expr, 1, BUCKETS[self.bucket])
        return expr

    def measure(self, col: Column) -> ColumnElement[Any]:
        if col.field is None:
            return func.count()
        numeric = col.agg in ("AVG", "SUM") or bool(col.field in NUMERIC_FIELDS or output_path(col.field))
        expr = self.field(col.field, col.label_key, number=numeric and col.agg != "COUNT")
        if col.agg == "AVG":
            return func.avg(expr)
        if col.agg == "SUM":
            return func.sum(expr)
        if col.agg == "MIN":
            return func.min(expr)
        if col.agg == "MAX":
            return func.max(expr)
        return func.count(expr)

    # --- conditions -------------------------------------------------------------------------------

    def _value(self, f: Filter, value: object) -> object:
        if f.field in DATE_FIELDS and isinstance(value, (str, datetime)):
            try:
                when = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return str(value)
            return iso(when)
        if f.field in NUMERIC_FIELDS:
            return float(value) if isinstance(value, (int, float, str)) else float(str(value))
        return value

    def condition(self, f: Filter) -> ColumnElement[bool]:
        numeric = f.field in NUMERIC_FIELDS or (output_path(f.field) is not None and isinstance(f.value, (int, float))
                                                and not isinstance(f.value, bool))
        expr = self.field(f.field, f.label_key, number=numeric)
        if f.type == "IS_NULL":
            return expr.is_(None)
        if f.type == "IS_NOT_NULL":
            return expr.is_not(None)
        if f.type in ("IN", "NOT_IN"):
            values = [self._value(f, v) for v in f.values or []]
            return expr.in_(values) if f.type == "IN" else or_(expr.not_in(values), expr.is_(None))
        value = self._value(f, f.value)
        if f.type in ("CONTAINS", "STARTS_WITH", "ENDS_WITH"):
            text = cast(expr, String) if numeric else expr
            if f.type == "STARTS_WITH":
                return text.startswith(str(value), autoescape=True)
            if f.type == "ENDS_WITH":
                return text.endswith(str(value), autoescape=True)
            return text.contains(str(value), autoescape=True)
        ops = {"EQUAL_TO": expr.__eq__, "NOT_EQUAL_TO": expr.__ne__, "GREATER_THAN": expr.__gt__,
               "GREATER_THAN_OR_EQUAL_TO": expr.__ge__, "LESS_THAN": expr.__lt__, "LESS_THAN_OR_EQUAL_TO": expr.__le__}
        return ops[f.type](value)

    def _scope(self, scope: Scope) -> list[ColumnElement[bool]]:
        e = executions.c
        out: list[ColumnElement[bool]] = []
        if scope.namespace:
            out.append(or_(e.namespace == scope.namespace, e.namespace.like(scope.namespace + ".%")))
        if scope.flow_id:
            out.append(e.flow_id == scope.flow_id)
        for key, value in scope.labels.items():
            out.append(self._json(e.labels, [key], False) == value)
        when = logs.c.timestamp if self.data.type == "Logs" else e.start_date
        if scope.since is not None:
            out.append(when >= iso(scope.since))
        if scope.until is not None:
            out.append(when < iso(scope.until))
        return out

    def _from(self, stmt: Select[Any]) -> Select[Any]:
        base: FromClause = executions
        if self.data.type == "Logs":
            base = logs.join(executions, logs.c.execution_id == executions.c.id)
        for task_id, run in self._runs.items():
            base = base.join(run, and_(run.c.execution_id == executions.c.id, run.c.task_id == task_id))
        return stmt.select_from(base)

    # --- statements -------------------------------------------------------------------------------

    def rows(self, scope: Scope, limit: int = MAX_ROWS) -> Select[Any]:
        """SELECT the chart's columns (grouped when it has aggregations), the executions behind each row."""
        cols = self.data.columns
        dims = self.data.dimensions()
        grouped = bool(self.data.measures())
        selected: list[Any] = []
        for col in cols.values():
            expr = self.measure(col) if col.agg else self.dimension(col)
            selected.append(expr.label(f"c{len(selected)}"))
        if grouped:
            selected += [func.count(func.distinct(executions.c.id)).label("n_ex"), func.max(executions.c.id).label("ex")]
        else:
            selected += [literal(1).label("n_ex"), executions.c.id.label("ex")]
        conds = [self.condition(f) for f in self.data.where] + self._scope(scope)
        stmt = self._from(select(*selected))
        if conds:
            stmt = stmt.where(and_(*conds))
        names = list(cols)
        if grouped and dims:
            # By output name: PostgreSQL would not see two JSON paths bound as two parameters as one expression.
            stmt = stmt.group_by(*(literal_column(f"c{names.index(d)}") for d in dims))
        order = [(o.column, o.order) for o in self.data.order_by] or [(d, "ASC") for d in dims]
        if not grouped and not self.data.order_by:
            when = logs.c.timestamp if self.data.type == "Logs" else executions.c.start_date
            stmt = stmt.order_by(when.desc())
        for name, direction in order:
            label = selected[names.index(name)]
            stmt = stmt.order_by(label.desc() if direction == "DESC" else label.asc())
        return stmt.limit(limit + 1)

    def executions_behind(self, scope: Scope, point: dict[str, Any], limit: int = 100) -> Select[Any]:
        """The executions behind one row: the chart's filters plus its grouping values."""
        e = executions.c
        conds = [self.condition(f) for f in self.data.where] + self._scope(scope)
        for name in self.data.dimensions():
            if name in point:
                expr = self.dimension(self.data.columns[name])
                value = point[name]
                conds.append(expr.is_(None) if value is None else cast(expr, String) == _text(value))
        stmt = self._from(select(e.id, e.namespace, e.flow_id, e.flow_revision, e.state, e.start_date, e.end_date).distinct())
        if conds:
            stmt = stmt.where(and_(*conds))
        return stmt.order_by(e.start_date.desc()).limit(limit)


def _text(value: object) -> str:
    """A grouping value as the database shows it as text (JSON booleans are true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _timestamptz() -> Any:
    from sqlalchemy.dialects.postgresql import TIMESTAMP

    return TIMESTAMP(timezone=True)


def plain(value: object) -> object:
    """A database value as JSON: decimals as floats, integral floats of counts kept as they are."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    return value


__all__ = ["BUCKETS", "MAX_ROWS", "ChartQuery", "ChartRows", "Scope", "iso", "plain"]
