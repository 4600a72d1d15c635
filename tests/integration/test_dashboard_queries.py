"""Dashboard charts aggregated by the store, on SQLite and a throwaway PostgreSQL (never skipped).

The rows are written as the runner writes them (``write_batch``), then each
chart's data is asked of the store and compared with what the rows hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.model.dashboard import DataSource
from engine.model.execution import Attempt, Execution, TaskRun
from engine.model.ids import new_id
from engine.model.state import State
from engine.store.dashboard_sql import Scope
from engine.store.dashboards import DashboardStore
from engine.store.sql import LogRecord, SqlStore

NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'lanner.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = SqlStore(url)
    yield s
    s.close()


def _run_with(store: SqlStore, *, flow: str = "sales", namespace: str = "shop", minutes_ago: float, seconds: float,
              state: State = State.SUCCESS, labels: dict[str, str] | None = None,
              outputs: list[dict] | None = None, logs: list[tuple[str, str]] = ()) -> Execution:
    start = NOW - timedelta(minutes=minutes_ago)
    ex = Execution(id=new_id(), namespace=namespace, flow_id=flow, flow_revision=1, state=state,
                   labels=labels or {}, start_date=_iso(start), end_date=_iso(start + timedelta(seconds=seconds)))
    runs = [TaskRun(id=new_id(), execution_id=ex.id, task_id="sum", parent_task_run_id=None, value=None, iteration=i,
                    state=State.SUCCESS, seq=i, attempts=[Attempt(State.SUCCESS, ex.start_date)], outputs=out,
                    start_date=ex.start_date, end_date=ex.end_date) for i, out in enumerate(outputs or [])]
    rows = [LogRecord(ex.id, None, task, 0, level, _iso(start), f"{level} line") for level, task in logs]
    store.write_batch(new_executions=[ex], new_runs=runs, log_rows=rows)
    return ex


def _data(spec: dict) -> DataSource:
    return DataSource.model_validate(spec)


def test_flow_outputs_per_run_grouped_by_an_output_and_filtered(store: SqlStore) -> None:
    """One point per run and region; a text total counts as missing; other flows and old runs stay out."""
    a = _run_with(store, minutes_ago=30, seconds=2, outputs=[{"values": {"region": "eu", "total": 10.5}},
                                                             {"values": {"region": "us", "total": 4}}])
    b = _run_with(store, minutes_ago=20, seconds=3, outputs=[{"values": {"region": "eu", "total": 7}},
                                                             {"values": {"region": "us", "total": "n/a"}}])
    _run_with(store, flow="other", minutes_ago=10, seconds=1, outputs=[{"values": {"region": "eu", "total": 99}}])
    _run_with(store, minutes_ago=60 * 24 * 3, seconds=1, outputs=[{"values": {"region": "eu", "total": 1000}}])
    data = _data({"type": "io.lanner.dashboard.data.FlowOutputs",
                  "columns": {"date": {"field": "START_DATE"}, "region": {"field": "outputs.sum.values.region"},
                              "total": {"field": "outputs.sum.values.total", "agg": "SUM"}},
                  "where": [{"field": "FLOW_ID", "type": "EQUAL_TO", "value": "sales"}]})
    found = DashboardStore(store).chart_rows(data, Scope(since=NOW - timedelta(days=1)))
    got = [(r["date"], r["region"], r["total"]) for r in found.rows]
    assert got == [(a.start_date, "eu", 10.5), (a.start_date, "us", 4), (b.start_date, "eu", 7),
                   (b.start_date, "us", None)]
    assert found.execution_ids == [a.id, a.id, b.id, b.id] and found.execution_counts == [1, 1, 1, 1]


def test_executions_counted_per_state_and_day_with_durations_and_labels(store: SqlStore) -> None:
    _run_with(store, minutes_ago=5, seconds=2, labels={"team": "sales"})
    _run_with(store, minutes_ago=6, seconds=4, labels={"team": "sales"})
    failed = _run_with(store, minutes_ago=7, seconds=6, state=State.FAILED, labels={"team": "sales"})
    _run_with(store, minutes_ago=8, seconds=1, labels={"team": "ops"})
    data = _data({"type": "io.kestra.plugin.core.dashboard.data.Executions",
                  "columns": {"state": {"field": "STATE"}, "n": {"agg": "COUNT"},
                              "longest": {"field": "DURATION", "agg": "MAX"}},
                  "orderBy": [{"column": "n", "order": "DESC"}]})
    ds = DashboardStore(store)
    found = ds.chart_rows(data, Scope(labels={"team": "sales"}))
    assert [(r["state"], r["n"]) for r in found.rows] == [("SUCCESS", 2), ("FAILED", 1)]
    assert found.rows[0]["longest"] == pytest.approx(4, abs=0.01)
    assert found.execution_counts == [2, 1] and found.execution_ids[1] == failed.id
    behind = ds.executions_behind(data, Scope(labels={"team": "sales"}), {"state": "SUCCESS"})
    assert len(behind) == 2 and {e["state"] for e in behind} == {"SUCCESS"}
    by_day = _data({"type": "executions", "columns": {"day": {"field": "START_DATE"}, "n": {"agg": "COUNT"}}})
    days = ds.chart_rows(by_day, Scope(namespace="shop"), bucket="day").rows
    assert sum(r["n"] for r in days) == 4 and all(len(r["day"]) == 10 for r in days)


def test_logs_counted_per_level_for_a_namespace(store: SqlStore) -> None:
    _run_with(store, minutes_ago=3, seconds=1, logs=[("INFO", "a"), ("ERROR", "a"), ("ERROR", "b")])
    _run_with(store, namespace="elsewhere", minutes_ago=3, seconds=1, logs=[("ERROR", "a")])
    data = _data({"type": "io.kestra.plugin.core.dashboard.data.Logs",
                  "columns": {"level": {"field": "LEVEL"}, "n": {"agg": "COUNT"}},
                  "where": [{"field": "LEVEL", "type": "IN", "values": ["ERROR", "WARN"]}]})
    found = DashboardStore(store).chart_rows(data, Scope(namespace="shop", since=NOW - timedelta(hours=1)))
    assert found.rows == [{"level": "ERROR", "n": 2}]


def test_definitions_are_created_replaced_listed_and_deleted(store: SqlStore) -> None:
    ds = DashboardStore(store)
    assert ds.save("sales", "Sales", "id: sales\ntitle: Sales\n", create=True) is not None
    assert ds.save("sales", "Sales", "id: sales\ntitle: Sales\n", create=True) is None  # exists
    assert ds.save("nope", "Nope", "id: nope\ntitle: Nope\n", create=False) is None  # does not exist
    replaced = ds.save("sales", "Sales 2", "# mine\nid: sales\ntitle: Sales 2\n", create=False)
    assert replaced is not None and replaced.source.startswith("# mine")
    assert [(d.id, d.title) for d in ds.all()] == [("sales", "Sales 2")]
    assert ds.delete("sales") and not ds.delete("sales") and ds.get("sales") is None
