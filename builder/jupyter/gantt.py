"""Gantt chart of an execution's task runs: rows for the widget's own drawing, or a Bokeh figure.

The notebook widget draws the chart itself (the topology bundle, ``builder/frontend``) from :func:`gantt_data`,
a few hundred bytes per task run: a Bokeh page would inline BokehJS (about 1.4 MB)
into the widget state that every saved notebook keeps. The web builder's execution
page shows :func:`gantt_figure` through Panel.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from builder.topology import PENDING_COLOUR, STATE_COLOURS, format_duration, parse_time


def gantt_rows(summary: dict[str, Any], now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per started task run, in start order: label, start, end, state, colour, duration."""
    now = now or datetime.now(UTC)
    rows = []
    for r in summary.get("taskRuns") or []:
        start = parse_time(r.get("startDate"))
        if start is None:
            continue
        end = parse_time(r.get("endDate")) or now
        value = r.get("value")
        label = f"{r['taskId']} [{value}]" if value is not None else r["taskId"]
        rows.append({
            "label": label, "taskId": r["taskId"], "start": start, "end": max(end, start),
            "state": r.get("state"), "colour": STATE_COLOURS.get(str(r.get("state")), PENDING_COLOUR),
            "duration": format_duration((max(end, start) - start).total_seconds()),
            "attempts": len(r.get("attempts") or []),
        })
    rows.sort(key=lambda row: row["start"])
    # Labels must be unique categories: suffix repeats (same task and value run again after a restart).
    seen: dict[str, int] = {}
    for row in rows:
        n = seen.get(row["label"], 0) + 1
        seen[row["label"]] = n
        if n > 1:
            row["label"] = f"{row['label']} #{n}"
    return rows


def gantt_figure(summary: dict[str, Any], now: datetime | None = None) -> Any:
    """A Bokeh figure: one horizontal bar per task run, coloured by state, hover for details."""
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    rows = gantt_rows(summary, now)
    labels = [r["label"] for r in rows]
    source = ColumnDataSource({
        "label": labels,
        "start": [r["start"].replace(tzinfo=None) for r in rows],
        "end": [r["end"].replace(tzinfo=None) for r in rows],
        "state": [r["state"] for r in rows],
        "colour": [r["colour"] for r in rows],
        "duration": [r["duration"] for r in rows],
        "attempts": [r["attempts"] for r in rows],
    })
    title = f"{summary.get('namespace', '')}.{summary.get('flowId', '')} — execution {summary.get('id', '')} " \
            f"({summary.get('state', '')})"
    fig = figure(
        y_range=list(reversed(labels)) or ["(no task run yet)"], x_axis_type="datetime", title=title,
        height=max(160, 60 + 26 * len(rows)), sizing_mode="stretch_width", toolbar_location="above",
        tools="xpan,xwheel_zoom,reset,save",
    )
    fig.hbar(y="label", left="start", right="end", height=0.7, color="colour", source=source, line_color=None)
    fig.add_tools(HoverTool(tooltips=[("task", "@label"), ("state", "@state"), ("duration", "@duration"),
                                      ("attempts", "@attempts")]))
    fig.xaxis.axis_label = "time (UTC)"
    fig.ygrid.grid_line_color = None
    return fig


#: Rows the widget's Gantt keeps at most (the latest started ones); the saved notebook stays small.
MAX_GANTT_ROWS = 400


def gantt_data(summary: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """What the widget's Gantt view draws: rows with times in ms since the epoch, and the overall span."""
    rows = gantt_rows(summary, now)
    dropped = max(0, len(rows) - MAX_GANTT_ROWS)
    rows = rows[dropped:]
    out = [{"label": r["label"], "state": r["state"], "duration": r["duration"], "attempts": r["attempts"],
            "start": int(r["start"].timestamp() * 1000), "end": int(r["end"].timestamp() * 1000)} for r in rows]
    return {
        "executionId": summary.get("id"), "rows": out, "dropped": dropped,
        "start": min((r["start"] for r in out), default=None), "end": max((r["end"] for r in out), default=None),
    }
