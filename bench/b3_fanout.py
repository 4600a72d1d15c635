"""B3 fan-out: a ForEach over N values with a ``return`` inside, then a task reading all N outputs.

Each N runs in its own process (``--child``) so peak RSS belongs to that size.
Reports wall time, peak RSS, store size on disk, and the executor's cost per
step (time spent in ``Executor.on_result`` / results handled): flat from 1,000
to 10,000 iterations means no step rescans the execution's task runs. The
ForEach runs with its default concurrency (1, one iteration after another,
Kestra's default), so every iteration is one executor step. The floors are a
plain loop and a ThreadPoolExecutor doing the same returns, and plain SQLite
storing one row per iteration.

    .venv/bin/python -m bench.b3_fanout [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import REPO, dir_size_mb, emit, foreach_flow, peak_rss_mb, sqlite_floor_db


def child(n: int, script: bool = False, pool: str = "threads") -> dict:
    """Run the fan-out once in this process; return raw figures."""
    from engine.runtime import executor as executor_mod
    from engine.runtime.local import LocalRunner

    spent: list[float] = []
    original = executor_mod.Executor.on_result

    def on_result(self, *a, **kw):  # measure the executor's step, nothing else
        t = time.perf_counter()
        try:
            return original(self, *a, **kw)
        finally:
            spent.append(time.perf_counter() - t)

    executor_mod.Executor.on_result = on_result
    with tempfile.TemporaryDirectory() as home:
        pool_obj = None
        cluster = None
        if pool == "dask":
            from distributed import Client, LocalCluster

            from engine.runtime.dask_pool import DaskWorkerPool

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            pool_obj = DaskWorkerPool(Client(cluster, set_as_default=False))
        with LocalRunner(home, pool=pool_obj, workers=None if not script else 4) as runner:
            flow = runner.deploy(foreach_flow(n, script=script, concurrency=0 if script else None))
            t = time.perf_counter()
            summary = runner.wait(runner.start_execution(flow.namespace, flow.id), timeout=3600)
            wall = time.perf_counter() - t
            runner.sync()
            size = dir_size_mb(Path(home))
        if cluster is not None:
            cluster.close()
    reader = next(tr for tr in summary["taskRuns"] if tr["taskId"] == "all")
    return {
        "n": n,
        "state": summary["state"],
        "task_runs": len(summary["taskRuns"]),
        "read_back": reader["outputs"].get("value"),
        "wall_s": wall,
        "rss_mb": peak_rss_mb(),
        "store_mb": size,
        # Medians: a mean would mostly measure GIL hand-overs and other processes.
        "step_us": statistics.median(spent) * 1e6,
        "first_tenth_us": statistics.median(spent[: len(spent) // 10]) * 1e6,
        "last_tenth_us": statistics.median(spent[-(len(spent) // 10):]) * 1e6,
        "steps": len(spent),
    }


def run_child(n: int, *, script: bool = False, pool: str = "threads", timeout: float = 900) -> dict:
    cmd = [sys.executable, "-m", "bench.b3_fanout", "--child", str(n), "--pool", pool] + (["--script"] if script else [])
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode != 0:
        raise RuntimeError(f"B3 child for {n} failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def floors(n: int) -> dict[str, float]:
    values = [str(i) for i in range(n)]
    t = time.perf_counter()
    outputs = {v: {"value": v} for v in values}
    assert len(outputs) == n
    loop = time.perf_counter() - t
    t = time.perf_counter()
    with ThreadPoolExecutor(4) as ex:
        results = dict(zip(values, ex.map(lambda v: {"value": v}, values), strict=True))
    assert len(results) == n
    threads = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        conn = sqlite_floor_db(Path(d) / "f.db")
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO tr VALUES (?, ?, ?, ?)", [(os.urandom(11).hex(), "x", "SUCCESS", json.dumps({"value": v})) for v in values])
        conn.execute("COMMIT")
        store = time.perf_counter() - t
        conn.close()
    return {"loop": loop, "threads": threads, "sqlite": store}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B3 fan-out")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--child", type=int, default=0)
    parser.add_argument("--script", action="store_true")
    parser.add_argument("--pool", default="threads")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.script, args.pool)))
        return 0
    steps: dict[int, float] = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        r = run_child(n)
        if r["state"] != "SUCCESS" or r["read_back"] != n:
            raise SystemExit(f"B3 {n}: execution ended {r['state']} and read back {r['read_back']}")
        f = floors(n)
        floor = f["loop"] + f["sqlite"]
        target = "< 10" if n >= 10000 else None
        emit("B3", f"ForEach {n}: wall", r["wall_s"], "s", floor=floor, target=target, ok=(r["wall_s"] < 10) if target else None,
             note=f"floor: loop {f['loop'] * 1000:.1f} ms + sqlite {f['sqlite'] * 1000:.1f} ms; ThreadPoolExecutor {f['threads'] * 1000:.0f} ms")
        emit("B3", f"ForEach {n}: per task run", r["wall_s"] / n * 1000, "ms", floor=floor / n * 1000)
        emit("B3", f"ForEach {n}: peak RSS", r["rss_mb"], "MB", target="< 500" if n >= 10000 else None,
             ok=(r["rss_mb"] < 500) if n >= 10000 else None)
        emit("B3", f"ForEach {n}: store on disk", r["store_mb"], "MB", task_runs=r["task_runs"])
        emit("B3", f"ForEach {n}: executor step (median)", r["step_us"], "us", steps=r["steps"],
             note=f"first tenth {r['first_tenth_us']:.0f} us, last tenth {r['last_tenth_us']:.0f} us")
        steps[n] = r["step_us"]
    if len(steps) >= 2:
        lo, hi = min(steps), max(steps)
        growth = steps[hi] / steps[lo]
        emit("B3", f"executor step {hi} vs {lo}", growth, "x", target="~1 (no O(n^2))", ok=growth < 2.0,
             note=f"{steps[lo]:.0f} us at {lo}, {steps[hi]:.0f} us at {hi}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
