"""B12: how fast a custom dashboard charting a flow output draws, over 30 and over 1,000 executions.

Writes the executions of two flows (30 and 1,000 runs, each with a task whose
``outputs.sum.values.total`` differs per run) into a fresh store the way the
runner writes them, starts the real ``lanner server local`` (UI included) on that
home, creates one dashboard per flow through the REST API, then opens
``/ui/dashboard?id=..`` in headless Debian chromium and times from the
navigation's start to the first frame in which every point is painted (the same
probe as tests/browser/test_dashboards.py). "warm": the browser came from
another Lanner page, drawn (its HTTP cache holds the scripts); "cold": a new
browser profile. Besides the medians, the page's own timeline (median): its
HTML received, Bokeh's script run, the charts embedded. Prints one JSON line
per size, then readable lines.

    .venv/bin/python -m bench.b12_dashboard [--sizes 30,1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import emit, unavailable
from bench.server import Server

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
DRAWN = """([prefix, count]) => {
  if (!window.Bokeh || !Bokeh.index) { return false; }
  const views = [...Bokeh.index.all_views()].filter(v => v.model && v.model.name && v.model.name.startsWith(prefix));
  const points = views.reduce((n, v) => n + v.model.data_source.data.y.length, 0);
  if (!views.length || points !== count || !views.every(v => v.has_finished() && v.parent.has_finished())) {
    return false;
  }
  window.__lnDrawnAt = window.__lnDrawnAt || performance.now();
  return true;
}"""


def dashboard(flow_id: str) -> str:
    return (f"id: {flow_id}\ntitle: {flow_id}\ntimeWindow: {{default: P30D}}\ncharts:\n  - id: per_run\n"
            "    type: io.kestra.plugin.core.dashboard.chart.TimeSeries\n"
            "    chartOptions: {displayName: Total per run, column: date}\n    data:\n"
            "      type: io.lanner.dashboard.data.FlowOutputs\n      columns:\n        date: {field: START_DATE}\n"
            "        total: {field: outputs.sum.values.total, agg: SUM}\n"
            f"      where:\n        - {{field: FLOW_ID, type: EQUAL_TO, value: {flow_id}}}\n")


def write_runs(home: Path, flow_id: str, n: int) -> None:
    """``n`` ended executions of ``flow_id``, one a minute up to now, as the runner stores them."""
    from engine.model.execution import Attempt, Execution, TaskRun
    from engine.model.ids import new_id
    from engine.model.state import State
    from engine.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{home / 'lanner.db'}")
    now = datetime.now(UTC)
    executions, runs = [], []
    for i in range(n):
        start = (now - timedelta(minutes=n - i)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        ex = Execution(id=new_id(), namespace="bench.dash", flow_id=flow_id, flow_revision=1, state=State.SUCCESS,
                       start_date=start, end_date=start)
        executions.append(ex)
        runs.append(TaskRun(id=new_id(), execution_id=ex.id, task_id="sum", parent_task_run_id=None, value=None,
                            iteration=None, state=State.SUCCESS, seq=0, attempts=[Attempt(State.SUCCESS, start, start)],
                            outputs={"values": {"total": round(100 + 3.5 * i - (i % 7), 2)}}, start_date=start,
                            end_date=start))
    store.write_batch(new_executions=executions, new_runs=runs)
    store.close()


#: The page's timeline in ms from the navigation's start: HTML received, Bokeh loaded, charts embedded, drawn;
#: ``server``: how long the server took to make the page (its Server-Timing).
TIMELINE = """() => {
  const mark = name => (performance.getEntriesByName(name)[0] || {startTime: NaN}).startTime;
  const nav = performance.getEntriesByType("navigation")[0];
  const made = (nav.serverTiming || []).find(t => t.name === "page");
  return {server: made ? made.duration : NaN, html: nav.responseEnd, script: mark("ln-script"),
          embedded: mark("ln-embedded"), drawn: window.__lnDrawnAt};
}"""


def measure(browser: object, base: str, flow_id: str, n: int, warm: bool) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    if warm:  # as a user who opens it from the list: that page drawn, then a click
        page.goto(f"{base}/ui/dashboards")
        page.locator(".ln-dashboard-list").first.wait_for()
    page.goto(f"{base}/ui/dashboard?id={flow_id}")
    page.wait_for_function(DRAWN, arg=["ln-points-per_run", n], polling="raf", timeout=120_000)
    timeline = {k: float(v) for k, v in page.evaluate(TIMELINE).items()}
    context.close()
    return timeline


def median(runs: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("B12", "chromium is not installed (make browser-deps)")
        return 0
    import httpx
    from playwright.sync_api import sync_playwright

    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="lanner-b12-"))
    (root / "flows").mkdir()
    (root / "home").mkdir()
    for n in sizes:
        write_runs(root / "home", f"kpi_{n}", n)
    results = []
    try:
        with Server(root / "home", root / "flows", ui=True) as server:
            base = server.url
            client = httpx.Client(base_url=base, timeout=60)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                for n in sizes:
                    r = client.post("/api/v1/dashboards", content=dashboard(f"kpi_{n}"),
                                    headers={"Content-Type": "application/x-yaml"})
                    r.raise_for_status()
                    t0 = time.perf_counter()
                    data = client.post(f"/api/v1/dashboards/kpi_{n}/charts/per_run", json={}).json()
                    query_ms = (time.perf_counter() - t0) * 1000
                    assert len(data["rows"]) == n, f"the chart has {len(data['rows'])} rows, not {n}"
                    warm = [measure(browser, base, f"kpi_{n}", n, warm=True) for _ in range(args.repeat)]
                    cold = [measure(browser, base, f"kpi_{n}", n, warm=False) for _ in range(args.repeat)]
                    results.append({"bench": "b12_dashboard", "executions": n, "warm_ms": median(warm, "drawn"),
                                    "warm_max_ms": round(max(r["drawn"] for r in warm), 1),
                                    "cold_ms": median(cold, "drawn"), "query_ms": round(query_ms, 1),
                                    "warm_server_ms": median(warm, "server"), "warm_html_ms": median(warm, "html"),
                                    "warm_script_ms": median(warm, "script"),
                                    "warm_embedded_ms": median(warm, "embedded"), "repeat": args.repeat})
                browser.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for r in results:
        print(json.dumps(r))
        n = r["executions"]
        emit("B12", f"dashboard, flow output over {n} runs: navigation -> points painted (warm)", r["warm_ms"], "ms",
             target=1000 if n == 30 else None)
        emit("B12", f"dashboard, flow output over {n} runs: same, new browser profile (cold)", r["cold_ms"], "ms")
        emit("B12", f"dashboard, flow output over {n} runs: chart query over REST", r["query_ms"], "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
