"""Bokeh figures of dashboard charts, drawn from the rows the store aggregated (:class:`ChartData`).

Each series is one ``ColumnDataSource`` with, besides ``x``/``y``, the link of
the execution behind each point (``url``: set when exactly one execution is
behind it) and the row's grouping values (``point``, JSON: for the list of
executions behind a point that has several). The figures are standalone Bokeh
documents (no server session): a tap opens the execution, or asks the page's
script for the list (``window.lnDrill``); live refresh replaces the sources' data
in place (builder/pages/dashboard_custom.js).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime
from math import pi
from threading import Lock
from typing import Any

from builder.pages.common import esc, url
from engine.model.dashboard import Chart
from engine.model.views_workspace import ChartData

PALETTE = ["#4f46e5", "#0891b2", "#16a34a", "#ea580c", "#db2777", "#ca8a04", "#7c3aed", "#0d9488", "#dc2626",
           "#64748b"]
OPEN_EXECUTION = """
const i = source.selected.indices[0];
if (i === undefined) { return; }
const target = source.data.url[i];
if (target) { window.location.assign(target); }
else if (window.lnDrill) { window.lnDrill(chart, source.data.point[i]); }
"""


def parse_x(value: Any) -> datetime | None:
    """A stored date, an hour bucket (``2026-01-02T03``) or a day bucket, as a naive UTC datetime for Bokeh."""
    if not isinstance(value, str) or not value:
        return None
    text = value + ":00" if len(value) == 13 else value
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo is not None else parsed


def _label(chart: Chart, name: str) -> str:
    assert chart.data is not None
    return chart.data.columns[name].display_name or name


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def series(chart: Chart, data: ChartData) -> dict[str, dict[str, list[Any]]]:
    """The sources of a chart: ``{series name: columns}``, one per measure and colour-by value."""
    assert chart.data is not None
    dims = chart.data.dimensions()
    measures = chart.data.measures()
    x_col = chart.chart_options.column if chart.type == "TimeSeries" else None
    colour = chart.chart_options.color_by_column
    cats = [d for d in dims if d not in (x_col, colour)] if chart.type != "TimeSeries" else []
    out: dict[str, dict[str, list[Any]]] = {}
    for i, row in enumerate(data.rows):
        n = data.execution_counts[i] if i < len(data.execution_counts) else 0
        ex = data.execution_ids[i] if i < len(data.execution_ids) else None
        link = url("execution", id=ex) if n == 1 and ex else ""
        group = "" if colour is None else str(row.get(colour))
        for m in measures:
            key = f"{_label(chart, m)}" + (f" · {group}" if colour is not None else "")
            cols = out.setdefault(key, {"x": [], "y": [], "label": [], "url": [], "n": [], "row": [], "point": []})
            if x_col is not None:  # milliseconds since the epoch: Bokeh's time unit, sent as a binary array
                when = parse_x(row.get(x_col))
                cols["x"].append(when.replace(tzinfo=UTC).timestamp() * 1000 if when else float("nan"))
                cols["label"].append(str(row.get(x_col) or ""))
            else:
                label = " / ".join(str(row.get(d)) for d in (cats or dims))
                cols["x"].append(label)
                cols["label"].append(label)
            y = _number(row.get(m))
            cols["y"].append(float("nan") if y is None else y)
            cols["url"].append(link)
            cols["n"].append(n)
            cols["row"].append(i)
            cols["point"].append(json.dumps({d: row.get(d) for d in dims}, default=str))
    return out


def arrays(cols: dict[str, list[Any]]) -> dict[str, Any]:
    """Numeric columns as numpy arrays: Bokeh sends those as binary buffers, not one JSON number at a time."""
    import numpy as np

    return {k: np.asarray(v, dtype=float) if k in ("y", "n", "row") or (k == "x" and v and isinstance(v[0], float))
            else v for k, v in cols.items()}


def _shape(chart: Chart, parts: dict[str, dict[str, list[Any]]]) -> tuple[Any, ...]:
    """What of a figure depends on the data besides its sources: series, bar categories, bar widths."""
    cats = tuple(sorted({x for cols in parts.values() for x in cols["x"]}, key=str)) if chart.type == "Bar" else None
    widths = tuple(_bar_width(cols["x"]) if chart.type == "TimeSeries" and _style(chart, name) == "BARS" else None
                   for name, cols in parts.items())
    return tuple(parts), cats, widths


def source_data(chart: Chart, parts: dict[str, dict[str, list[Any]]]) -> list[dict[str, Any]]:
    """The data of each source of the figure (``ln-source-<chart>-<i>``), in order."""
    if chart.type == "Pie":
        return [pie_columns(cols) for cols in list(parts.values())[:1]]
    return [arrays(cols) for cols in parts.values()]


def figure(chart: Chart, data: ChartData) -> tuple[Any, dict[str, Any]]:
    """The Bokeh model of a data chart and its sources by series name."""
    from bokeh.models import ColumnDataSource, CustomJS, HoverTool, TapTool
    from bokeh.plotting import figure as new_figure

    assert chart.data is not None
    parts = series(chart, data)
    names, cats, widths = _shape(chart, parts)
    sources: dict[str, Any] = {name: ColumnDataSource(cols, name=f"ln-source-{chart.id}-{i}")
                               for i, (name, cols) in enumerate(zip(names, source_data(chart, parts), strict=False))}
    kind = chart.type
    if kind == "Pie":
        return _pie(chart, sources), sources
    x_type = "datetime" if kind == "TimeSeries" else "auto"
    fig = new_figure(height=300, sizing_mode="stretch_width", x_axis_type=x_type,
                     tools="pan,wheel_zoom,reset", toolbar_location="above", title=None,
                     name=f"ln-chart-{chart.id}", **({"x_range": list(cats)} if cats is not None else {}))
    fig.toolbar.logo = None
    tappable = []
    for i, (name, source) in enumerate(sources.items()):
        colour = PALETTE[i % len(PALETTE)]
        style = _style(chart, name)
        legend = {"legend_label": name} if len(parts) > 1 else {}
        if kind == "Bar" or style == "BARS":
            width = 0.8 if kind == "Bar" else widths[i]
            renderer = fig.vbar(x="x", top="y", width=width, source=source, color=colour,
                                name=f"ln-points-{chart.id}-{i}", **legend)
        else:
            if style == "LINES":
                fig.line(x="x", y="y", source=source, color=colour, line_width=2, **legend)
            renderer = fig.scatter(x="x", y="y", source=source, size=9, color=colour,
                                   name=f"ln-points-{chart.id}-{i}", **legend)
        tappable.append(renderer)
    when = "@x{%F %T}" if kind == "TimeSeries" else "@label"
    fig.add_tools(HoverTool(renderers=tappable, tooltips=[("", "$name"), ("at", when), ("value", "@y{0,0.[00]}"),
                                                          ("executions", "@n")],
                            formatters={"@x": "datetime"} if kind == "TimeSeries" else {}))
    for renderer in tappable:
        fig.add_tools(TapTool(renderers=[renderer], callback=CustomJS(
            args={"source": renderer.data_source, "chart": chart.id}, code=OPEN_EXECUTION)))
    if len(parts) > 1:
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
    if kind == "TimeSeries":
        fig.xaxis.axis_label = "UTC"
    return fig, sources


#: Serialized figures by (chart, shape): building and serializing a Bokeh figure costs ~80 ms of Python,
#: refilling a serialized one with new data well under 1 ms.
_ITEMS: OrderedDict[tuple[str, tuple[Any, ...]], dict[str, Any]] = OrderedDict()
_ITEMS_LOCK = Lock()
ITEMS_KEPT = 128


def figure_item(chart: Chart, data: ChartData) -> dict[str, Any]:
    """The chart as a standalone Bokeh document (``bokeh.embed.json_item``) holding ``data``."""
    from bokeh.core.serialization import Serializer

    parts = series(chart, data)
    key = (chart.model_dump_json(), _shape(chart, parts))
    with _ITEMS_LOCK:
        cached = _ITEMS.get(key)
        if cached is not None:
            _ITEMS.move_to_end(key)
    if cached is None:
        from bokeh.embed import json_item

        item = json_item(figure(chart, data)[0])
        with _ITEMS_LOCK:
            _ITEMS[key] = item
            while len(_ITEMS) > ITEMS_KEPT:
                _ITEMS.popitem(last=False)
        return item
    encoded = {f"ln-source-{chart.id}-{i}": Serializer(deferred=False).encode(cols)
               for i, cols in enumerate(source_data(chart, parts))}
    return _with_data(cached, encoded)


def _with_data(node: Any, encoded: dict[str, Any]) -> Any:
    """A copy of a serialized document in which each named ColumnDataSource holds its new ``data``."""
    if isinstance(node, list):
        return [_with_data(v, encoded) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("name") == "ColumnDataSource" and node.get("attributes", {}).get("name") in encoded:
        attributes = {**node["attributes"], "data": encoded[node["attributes"]["name"]]}
        return {**node, "attributes": {k: _with_data(v, encoded) for k, v in attributes.items()}}
    return {k: _with_data(v, encoded) for k, v in node.items()}


def _style(chart: Chart, series_name: str) -> str:
    assert chart.data is not None
    for name, col in chart.data.columns.items():
        if col.agg is not None and series_name.startswith(col.display_name or name):
            return col.graph_style or "LINES"
    return "LINES"


def _bar_width(xs: list[Any]) -> float:
    """80% of the closest gap between two times (milliseconds)."""
    times = sorted(x for x in xs if x == x)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    return (min(gaps) if gaps else 3_600_000) * 0.8


def pie_columns(cols: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A series with the wedges' angles and colours (a missing value is no wedge)."""
    out = dict(cols)
    values = [v if v == v else 0.0 for v in cols["y"]]  # NaN: no value
    total = sum(values) or 1
    starts, ends, acc = [], [], 0.0
    for v in values:
        starts.append(acc)
        acc += 2 * pi * v / total
        ends.append(acc)
    out.update(start=starts, end=ends, color=[PALETTE[i % len(PALETTE)] for i in range(len(cols["y"]))])
    return out


