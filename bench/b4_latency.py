"""B4 latency: with ``lanner server local`` running, how soon work starts.

For N executions of the 3-log-task flow started by ``POST /api/v1/executions``
and N started by its webhook: the time from the client sending the request to
the first task's start, and from one task's end to the next task's start (from
the stored task run dates; client and server share the clock). p50 and p99.
The floor is the HTTP round trip of ``GET /health`` on the same server: what
any request costs before an orchestrator does anything.

    .venv/bin/python -m bench.b4_latency [--n 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from bench.common import FLOW3, emit, percentile
from bench.server import Server

KEY = "bench-webhook-key-0123456789"
FLOW = FLOW3.replace("id: hello3", "id: latency") + f"triggers:\n  - id: hook\n    type: webhook\n    key: {KEY}\n    wait: true\n"
# Tasks that go through the worker pool (not run inline like log/return): a zero sleep.
POOL_FLOW = "id: latency_pool\nnamespace: bench\ntasks:\n" + "".join(f"  - id: s{i}\n    type: sleep\n    duration: PT0S\n" for i in range(3))


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _gaps(summary: dict, sent: float) -> tuple[float, list[float]]:
    runs = sorted(summary["taskRuns"], key=lambda r: r["startDate"])
    first = _ts(runs[0]["startDate"]) - sent
    nexts = [_ts(b["startDate"]) - _ts(a["endDate"]) for a, b in zip(runs, runs[1:], strict=False)]
    return first, nexts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B4 latency")
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        home, flows = Path(d) / "home", Path(d) / "flows"
        home.mkdir()
        flows.mkdir()
        (flows / "latency.yaml").write_text(FLOW)
        (flows / "latency_pool.yaml").write_text(POOL_FLOW)
        with Server(home, flows) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
            api_url = "/api/v1/executions/bench/latency?wait=true"
            hook_url = f"/api/v1/executions/webhook/bench/latency/{KEY}"
            for _ in range(20):  # warm-up
                client.post(api_url).raise_for_status()
                client.post(hook_url).raise_for_status()
            health = []
            for _ in range(200):
                t = time.perf_counter()
                client.get("/health").raise_for_status()
                health.append(time.perf_counter() - t)
            results: dict[str, tuple[list[float], list[float]]] = {}
            for kind, url in (("POST", api_url), ("webhook", hook_url), ("pool", "/api/v1/executions/bench/latency_pool?wait=true")):
                firsts, nexts = [], []
                for _ in range(args.n):
                    sent = time.time()
                    r = client.post(url)
                    r.raise_for_status()
                    summary = r.json()
                    if summary.get("state") != "SUCCESS":
                        summary = client.get(f"/api/v1/executions/{summary['id']}").json()
                    first, gaps = _gaps(summary, sent)
                    firsts.append(first)
                    nexts.extend(gaps)
                results[kind] = (firsts, nexts)
    floor = percentile(health, 50) * 1000
    pool_nexts = results.pop("pool")[1]
    for kind, (firsts, _) in results.items():
        p50, p99 = percentile(firsts, 50) * 1000, percentile(firsts, 99) * 1000
        emit("B4", f"{kind} -> first task start p50", p50, "ms", floor=floor, target="< 50", ok=p50 < 50, n=len(firsts))
        emit("B4", f"{kind} -> first task start p99", p99, "ms", floor=percentile(health, 99) * 1000)
    nexts = results["POST"][1] + results["webhook"][1]
    p50 = percentile(nexts, 50) * 1000
    emit("B4", "task end -> next task start p50", p50, "ms", target="< 10", ok=p50 < 10, n=len(nexts))
    emit("B4", "task end -> next task start p99", percentile(nexts, 99) * 1000, "ms")
    p50 = percentile(pool_nexts, 50) * 1000
    emit("B4", "pool task end -> next task start p50", p50, "ms", target="< 10", ok=p50 < 10, n=len(pool_nexts),
         note="sleep PT0S tasks, dispatched to the worker pool")
    emit("B4", "pool task end -> next task start p99", percentile(pool_nexts, 99) * 1000, "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
