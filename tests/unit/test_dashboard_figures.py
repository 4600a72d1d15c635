"""The custom dashboard page's figures: a cached serialized figure refilled with new data is the figure built anew."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from builder.pages import dashboard_charts
from builder.pages.dashboard_charts import figure, figure_item
from builder.pages.dashboard_custom import _json_in_html, filters, parse_labels
from engine.model.dashboard import parse_dashboard
from engine.model.views_workspace import ChartData

DASHBOARD = """
id: sales
title: Sales
timeWindow: {default: P7D, max: P30D}
charts:
  - id: per_run
    type: io.kestra.plugin.core.dashboard.chart.TimeSeries
    chartOptions: {column: date, colorByColumn: region}
    data:
      type: io.lanner.dashboard.data.FlowOutputs
      columns:
        date: {field: START_DATE}
        region: {field: outputs.sum.values.region}
        total: {field: outputs.sum.values.total, agg: SUM, graphStyle: BARS}
  - id: regions
    type: io.kestra.plugin.core.dashboard.chart.Pie
    data:
      type: io.lanner.dashboard.data.FlowOutputs
      columns:
        region: {field: outputs.sum.values.region}
        total: {field: outputs.sum.values.total, agg: SUM}
"""


def rows(chart_id: str, values: list[tuple[str, float]]) -> ChartData:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    out = [{"date": (start + timedelta(hours=i)).isoformat(), "region": region, "total": total}
           for i, (region, total) in enumerate(values)]
    return ChartData(dashboard_id="sales", chart_id=chart_id, columns=["date", "region", "total"], rows=out,
                     execution_ids=[f"ex{i}" for i in range(len(out))], execution_counts=[1] * len(out))


def normalized(item: dict[str, Any]) -> str:
    """The item's JSON with Bokeh's model ids numbered in order of appearance (every build draws new ids)."""
    text = json.dumps(item, sort_keys=True)
    ids: dict[str, str] = {}
    return re.sub(r'"p\d+"', lambda m: ids.setdefault(m.group(0), f'"m{len(ids)}"'), text)


def test_a_cached_figure_refilled_with_new_data_is_the_figure_built_for_that_data():
    from bokeh.embed import json_item

    dashboard_charts._ITEMS.clear()
    for chart in parse_dashboard(DASHBOARD).charts:
        first = rows(chart.id, [("eu", 1.0), ("us", 2.0), ("eu", 3.5)])
        second = rows(chart.id, [("eu", 10.0), ("us", 20.5), ("eu", 7.25)])  # same series, other values
        assert normalized(figure_item(chart, first)) == normalized(json_item(figure(chart, first)[0]))
        cached = figure_item(chart, second)
        assert normalized(cached) == normalized(json_item(figure(chart, second)[0]))
        assert normalized(cached) != normalized(figure_item(chart, first))
    assert len(dashboard_charts._ITEMS) == 2  # one serialized figure per chart: the second data reused it


def test_new_series_or_spacing_build_a_new_figure():
    chart = parse_dashboard(DASHBOARD).charts[0]
    dashboard_charts._ITEMS.clear()
    figure_item(chart, rows(chart.id, [("eu", 1.0), ("us", 2.0)]))
    three = figure_item(chart, rows(chart.id, [("eu", 1.0), ("us", 2.0), ("apac", 4.0)]))
    sources = re.findall(r'"ln-source-per_run-\d"', json.dumps(three))
    assert sorted(set(sources)) == ['"ln-source-per_run-0"', '"ln-source-per_run-1"', '"ln-source-per_run-2"']
    assert len(dashboard_charts._ITEMS) == 2


def test_page_state_cannot_end_its_script_element():
    text = _json_in_html({"title": "</script><script>alert(1)</script> & <!--"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"title": "</script><script>alert(1)</script> & <!--"}


def test_filters_from_the_url():
    dashboard = parse_dashboard(DASHBOARD)
    assert parse_labels("team:sales, env = prod,  :x, broken") == {"team": "sales", "env": "prod"}
    got = filters(dashboard, {"namespace": "acme", "flow": "", "labels": "team:sales", "range": "7d"})
    assert got["namespace"] == "acme" and got["flow_id"] is None and got["labels"] == {"team": "sales"}
    assert abs((datetime.now(UTC) - got["start"]) - timedelta(days=7)) < timedelta(seconds=5)
    # Beyond the dashboard's maximum window (30 days) or unknown: the dashboard's own window.
    assert filters(dashboard, {"range": "365d"})["start"] is None
    assert filters(dashboard, {"range": "bogus"})["start"] is None