def _pie(chart: Chart, sources: dict[str, Any]) -> Any:
    from bokeh.models import CustomJS, HoverTool, TapTool
    from bokeh.plotting import figure as new_figure

    source = next(iter(sources.values()), None)
    fig = new_figure(height=300, sizing_mode="stretch_width", tools="", toolbar_location=None,
                     x_range=(-1.1, 1.1), y_range=(-1.1, 1.1), match_aspect=True, name=f"ln-chart-{chart.id}")
    fig.axis.visible = False
    fig.grid.visible = False
    if source is None:
        return fig
    inner = 0.5 if (chart.chart_options.graph_style or "").upper() == "DONUT" else 0
    renderer = fig.annular_wedge(x=0, y=0, inner_radius=inner, outer_radius=1, start_angle="start", end_angle="end",
                                 color="color", legend_field="label", source=source, name=f"ln-points-{chart.id}-0")
    fig.add_tools(HoverTool(renderers=[renderer], tooltips=[("", "@label"), ("value", "@y{0,0.[00]}"),
                                                             ("executions", "@n")]))
    fig.add_tools(TapTool(renderers=[renderer], callback=CustomJS(args={"source": source, "chart": chart.id},
                                                                  code=OPEN_EXECUTION)))
    fig.legend.location = "top_right"
    return fig


