"""A custom dashboard's page (``/ui/dashboard?id=<id>``): its charts, filters, live refresh and drill-down.

Unlike the other builder pages this one is not a Panel session: it is one HTML
document that already holds every chart with its data (standalone Bokeh
documents, ``bokeh.embed.json_item``) and needs only ``bokeh.min.js``, served by
Lanner like every page asset. A Panel page first loads ~2.8 MB of scripts
(Panel, Bokeh's widgets and WebGL bundles), then opens its websocket and pulls
its document before it draws: about a second for one chart, where this page
draws in a few hundred milliseconds (bench B12).

What stays live is done by the page's script (``dashboard_custom.js``): the
filters (namespace, flow, labels, time range) start from the URL
(``&namespace=..&flow=..&labels=team:sales&range=7d``, so a filtered view can be
bookmarked) and a change re-queries the charts and updates the URL; every few
seconds the charts are asked again (:func:`charts_payload`) and only a chart
whose rows changed is redrawn, its sources' data replaced in place. A tap on a
point opens its execution when one execution is behind it; a point with several
lists them under the chart (:func:`drill_html`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from builder.dashboards import DashboardServices
from builder.pages.common import CSS, FORM_CSS, NAV, badge, esc, url
from builder.pages.dashboard_charts import figure_item, series, table_html
from builder.services import Services
from engine.model.dashboard import Chart, Dashboard, parse_dashboard
from engine.model.durations import format_duration
from engine.model.views_workspace import ChartData
from engine.service import EngineError

REFRESH_MS = 5000
RANGES = {"1h": ("Last hour", timedelta(hours=1)), "24h": ("Last 24 hours", timedelta(days=1)),
          "7d": ("Last 7 days", timedelta(days=7)), "30d": ("Last 30 days", timedelta(days=30)),
          "365d": ("Last 365 days", timedelta(days=365))}
#: The one script the page needs: Bokeh's core, at the URL Panel pages load it from (so the browser has it cached).
BOKEH_JS = "static/js/bokeh.min.js"

PAGE_CSS = """
.ln-title { margin: 12px 16px 4px; font-size: 1.5em; }
.ln-intro { margin: 0 16px 8px; font-size: 14px; }
.ln-dash-filters { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 16px 12px; font-size: 13px; }
.ln-dash-filters label { display: flex; flex-direction: column; gap: 3px; }
.ln-dash-filters select, .ln-dash-filters input { width: 200px; padding: 4px 6px; font: inherit;
  border: 1px solid #cbd5e1; border-radius: 4px; background: white; }
.ln-dash-grid { display: grid; grid-template-columns: 1fr; gap: 12px; margin: 0 16px 16px; }
.ln-dash-grid.ln-cols-2 { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.ln-dash-chart { background: white; border: 1px solid #e2e8f0; border-radius: 6px; padding: 4px 12px; min-width: 0; }
.ln-dash-plot { width: 100%; height: 330px; }
.ln-chart-title { margin: 8px 0 4px; }
"""


def parse_labels(text: str) -> dict[str, str]:
    """``team:sales, env:prod`` (or ``=``) as a mapping; pairs without a key are left out."""
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.replace("=", ":", 1).partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def ranges(dashboard: Dashboard) -> dict[str, str]:
    """The time range choices (``{key: label}``, ``""``: the dashboard's own window) within its maximum."""
    default = f"Dashboard default ({format_duration(dashboard.time_window.default)})"
    return {"": default, **{key: label for key, (label, span) in RANGES.items() if span <= dashboard.time_window.max}}


def filters(dashboard: Dashboard, query: Mapping[str, str]) -> dict[str, Any]:
    """The page's filters from its URL arguments (an unknown time range is the dashboard's own)."""
    key = query.get("range") or ""
    span = RANGES[key][1] if key in RANGES and key in ranges(dashboard) else None
    return {"namespace": query.get("namespace") or None, "flow_id": query.get("flow") or None,
            "labels": parse_labels(query.get("labels") or ""),
            "start": datetime.now(UTC) - span if span else None}


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).render(text)  # raw HTML in a dashboard's YAML is not trusted


def _signature(data: ChartData) -> str:
    text = json.dumps([data.rows, data.execution_ids, data.execution_counts, data.truncated], default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _notes(data: ChartData) -> str:
    notes = "<p class='ln-muted ln-empty'>No data in this range.</p>" if not data.rows else ""
    if data.truncated:
        notes += "<p class='ln-muted'>Only the first rows are charted: narrow the filters.</p>"
    return notes


def _columns(cols: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A series' columns as JSON (NaN, which JSON lacks, as null: the page's script turns it back)."""
    return {k: [None if isinstance(v, float) and v != v else v for v in values] for k, values in cols.items()}


def chart_state(api: DashboardServices, dashboard: Dashboard, chart: Chart, where: dict[str, Any],
                item: bool) -> dict[str, Any]:
    """One chart for the page: ``html`` (table, markdown, error) or a Bokeh chart (its ``item`` when asked).

    ``sig`` changes when the chart's rows do; ``series`` are the sources' columns by
    source name, for an update in place.
    """
    if chart.type == "Markdown":
        return {"kind": "html", "sig": "markdown", "html": _markdown(chart.markdown)}
    try:
        data = api.chart_data(dashboard.id, chart.id, **where)
    except EngineError as exc:
        return {"kind": "html", "sig": f"error:{exc.message}", "html": f"<p class='ln-error'>{esc(exc.message)}</p>"}
    sig = _signature(data)
    if chart.type == "Table":
        return {"kind": "html", "sig": sig, "html": table_html(chart, data) + _notes(data)}
    parts = series(chart, data)
    out: dict[str, Any] = {"kind": "plot", "sig": sig, "notes": _notes(data), "pie": chart.type == "Pie",
                           "series": {f"ln-source-{chart.id}-{i}": _columns(cols)
                                      for i, cols in enumerate(parts.values())}}
    if item:
        out["item"] = figure_item(chart, data)
    return out


def charts_payload(services: Services, dashboard_id: str, query: Mapping[str, str],
                   items: frozenset[str] | None = None) -> dict[str, Any]:
    """Every chart of a dashboard for the filters in ``query``; Bokeh items only for the charts in ``items``."""
    api = DashboardServices(services.engine)
    info = api.get(dashboard_id)
    if info is None:
        return {"missing": True, "charts": {}}
    dashboard = parse_dashboard(info.source)
    where = filters(dashboard, query)
    return {"charts": {c.id: chart_state(api, dashboard, c, where, items is None or c.id in items)
                       for c in dashboard.charts}}


def drill_html(services: Services, dashboard_id: str, chart_id: str, point: dict[str, Any],
               query: Mapping[str, str]) -> str:
    """The executions behind one point of a chart, as a linked list."""
    api = DashboardServices(services.engine)
    info = api.get(dashboard_id)
    if info is None:
        return f"<p class='ln-error'>There is no dashboard '{esc(dashboard_id)}' any more.</p>"
    where = filters(parse_dashboard(info.source), query)
    try:
        found = api.executions_behind(dashboard_id, chart_id, point, **where)
    except EngineError as exc:
        return f"<p class='ln-error'>{esc(exc.message)}</p>"
    what = ", ".join(f"{esc(k)} {esc(v)}" for k, v in point.items())
    rows = "".join(f"<tr><td>{badge(e['state'])}</td><td>{esc(e['namespace'])}.{esc(e['flowId'])}</td>"
                   f"<td>{esc(e.get('startDate') or '')}</td><td><a class='ln-open' "
                   f"href='{url('execution', id=e['id'])}'>Open</a></td></tr>" for e in found)
    return f"<h5>Executions behind {what} ({len(found)})</h5><table class='ln-table ln-drill-list'>{rows}</table>"


@cache
def _script() -> str:
    return resources.files("builder.pages").joinpath("dashboard_custom.js").read_text(encoding="utf-8")


def _json_in_html(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can end it)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _select(name: str, label: str, options: Mapping[str, str], value: str) -> str:
    opts = "".join(f"<option value='{esc(k)}'{' selected' if k == value else ''}>{esc(text)}</option>"
                   for k, text in options.items())
    return f"<label class='ln-dash-{name}'>{esc(label)}<select name='{name}'>{opts}</select></label>"


def _document(title: str, body: str, script: str = "") -> str:
    links = " ".join(f"<a href='{url(key)}' class='ln-nav-{key}{' ln-active' if key == 'dashboards' else ''}'>"
                     f"{label}</a>" for key, label in NAV)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Lanner · {esc(title)}</title><link rel='icon' href='./favicon.ico'>"
            f"<style>{CSS}{FORM_CSS}{PAGE_CSS}</style></head><body>"
            f"<div class='ln-header'><a class='ln-brand' href='{url('flows')}'>Lanner</a>{links}</div>"
            f"<h2 class='ln-title'>{esc(title)}</h2>{body}{script}</body></html>")


def not_found_page(dashboard_id: str) -> str:
    return _document("Dashboard not found", f"<p class='ln-error ln-intro'>There is no dashboard "
                     f"'{esc(dashboard_id)}'. <a href='{url('dashboards')}'>See every dashboard</a>.</p>")


def page_html(services: Services, dashboard_id: str, query: Mapping[str, str]) -> str | None:
    """The whole page with every chart drawn from its data, or None when there is no such dashboard."""
    api = DashboardServices(services.engine)
    info = api.get(dashboard_id)
    if info is None:
        return None
    dashboard = parse_dashboard(info.source)
    flow_keys = api.flows()  # one read of the flows gives both lists
    namespaces = sorted({ns.rsplit(".", i)[0] for ns, _f in flow_keys for i in range(ns.count(".") + 1)})
    flows = sorted({f for _ns, f in flow_keys})
    chosen = {"namespace": query.get("namespace", "") if query.get("namespace") in namespaces else "",
              "flow": query.get("flow", "") if query.get("flow") in flows else "",
              "range": query.get("range", "") if query.get("range", "") in ranges(dashboard) else ""}
    where = filters(dashboard, {**query, **chosen})
    state = {"id": dashboard.id, "refreshMs": REFRESH_MS,
             "charts": {c.id: chart_state(api, dashboard, c, where, item=True) for c in dashboard.charts}}
    intro = (f"<div class='ln-intro'><a href='{url('dashboards')}'>All dashboards</a> · <a class='ln-edit-dashboard' "
             f"href='{url('dashboard_edit', id=dashboard.id)}'>Edit</a>"
             + (f"<p>{esc(dashboard.description)}</p>" if dashboard.description else "") + "</div>")
    form = ("<form class='ln-dash-filters' method='get'>"
            f"<input type='hidden' name='id' value='{esc(dashboard.id)}'>"
            + _select("namespace", "Namespace", {"": "", **{n: n for n in namespaces}}, chosen["namespace"])
            + _select("flow", "Flow", {"": "", **{f: f for f in flows}}, chosen["flow"])
            + "<label class='ln-dash-labels'>Labels (key:value, ...)"
              f"<input name='labels' value='{esc(query.get('labels', ''))}' placeholder='team:sales'></label>"
            + _select("range", "Time range", ranges(dashboard), chosen["range"]) + "</form>")
    cards = []
    for chart in dashboard.charts:
        opts = chart.chart_options
        desc = f"<div class='ln-muted'>{esc(opts.description)}</div>" if opts.description else ""
        now = state["charts"][chart.id]
        body = (f"<div class='ln-dash-plot' id='ln-plot-{esc(chart.id)}'></div><div class='ln-dash-notes'>"
                f"{now['notes']}</div>" if now["kind"] == "plot" else now["html"])
        cards.append(f"<section class='ln-dash-chart ln-dash-chart-{esc(chart.id)}' data-chart='{esc(chart.id)}'>"
                     f"<h4 class='ln-chart-title'>{esc(chart.title)}</h4>{desc}"
                     f"<div class='ln-dash-chart-body ln-dash-chart-body-{esc(chart.id)}'>{body}</div>"
                     "<div class='ln-drill'></div></section>")
    grid = f"<div class='ln-dash-grid{' ln-cols-2' if len(cards) > 1 else ''}'>{''.join(cards)}</div>"
    script = (f"<script src='{BOKEH_JS}'></script>"
              f"<script type='application/json' id='ln-dashboard-state'>{_json_in_html(state)}</script>"
              f"<script>{_script()}</script>")
    return _document(dashboard.title, intro + form + grid, script)
