"""Custom dashboards through both Engines (in-process and over the REST API): same answers, same refusals."""

from __future__ import annotations

import pytest

from engine.service import Conflict, Engine, Invalid, NotFound

# The contract suite's module fixture: a LocalEngine and an HttpEngine on a server of its own.
from tests.integration.test_engine_contract import Served, served  # noqa: F401, F811

FLOW = """
id: regional_sales
namespace: dash.{engine}
inputs:
  - id: region
    type: STRING
  - id: total
    type: FLOAT
tasks:
  - id: sum
    type: output_values
    values:
      region: "{{{{ inputs.region }}}}"
      total: "{{{{ inputs.total }}}}"
"""

DASHBOARD = """
# sales per run, per region
id: {id}
title: Regional sales
charts:
  - id: per_run
    type: io.kestra.plugin.core.dashboard.chart.TimeSeries
    chartOptions: {{displayName: Total per run, column: date, colorByColumn: region}}
    data:
      type: io.lanner.dashboard.data.FlowOutputs
      columns:
        date: {{field: START_DATE}}
        region: {{field: outputs.sum.values.region}}
        total: {{field: outputs.sum.values.total, agg: SUM}}
      where:
        - {{field: FLOW_ID, type: EQUAL_TO, value: regional_sales}}
  - id: per_region
    type: io.kestra.plugin.core.dashboard.chart.Bar
    data:
      type: io.lanner.dashboard.data.FlowOutputs
      columns:
        region: {{field: outputs.sum.values.region}}
        total: {{field: outputs.sum.values.total, agg: SUM}}
  - id: notes
    type: io.kestra.plugin.core.dashboard.chart.Markdown
    content: Totals come from the sum task.
"""


@pytest.fixture(params=["local", "http"])
def engine(request: pytest.FixtureRequest, served: Served) -> tuple[str, Engine]:  # noqa: F811
    return request.param, served.local if request.param == "local" else served.http


def test_a_dashboard_charts_flow_outputs_and_drills_down(engine: tuple[str, Engine]) -> None:
    name, eng = engine
    info = eng.deploy(FLOW.format(engine=name))
    runs = [("eu", 10.5), ("us", 4.0), ("eu", 7.25)]
    ids = [eng.start(info.namespace, info.id, {"region": r, "total": t}) for r, t in runs]
    for i in ids:
        assert eng.wait(i, timeout=60).state == "SUCCESS"
    saved = eng.save_dashboard(DASHBOARD.format(id=f"sales-{name}"))
    assert saved.source.startswith("\n# sales per run")  # kept as written
    assert [(c.id, c.type) for c in saved.charts] == [("per_run", "TimeSeries"), ("per_region", "Bar"),
                                                     ("notes", "Markdown")]
    assert f"sales-{name}" in [d.id for d in eng.dashboards()]

    per_run = eng.chart_data(f"sales-{name}", "per_run", namespace=info.namespace)
    assert per_run.bucket is None and per_run.execution_counts == [1, 1, 1]
    assert [(r["region"], r["total"]) for r in per_run.rows] == [(r, t) for r, t in runs]
    assert per_run.execution_ids == ids  # oldest first: each point links to its own execution

    per_region = eng.chart_data(f"sales-{name}", "per_region", namespace=info.namespace)
    assert {r["region"]: r["total"] for r in per_region.rows} == {"eu": 17.75, "us": 4.0}
    behind = eng.chart_executions(f"sales-{name}", "per_region", {"region": "eu"}, namespace=info.namespace)
    assert sorted(e.id for e in behind) == sorted([ids[0], ids[2]])

    assert eng.chart_data(f"sales-{name}", "per_run", namespace="elsewhere").rows == []
    with pytest.raises(Invalid, match="no data"):
        eng.chart_data(f"sales-{name}", "notes")
    with pytest.raises(NotFound):
        eng.chart_data(f"sales-{name}", "missing")


def test_saving_refuses_what_would_lose_or_corrupt_a_dashboard(engine: tuple[str, Engine]) -> None:
    name, eng = engine
    did = f"refusals-{name}"
    eng.save_dashboard(f"id: {did}\ntitle: First\n")
    with pytest.raises(Conflict, match="already exists"):
        eng.save_dashboard(f"id: {did}\ntitle: Again\n")
    with pytest.raises(Invalid) as caught:
        eng.save_dashboard(f"id: {did}\ntitle: T\ncharts:\n  - id: a\n    type: Gauge\n", did)
    assert caught.value.errors and caught.value.errors[0].path == "charts[0].type"
    assert caught.value.errors[0].line == 5
    with pytest.raises(Invalid, match="keep its id"):
        eng.save_dashboard("id: other\ntitle: T\n", did)
    with pytest.raises(NotFound):
        eng.save_dashboard("id: ghost\ntitle: T\n", "ghost")
    assert eng.save_dashboard(f"id: {did}\ntitle: Second\n", did).title == "Second"
    found = eng.dashboard(did)
    assert found is not None and found.title == "Second"
    eng.delete_dashboard(did)
    assert eng.dashboard(did) is None
    with pytest.raises(NotFound):
        eng.delete_dashboard(did)
