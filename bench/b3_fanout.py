"""B3 fan-out: a ForEach over N values with a ``return`` inside, then a task reading all N outputs.

Each N runs in its own process (``--child``) so peak RSS belongs to that size.
Reports wall time, peak RSS, store size on disk, and the executor's cost per
step (time spent in ``Executor.on_result`` / results handled): flat from 1,000
to 10,000 iterations means no step rescans the execution's task runs. The
ForEach runs with its default concurrency (1, one iteration after another,
Kestra's default), so every iteration is one executor step. The floors are a
plain loop and a ThreadPoolExecutor doing the same returns, and plain SQLite
storing one row per iteration.

The loop thread's CPU time per task run is the whole cost of a light task: the
executor's bookkeeping, running the task, and its share of the commits (the
runner's loop does all three). The step cost is the CPU time of the executor thread (``thread_time``: time
spent waiting for the GIL or for a core taken by another process does not
count), as a trimmed mean (the slowest and fastest 10 % of steps dropped),
and the sizes run ``--repeat`` times, interleaved; the figure is the median
over the repeats. A single median of wall-clock steps swung between 0.9x and
2.2x from run to run on a shared machine.

    .venv/bin/python -m bench.b3_fanout [--sizes 1000,10000] [--repeat 3]
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

#: Every how many executor steps one is timed: reading a thread's CPU clock is a system call
#: (about 1 µs here), which would otherwise count twice in every task run's loop-thread CPU.
STEP_SAMPLE = 4


def child(n: int, script: bool = False, pool: str = "threads") -> dict:
    """Run the fan-out once in this process; return raw figures."""
    from engine.runtime import executor as executor_mod
    from engine.runtime.local import LocalRunner

    spent: list[float] = []
    calls = [0]
    original = executor_mod.Executor.on_result

    def on_result(self, *a, **kw):  # measure the executor's step, nothing else
        calls[0] += 1
        if calls[0] % STEP_SAMPLE:
            return original(self, *a, **kw)
        t = time.thread_time_ns()
        try:
            return original(self, *a, **kw)
        finally:
            spent.append((time.thread_time_ns() - t) / 1e9)

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
            runner.sync()
            idle_cpu = _loop_thread_cpu(runner)
            t = time.perf_counter()
            summary = runner.wait(runner.start_execution(flow.namespace, flow.id), timeout=3600)
            wall = time.perf_counter() - t
            runner.sync()
            busy_cpu = _loop_thread_cpu(runner) - idle_cpu
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
        "step_us": trimmed_mean(spent) * 1e6,
        "first_tenth_us": trimmed_mean(spent[: len(spent) // 10]) * 1e6,
        "last_tenth_us": trimmed_mean(spent[-(len(spent) // 10):]) * 1e6,
        "steps": len(spent),  # steps timed (one in STEP_SAMPLE)
        "loop_cpu_us": busy_cpu / n * 1e6,
    }


def _loop_thread_cpu(runner) -> float:
    """CPU seconds the runner's loop thread has used so far: every task run's bookkeeping, light task and commit."""
    return time.clock_gettime(time.pthread_getcpuclockid(runner._thread.ident))


def trimmed_mean(values: list[float], cut: float = 0.1) -> float:
    """Mean without the lowest and highest ``cut`` of the values (timer ticks, page faults, preemption)."""
    data = sorted(values)
    k = int(len(data) * cut)
    kept = data[k : len(data) - k] or data
    return statistics.fmean(kept)


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
    parser.add_argument("--repeat", type=int, default=1, help="runs of every size, interleaved (figures: medians)")
    parser.add_argument("--flat-limit", type=float, default=1.3, help="largest executor step growth that counts as flat")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.script, args.pool)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    runs: dict[int, list[dict]] = {n: [] for n in sizes}
    for _ in range(max(1, args.repeat)):
        for n in sizes:
            r = run_child(n, timeout=1800)
            if r["state"] != "SUCCESS" or r["read_back"] != n:
                raise SystemExit(f"B3 {n}: execution ended {r['state']} and read back {r['read_back']}")
            runs[n].append(r)
    steps: dict[int, float] = {}
    per_task: dict[int, float] = {}
    for n in sizes:
        r = {k: statistics.median(x[k] for x in runs[n]) if isinstance(runs[n][0][k], (int, float)) else runs[n][0][k]
             for k in runs[n][0]}
        f = floors(n)
        floor = f["loop"] + f["sqlite"]
        wall_target, rss_target = (15, 400) if n >= 100_000 else (10, 500) if n >= 10_000 else (None, None)
        emit("B3", f"ForEach {n}: wall", r["wall_s"], "s", floor=floor,
             target=f"< {wall_target}" if wall_target else None, ok=(r["wall_s"] < wall_target) if wall_target else None,
             runs=[round(x["wall_s"], 3) for x in runs[n]],
             note=f"floor: loop {f['loop'] * 1000:.1f} ms + sqlite {f['sqlite'] * 1000:.1f} ms; ThreadPoolExecutor {f['threads'] * 1000:.0f} ms")
        emit("B3", f"ForEach {n}: per task run", r["wall_s"] / n * 1000, "ms", floor=floor / n * 1000)
        emit("B3", f"ForEach {n}: loop thread CPU per task run", r["loop_cpu_us"], "us",
             target="< 60" if n == 1000 else None, ok=r["loop_cpu_us"] < 60 if n == 1000 else None,
             runs=[round(x["loop_cpu_us"], 1) for x in runs[n]],
             note="CPU time of the runner's loop thread (executor, light task, commit) over the run, per task run")
        emit("B3", f"ForEach {n}: peak RSS", r["rss_mb"], "MB", target=f"< {rss_target}" if rss_target else None,
             ok=(r["rss_mb"] < rss_target) if rss_target else None)
        emit("B3", f"ForEach {n}: store on disk", r["store_mb"], "MB", task_runs=r["task_runs"])
        emit("B3", f"ForEach {n}: executor step (trimmed mean CPU)", r["step_us"], "us", steps=r["steps"],
             runs=[round(x["step_us"], 1) for x in runs[n]],
             note=f"first tenth {r['first_tenth_us']:.0f} us, last tenth {r['last_tenth_us']:.0f} us")
        steps[n] = r["step_us"]
        per_task[n] = r["wall_s"] / n
    if len(steps) >= 2:
        lo = min(steps)
        for hi in sorted(steps)[1:]:
            growth = steps[hi] / steps[lo]
            emit("B3", f"executor step {hi} vs {lo}", growth, "x", target=f"< {args.flat_limit:g} (no O(n^2))", ok=growth < args.flat_limit,
                 note=f"{steps[lo]:.1f} us at {lo}, {steps[hi]:.1f} us at {hi}; CPU time, trimmed means, median of {args.repeat}")
            flat = per_task[hi] / per_task[lo]
            emit("B3", f"per task run {hi} vs {lo}", flat, "x", target="< 1.3" if hi >= 100_000 else None,
                 ok=flat < 1.3 if hi >= 100_000 else None, note="wall time per task run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
