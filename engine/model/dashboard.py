"""Custom dashboards: Kestra's dashboard YAML (``id``, ``title``, ``timeWindow``, ``charts``) as typed definitions.

A dashboard is a list of charts; a data chart names a data source (Kestra's
``io.kestra.plugin.core.dashboard.data.Executions`` or ``Logs``, or Lanner's
``io.lanner.dashboard.data.FlowOutputs`` for the values a flow's tasks produce),
its ``columns`` (a column without ``agg`` groups, one with ``agg`` aggregates) and
``where`` filters. :func:`parse_dashboard` reads YAML and returns every error at
once, each naming its path and YAML line, the way ``lanner flow validate`` does
for flows. The store turns a chart into one SQL aggregation (engine/store/dashboards.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from engine.model.base import LannerModel
from engine.model.durations import parse_duration
from engine.model.validation import FlowError, format_path
from engine.model.yaml_loader import YamlError, load_yaml

KESTRA_CHART = "io.kestra.plugin.core.dashboard.chart."
KESTRA_DATA = "io.kestra.plugin.core.dashboard.data."
LANNER_DATA = "io.lanner.dashboard.data."

CHART_TYPES = ("TimeSeries", "Bar", "Pie", "Table", "Markdown")
DATA_TYPES = ("Executions", "Logs", "FlowOutputs")
AGGREGATIONS = ("AVG", "MAX", "MIN", "SUM", "COUNT")
FILTERS = ("EQUAL_TO", "NOT_EQUAL_TO", "IN", "NOT_IN", "GREATER_THAN", "GREATER_THAN_OR_EQUAL_TO", "LESS_THAN",
           "LESS_THAN_OR_EQUAL_TO", "CONTAINS", "STARTS_WITH", "ENDS_WITH", "IS_NULL", "IS_NOT_NULL")

#: Fields of each data source; ``outputs.<taskId>.<key>...`` is also a field of FlowOutputs.
FIELDS: dict[str, tuple[str, ...]] = {
    "Executions": ("ID", "NAMESPACE", "FLOW_ID", "FLOW_REVISION", "STATE", "DURATION", "LABELS", "START_DATE",
                   "END_DATE"),
    "Logs": ("NAMESPACE", "FLOW_ID", "EXECUTION_ID", "TASK_ID", "DATE", "LEVEL", "MESSAGE"),
    "FlowOutputs": ("ID", "NAMESPACE", "FLOW_ID", "FLOW_REVISION", "STATE", "DURATION", "LABELS", "START_DATE",
                    "END_DATE"),
}
DATE_FIELDS = ("START_DATE", "END_DATE", "DATE")
NUMERIC_FIELDS = ("DURATION", "FLOW_REVISION")
OUTPUT_FIELD = re.compile(r"^outputs\.([A-Za-z0-9_-]+)((?:\.[^.\s]+)+)$")
ID_RE = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"
#: Kestra's limit on a dashboard's time window.
MAX_WINDOW = timedelta(days=366)


def short_type(value: str, prefixes: tuple[str, ...], names: tuple[str, ...]) -> str | None:
    """The short name (``TimeSeries``) of a full or short type name, any case; None when unknown."""
    text = value.strip()
    for prefix in prefixes:
        if text.startswith(prefix):
            text = text[len(prefix):]
    folded = text.replace("_", "").lower()
    return next((n for n in names if n.lower() == folded), None)


def output_path(field: str) -> tuple[str, list[str]] | None:
    """``outputs.sum.values.total`` -> ("sum", ["values", "total"]); None for another field."""
    m = OUTPUT_FIELD.match(field)
    return (m.group(1), m.group(2)[1:].split(".")) if m else None


class Column(LannerModel):
    """One column of a chart's data: a field to group by, or an aggregation (``agg``) of a field."""

    field: str | None = Field(default=None, description="What the column reads: a field of the data source "
                              "(NAMESPACE, STATE, START_DATE...) or outputs.<taskId>.<key> for FlowOutputs.")
    display_name: str | None = Field(default=None, description="The column's title in charts and tables.")
    agg: Literal["AVG", "MAX", "MIN", "SUM", "COUNT"] | None = Field(default=None, description="Aggregate the field.")
    label_key: str | None = Field(default=None, description="With field LABELS: which label.")
    graph_style: Literal["LINES", "BARS", "POINTS"] | None = Field(default=None, description="TimeSeries: how to draw.")

    @field_validator("agg", "graph_style", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Filter(LannerModel):
    """A ``where`` condition on a field (Kestra's filter types)."""

    type: str
    field: str
    value: Any = None
    values: list[Any] | None = None
    label_key: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        if isinstance(value, str) and value.upper() in FILTERS:
            return value.upper()
        raise ValueError(f"{value!r} is not a filter type Lanner supports: use one of {', '.join(FILTERS)}")


class OrderBy(LannerModel):
    column: str
    order: Literal["ASC", "DESC"] = "ASC"

    @field_validator("order", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class DataSource(LannerModel):
    """``data:`` of a chart: where the rows come from, which columns, which rows."""

    type: str
    columns: dict[str, Column] = Field(min_length=1)
    where: list[Filter] = []
    order_by: list[OrderBy] = []

    @field_validator("type", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        found = short_type(value, (KESTRA_DATA, LANNER_DATA), DATA_TYPES) if isinstance(value, str) else None
        if found is None:
            raise ValueError(f"{value!r} is not a data source: use {KESTRA_DATA}Executions, {KESTRA_DATA}Logs "
                             f"or {LANNER_DATA}FlowOutputs")
        return found

    def dimensions(self) -> list[str]:
        """Names of the columns rows are grouped by (those without ``agg``)."""
        return [name for name, c in self.columns.items() if c.agg is None]

    def measures(self) -> list[str]:
        return [name for name, c in self.columns.items() if c.agg is not None]


class Legend(LannerModel):
    enabled: bool = True


class ChartOptions(LannerModel):
    display_name: str | None = None
    description: str | None = None
    column: str | None = Field(default=None, description="TimeSeries: the date column of the x axis.")
    color_by_column: str | None = Field(default=None, description="A column whose values get a series each.")
    legend: Legend | None = None
    tooltip: str | None = None
    graph_style: str | None = Field(default=None, description="Pie: PIE or DONUT.")
    header: dict[str, Any] | None = None
    pagination: dict[str, Any] | None = None
    width: int | None = None


class MarkdownSource(LannerModel):
    type: str | None = None
    content: str = ""


class Chart(LannerModel):
    """One chart of a dashboard."""

    id: str = Field(pattern=ID_RE)
    type: str
    chart_options: ChartOptions = ChartOptions()
    data: DataSource | None = None
    content: str | None = None
    source: MarkdownSource | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        found = short_type(value, (KESTRA_CHART,), CHART_TYPES) if isinstance(value, str) else None
        if found is None:
            raise ValueError(f"{value!r} is not a chart type: use {KESTRA_CHART}TimeSeries, Bar, Pie, Table "
                             "or Markdown")
        return found

    @property
    def title(self) -> str:
        return self.chart_options.display_name or self.id

    @property
    def markdown(self) -> str:
        return self.source.content if self.source is not None else (self.content or "")


class TimeWindow(LannerModel):
    default: timedelta = timedelta(days=30)
    max: timedelta = MAX_WINDOW

    @field_validator("default", "max", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        found = parse_duration(value)
        if found <= timedelta(0) or found > MAX_WINDOW:
            raise ValueError("must be a duration between PT1M and P366D (Kestra's limit)")
        return found


class Dashboard(LannerModel):
    """A custom dashboard (Kestra's shape)."""

    id: str = Field(pattern=ID_RE, max_length=100)
    title: str = Field(min_length=1, max_length=200)
    description: str | None = None
    time_window: TimeWindow = TimeWindow()
    charts: list[Chart] = []

    def chart(self, chart_id: str) -> Chart | None:
        return next((c for c in self.charts if c.id == chart_id), None)


class DashboardValidationError(ValueError):
    """Every error of a dashboard definition; ``str()`` lists them one per line."""

    def __init__(self, errors: list[FlowError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def parse_dashboard(text: str | bytes) -> Dashboard:
    """The dashboard of a YAML document; raises DashboardValidationError with every error and its line."""
    try:
        data, positions = load_yaml(text)
    except YamlError as exc:
        message = exc.message.replace("the flow is empty", "the dashboard is empty").replace(
            "a flow must be a mapping of properties (id, namespace, tasks...)",
            "a dashboard must be a mapping of properties (id, title, charts)")
        raise DashboardValidationError([FlowError("", message, exc.line, exc.column)]) from None

    def where(path: tuple[str | int, ...]) -> tuple[int | None, int | None]:
        p = tuple(path)
        while True:
            pos = positions.position(p)
            if pos or not p:
                return (pos[0], pos[1]) if pos else (None, None)
            p = p[:-1]

    try:
        dashboard = Dashboard.model_validate(data)
    except ValidationError as exc:
        errors = []
        for e in exc.errors(include_url=False):
            path = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            errors.append(FlowError(format_path(path), _message(e, path), *where(path)))
        raise DashboardValidationError(sorted(errors, key=lambda e: (e.line or 0, e.column or 0))) from None
    problems = [FlowError(format_path(path), message, *where(path)) for path, message in semantic_errors(dashboard)]
    if problems:
        raise DashboardValidationError(problems)
    return dashboard


def _message(error: Mapping[str, Any], path: tuple[Any, ...]) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return f"unknown property '{path[-1]}'"
    if kind == "string_pattern_mismatch":
        return f"{error.get('input')!r} is not allowed: use letters, digits, '-' and '_'"
    if kind == "literal_error":
        return f"{error.get('input')!r} is not allowed: {msg[0].lower() + msg[1:]}"
    if kind == "too_short":
        return "must not be empty"
    return msg.removeprefix("Value error, ")


def semantic_errors(dashboard: Dashboard) -> list[tuple[tuple[str | int, ...], str]]:
    """What the types cannot say: unique chart ids, known fields, the columns each chart type needs."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    if dashboard.time_window.default > dashboard.time_window.max:
        out.append((("timeWindow", "default"), "must not be longer than timeWindow.max"))
    seen: set[str] = set()
    for i, chart in enumerate(dashboard.charts):
        at: tuple[str | int, ...] = ("charts", i)
        if chart.id in seen:
            out.append(((*at, "id"), f"chart id '{chart.id}' is used twice: give each chart its own id"))
        seen.add(chart.id)
        if chart.type == "Markdown":
            if not chart.markdown.strip():
                out.append(((*at, "content"), "a Markdown chart needs content (or source.content)"))
            continue
        if chart.data is None:
            out.append(((*at, "data"), f"a {chart.type} chart needs data (type and columns)"))
            continue
        out.extend(((*at, *p), m) for p, m in _data_errors(chart.data))
        out.extend(((*at, *p), m) for p, m in _shape_errors(chart))
    return out


def _field_error(source: str, field: str | None, label_key: str | None) -> str | None:
    if field is None:
        return None
    if source == "FlowOutputs" and field.startswith("outputs"):
        return None if output_path(field) else (f"'{field}' is not an output: write outputs.<taskId>.<key>, "
                                                "such as outputs.sum.value")
    if field not in FIELDS[source]:
        extra = " or outputs.<taskId>.<key>" if source == "FlowOutputs" else ""
        return f"'{field}' is not a field of {source}: use one of {', '.join(FIELDS[source])}{extra}"
    if field == "LABELS" and not label_key:
        return "a LABELS column needs labelKey (which label)"
    return None


def _data_errors(data: DataSource) -> list[tuple[tuple[str | int, ...], str]]:
    out: list[tuple[tuple[str | int, ...], str]] = []
    for name, col in data.columns.items():
        at: tuple[str | int, ...] = ("data", "columns", name)
        if col.field is None and col.agg != "COUNT":
            out.append(((*at, "field"), "is required (only an agg: COUNT column may leave it out)"))
        problem = _field_error(data.type, col.field, col.label_key)
        if problem:
            out.append(((*at, "field"), problem))
        elif col.agg in ("AVG", "SUM") and col.field and not (col.field in NUMERIC_FIELDS or output_path(col.field)):
            out.append(((*at, "agg"), f"{col.agg} needs a number: {col.field} is not one (use COUNT, MIN or MAX)"))
    for j, f in enumerate(data.where):
        at = ("data", "where", j)
        problem = _field_error(data.type, f.field, f.label_key or ("-" if f.type == "CONTAINS" else None))
        if problem:
            out.append(((*at, "field"), problem))
        if f.type in ("IN", "NOT_IN") and not f.values:
            out.append(((*at, "values"), f"{f.type} needs a list of values"))
        elif f.type not in ("IN", "NOT_IN", "IS_NULL", "IS_NOT_NULL") and f.value is None:
            out.append(((*at, "value"), f"{f.type} needs a value"))
    for j, o in enumerate(data.order_by):
        if o.column not in data.columns:
            out.append((("data", "orderBy", j, "column"), f"'{o.column}' is not one of the columns: "
                        f"{', '.join(data.columns)}"))
    return out


def _shape_errors(chart: Chart) -> list[tuple[tuple[str | int, ...], str]]:
    """The columns each chart type draws from."""
    assert chart.data is not None
    data, opts = chart.data, chart.chart_options
    dims, measures = data.dimensions(), data.measures()
    out: list[tuple[tuple[str | int, ...], str]] = []
    if opts.color_by_column is not None and opts.color_by_column not in dims:
        out.append((("chartOptions", "colorByColumn"), f"'{opts.color_by_column}' must be a column without agg: "
                    f"{', '.join(dims) or 'there is none'}"))
    if chart.type == "TimeSeries":
        if opts.column is None:
            out.append((("chartOptions", "column"), "a TimeSeries needs the date column of its x axis"))
        elif opts.column not in dims:
            out.append((("chartOptions", "column"), f"'{opts.column}' must be a column without agg: "
                        f"{', '.join(dims) or 'there is none'}"))
        elif data.columns[opts.column].field not in DATE_FIELDS:
            out.append((("chartOptions", "column"), f"'{opts.column}' must read a date (START_DATE, END_DATE or DATE)"))
        if not 1 <= len(measures) <= 2:
            out.append((("data", "columns"), "a TimeSeries charts one or two columns with agg"))
    elif chart.type in ("Bar", "Pie"):
        if not dims:
            out.append((("data", "columns"), f"a {chart.type} chart needs a column without agg (its categories)"))
        if len(measures) != 1:
            out.append((("data", "columns"), f"a {chart.type} chart needs exactly one column with agg (its values)"))
    return out


__all__ = ["AGGREGATIONS", "CHART_TYPES", "DATA_TYPES", "FIELDS", "FILTERS", "Chart", "Column", "Dashboard",
           "DashboardValidationError", "DataSource", "Filter", "output_path", "parse_dashboard"]