def table_html(chart: Chart, data: ChartData, limit: int = 200) -> str:
    """A Table chart: its columns, the first ``limit`` rows, each linked to its execution when it has one."""
    assert chart.data is not None
    heads = "".join(f"<th>{esc(_label(chart, c))}</th>" for c in data.columns)
    rows = []
    for i, row in enumerate(data.rows[:limit]):
        n = data.execution_counts[i] if i < len(data.execution_counts) else 0
        ex = data.execution_ids[i] if i < len(data.execution_ids) else None
        link = (f"<a class='ln-open' href='{url('execution', id=ex)}'>Open</a>" if n == 1 and ex
                else f"<span class='ln-muted'>{n} executions</span>")
        cells = "".join(f"<td>{esc('' if row.get(c) is None else row.get(c))}</td>" for c in data.columns)
        rows.append(f"<tr class='ln-dash-row'>{cells}<td>{link}</td></tr>")
    more = (f"<p class='ln-muted'>{len(data.rows) - limit} more rows not shown.</p>"
            if len(data.rows) > limit else "")
    empty = "<p class='ln-muted'>No rows in this range.</p>" if not data.rows else ""
    return f"<table class='ln-table'><tr>{heads}<th></th></tr>{''.join(rows)}</table>{more}{empty}"


WARM_UP = """
id: warm-up
title: warm-up
charts:
  - id: warm
    type: io.kestra.plugin.core.dashboard.chart.TimeSeries
    chartOptions: {column: date}
    data:
      type: io.lanner.dashboard.data.FlowOutputs
      columns:
        date: {field: START_DATE}
        total: {field: outputs.task.value, agg: SUM}
"""


def warm_up() -> None:
    """Build and serialize one figure: Bokeh's first costs ~150 ms more than the next (imports, property caches).

    The builder calls it while it loads (a background thread at server start), so no user's first dashboard pays.
    """
    from bokeh.embed import json_item

    from engine.model.dashboard import parse_dashboard

    chart = parse_dashboard(WARM_UP).charts[0]
    data = ChartData(dashboard_id="warm-up", chart_id="warm", columns=["date", "total"], execution_ids=["a", "b"],
                     rows=[{"date": "2026-01-01T00:00:00+00:00", "total": 1}, {"date": "2026-01-02T00:00:00+00:00",
                                                                               "total": 2}], execution_counts=[1, 1])
    json_item(figure(chart, data)[0])
