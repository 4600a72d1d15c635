"""Dashboard definitions: Kestra's YAML reads as typed charts; every mistake is named with its path and line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.model.dashboard import DashboardValidationError, parse_dashboard

KESTRA_EXAMPLE = """\
# Kestra's own example, unchanged
id: getting_started
title: Getting Started
description: First custom dashboard
timeWindow:
  default: P7D
  max: P365D
charts:
  - id: executions_timeseries
    type: io.kestra.plugin.core.dashboard.chart.TimeSeries
    chartOptions:
      displayName: Executions
      description: Executions last week
      legend:
        enabled: true
      column: date
      colorByColumn: state
    data:
      type: io.kestra.plugin.core.dashboard.data.Executions
      columns:
        date:
          field: START_DATE
          displayName: Date
        state:
          field: STATE
        total:
          displayName: Executions
          agg: COUNT
          graphStyle: BARS
        duration:
          displayName: Duration
          field: DURATION
          agg: SUM
          graphStyle: LINES
  - id: markdown_insight
    type: io.kestra.plugin.core.dashboard.chart.Markdown
    chartOptions:
      displayName: Chart Insights
    content: |
      ## Execution Success Rate
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(DashboardValidationError) as caught:
        parse_dashboard(text)
    return [str(e) for e in caught.value.errors]


def test_kestras_example_reads_as_typed_charts() -> None:
    d = parse_dashboard(KESTRA_EXAMPLE)
    assert (d.id, d.title, d.time_window.default, d.time_window.max) == (
        "getting_started", "Getting Started", timedelta(days=7), timedelta(days=365))
    ts, md = d.charts
    assert (ts.type, ts.title, ts.chart_options.column, ts.chart_options.color_by_column) == (
        "TimeSeries", "Executions", "date", "state")
    assert ts.data is not None and ts.data.type == "Executions"
    assert ts.data.dimensions() == ["date", "state"] and ts.data.measures() == ["total", "duration"]
    assert ts.data.columns["total"].graph_style == "BARS"
    assert md.type == "Markdown" and md.markdown.startswith("## Execution")


def test_flow_outputs_and_short_type_names() -> None:
    d = parse_dashboard("""
id: sales
title: Sales
charts:
  - id: per_region
    type: bar
    data:
      type: flow_outputs
      columns:
        region: {field: outputs.sum.values.region}
        total: {field: outputs.sum.values.total, agg: sum}
""")
    chart = d.charts[0]
    assert chart.type == "Bar" and chart.data is not None and chart.data.type == "FlowOutputs"
    assert chart.data.columns["total"].agg == "SUM"


@pytest.mark.parametrize(("body", "expected"), [
    ("  - id: a\n    type: io.kestra.plugin.core.dashboard.chart.Gauge\n",
     "charts[0].type: 'io.kestra.plugin.core.dashboard.chart.Gauge' is not a chart type"),
    ("  - id: a\n    type: Pie\n    data:\n      type: executions\n      columns:\n        s: {field: STATUS}\n"
     "        n: {agg: COUNT}\n",
     "charts[0].data.columns.s.field: 'STATUS' is not a field of Executions: use one of ID, NAMESPACE"),
    ("  - id: a\n    type: Bar\n    data:\n      type: executions\n      columns:\n        s: {field: STATE, agg: SUM}\n",
     "charts[0].data.columns.s.agg: SUM needs a number: STATE is not one"),
    ("  - id: a\n    type: TimeSeries\n    chartOptions: {column: s}\n    data:\n      type: executions\n"
     "      columns:\n        s: {field: STATE}\n        n: {agg: COUNT}\n",
     "charts[0].chartOptions.column: 's' must read a date (START_DATE, END_DATE or DATE)"),
    ("  - id: a\n    type: Table\n    data:\n      type: flow_outputs\n      columns:\n        t: {field: outputs.sum}\n",
     "charts[0].data.columns.t.field: 'outputs.sum' is not an output: write outputs.<taskId>.<key>"),
    ("  - id: a\n    type: Table\n    data:\n      type: logs\n      columns:\n        l: {field: LEVEL}\n"
     "      where:\n        - {field: LEVEL, type: IN}\n",
     "charts[0].data.where[0].values: IN needs a list of values"),
    ("  - id: a\n    type: Table\n    data:\n      type: logs\n      columns:\n        l: {field: LEVEL}\n"
     "      where:\n        - {field: LEVEL, type: MATCHES, value: x}\n",
     "charts[0].data.where[0].type: 'MATCHES' is not a filter type Lanner supports"),
    ("  - id: a\n    type: Markdown\n  - id: a\n    type: Markdown\n    content: hi\n",
     "charts[0].content: a Markdown chart needs content"),
    ("  - id: a\n    type: Table\n    data:\n      type: executions\n      colums: {}\n",
     "charts[0].data.colums: unknown property 'colums'"),
])
def test_each_mistake_names_its_field_and_line(body: str, expected: str) -> None:
    found = errors_of("id: d\ntitle: D\ncharts:\n" + body)
    assert any(e.startswith(expected) for e in found), found
    assert all("(line " in e for e in found), found


def test_line_numbers_point_at_the_field() -> None:
    found = errors_of("id: d\ntitle: D\ncharts:\n  - id: a\n    type: Bar\n    data:\n      type: executions\n"
                      "      columns:\n        s: {field: STATE}\n        n: {agg: COUNT}\n        m: {agg: COUNT}\n")
    assert found == ["charts[0].data.columns: a Bar chart needs exactly one column with agg (its values) (line 8)"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", "the dashboard is empty"),
    ("- a\n", "a dashboard must be a mapping of properties (id, title, charts)"),
    ("id: d\n", "title: is required (line 1)"),
    ("id: has space\ntitle: T\n", "id: 'has space' is not allowed: use letters, digits, '-' and '_' (line 1)"),
    ("id: d\ntitle: T\ntimeWindow:\n  default: P400D\n", "timeWindow.default: must be a duration between PT1M and P366D"),
    ("id: d\ntitle: T\ntimeWindow:\n  default: P30D\n  max: P7D\n",
     "timeWindow.default: must not be longer than timeWindow.max (line 4)"),
    ("id: d\ntitle: T\ncharts:\n  - id: a\n    type: Markdown\n    content: x\n  - id: a\n    type: Markdown\n"
     "    content: y\n", "charts[1].id: chart id 'a' is used twice"),
])
def test_document_level_mistakes(text: str, expected: str) -> None:
    assert any(e.startswith(expected) or expected in e for e in errors_of(text)), errors_of(text)
