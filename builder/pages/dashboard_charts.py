"""Bokeh figures of dashboard charts, drawn from the rows the store aggregated (:class:`ChartData`).

Each series is one ``ColumnDataSource`` with, besides ``x``/``y``, the link of
the execution behind each point (``url``: set when exactly one execution is
behind it) and the row's grouping values (for the list of executions behind a
point that has several). A tap opens the execution; live refresh replaces the
sources' data in place, so only changed charts are sent to the browser.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from math import pi
from typing import Any

from builder.pages.common import esc, url
from engine.model.dashboard import Chart
from engine.model.views import ChartData

PALETTE = ["#4f46e5", "#0891b2", "#16a34a", "#ea580c", "#db2777", "#ca8a04", "#7c3aed", "#0d9488", "#dc2626",
           "#64748b"]
OPEN_EXECUTION = """
const i = source.selected.indices[0];
if (i === undefined) { return; }
const target = source.data.url[i];
if (target) { window.location.assign(target); }
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
            cols = out.setdefault(key, {"x": [], "y": [], "label": [], "url": [], "n": [], "row": []})
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
    return out


def arrays(cols: dict[str, list[Any]]) -> dict[str, Any]:
    """Numeric columns as numpy arrays: Bokeh sends those as binary buffers, not one JSON number at a time."""
    import numpy as np

    return {k: np.asarray(v, dtype=float) if k in ("y", "n", "row") or (k == "x" and v and isinstance(v[0], float))
            else v for k, v in cols.items()}


def figure(chart: Chart, data: ChartData, on_pick: Callable[[int], None]) -> tuple[Any, dict[str, Any]]:
    """The Bokeh model of a data chart and its sources by series name."""
    from bokeh.models import ColumnDataSource, CustomJS, HoverTool, TapTool
    from bokeh.plotting import figure as new_figure

    assert chart.data is not None
    parts = series(chart, data)
    sources: dict[str, Any] = {}
    kind = chart.type
    x_type = "datetime" if kind == "TimeSeries" else "auto"
    cats = sorted({x for cols in parts.values() for x in cols["x"]}, key=str) if kind == "Bar" else None
    fig = new_figure(height=300, sizing_mode="stretch_width", x_axis_type=x_type,
                     tools="pan,wheel_zoom,reset", toolbar_location="above", title=None,
                     name=f"ln-chart-{chart.id}", **({"x_range": cats} if cats is not None else {}))
    fig.toolbar.logo = None
    tappable = []
    for i, (name, cols) in enumerate(parts.items()):
        colour = PALETTE[i % len(PALETTE)]
        source = ColumnDataSource(arrays(cols), name=f"ln-source-{chart.id}-{i}")
        sources[name] = source
        if kind == "Pie":
            continue
        style = _style(chart, name)
        legend = {"legend_label": name} if len(parts) > 1 else {}
        if kind == "Bar" or style == "BARS":
            width = 0.8 if kind == "Bar" else _bar_width(cols["x"])
            renderer = fig.vbar(x="x", top="y", width=width, source=source, color=colour,
                                name=f"ln-points-{chart.id}-{i}", **legend)
        else:
            if style == "LINES":
                fig.line(x="x", y="y", source=source, color=colour, line_width=2, **legend)
            renderer = fig.scatter(x="x", y="y", source=source, size=9, color=colour,
                                   name=f"ln-points-{chart.id}-{i}", **legend)
        tappable.append(renderer)
        source.selected.on_change("indices", _picked(source, on_pick))
    if kind == "Pie":
        return _pie(chart, parts, sources, on_pick), sources
    when = "@x{%F %T}" if kind == "TimeSeries" else "@label"
    fig.add_tools(HoverTool(renderers=tappable, tooltips=[("", "$name"), ("at", when), ("value", "@y{0,0.[00]}"),
                                                          ("executions", "@n")],
                            formatters={"@x": "datetime"} if kind == "TimeSeries" else {}))
    for renderer in tappable:
        fig.add_tools(TapTool(renderers=[renderer], callback=CustomJS(args={"source": renderer.data_source},
                                                                      code=OPEN_EXECUTION)))
    if len(parts) > 1:
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
    if kind == "TimeSeries":
        fig.xaxis.axis_label = "UTC"
    return fig, sources


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


def _picked(source: Any, on_pick: Callable[[int], None]) -> Callable[[str, Any, Any], None]:
    def changed(_attr: str, _old: Any, new: Any) -> None:
        if new:
            on_pick(int(source.data["row"][new[0]]))

    return changed


def _pie(chart: Chart, parts: dict[str, dict[str, list[Any]]], sources: dict[str, Any],
         on_pick: Callable[[int], None]) -> Any:
    from bokeh.models import CustomJS, HoverTool, TapTool
    from bokeh.plotting import figure as new_figure

    name, source = next(iter(sources.items()), (None, None))
    fig = new_figure(height=300, sizing_mode="stretch_width", tools="", toolbar_location=None,
                     x_range=(-1.1, 1.1), y_range=(-1.1, 1.1), match_aspect=True, name=f"ln-chart-{chart.id}")
    fig.axis.visible = False
    fig.grid.visible = False
    if source is None or name is None:
        return fig
    cols = dict(parts[name])
    values = [v if v == v else 0.0 for v in cols["y"]]  # NaN: no value
    total = sum(values) or 1
    starts, ends, acc = [], [], 0.0
    for v in values:
        starts.append(acc)
        acc += 2 * pi * v / total
        ends.append(acc)
    cols.update(start=starts, end=ends, color=[PALETTE[i % len(PALETTE)] for i in range(len(cols["y"]))])
    source.data = cols
    inner = 0.5 if (chart.chart_options.graph_style or "").upper() == "DONUT" else 0
    renderer = fig.annular_wedge(x=0, y=0, inner_radius=inner, outer_radius=1, start_angle="start", end_angle="end",
                                 color="color", legend_field="label", source=source, name=f"ln-points-{chart.id}-0")
    fig.add_tools(HoverTool(renderers=[renderer], tooltips=[("", "@label"), ("value", "@y{0,0.[00]}"),
                                                             ("executions", "@n")]))
    fig.add_tools(TapTool(renderers=[renderer], callback=CustomJS(args={"source": source}, code=OPEN_EXECUTION)))
    source.selected.on_change("indices", _picked(source, on_pick))
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
