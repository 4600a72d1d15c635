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
runner's loop does all three); its growth from the smallest size to the largest
(separate runs, medians of ``--repeat``) is the "flat per task" figure. The step
cost is the CPU time of the executor thread (``thread_time``: time spent waiting
for the GIL or for a core taken by another process does not count), as a
trimmed mean (the slowest and fastest 10 % of steps dropped).

A 1,000-task execution lasts a tenth of a second, so its figure swung by 15 % between
processes: at sizes up to 1,000 each process runs the fan-out again (a new execution of
the same flow) after the first, and the median over all those executions, every state change
committed, is the light-task figure ("light task loop CPU per task run", the < 60 us target).
The first execution's figure, with what a process pays once per task type, stays beside it.

Whether a step costs more in a larger execution is measured side by side: a
ForEach of the larger size and one of the smallest run at the same time in one
process (``--pair``), and the steps of each are timed while both run, so both
sides see the same load (a ratio of separate runs swung between 0.9x and 2.2x on
a shared machine). ``make bench-quick`` gates that ratio.

    .venv/bin/python -m bench.b3_fanout [--sizes 1000,10000] [--repeat 3]
    .venv/bin/python -m bench.b3_fanout --child 5000 --pair 1000   # one side-by-side run
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

#: Executions of the fan-out after the first in each process, at sizes up to WARM_MAX: a 1,000-task
#: run lasts a tenth of a second, so one execution's figure swung by 15 % between processes; the
#: median of many is the light-task figure.
WARM_RUNS = 8
WARM_MAX = 1000


def child(n: int, script: bool = False, pool: str = "threads", runs: int = 1) -> dict:
    """Run the fan-out ``runs`` times in this process (each a new execution); return raw figures.

    The first execution's figures are the fresh-process ones (they include what a task type
    costs once per process: building its validators, compiling its templates). The later
    executions of the same flow measure the steady per-task cost: every state change still
    committed to SQLite, only the once-per-process work done; their loop-thread CPU per task
    run comes back as ``warm_loop_cpu_us`` (one figure per execution)."""
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
            process_cpu = time.process_time()
            t = time.perf_counter()
            summary = runner.wait(runner.start_execution(flow.namespace, flow.id), timeout=3600)
            wall = time.perf_counter() - t
            runner.sync()
            busy_cpu = _loop_thread_cpu(runner) - idle_cpu
            process_cpu = time.process_time() - process_cpu
            size = dir_size_mb(Path(home))  # the first execution's store and peak memory
            rss = peak_rss_mb()
            executor_mod.Executor.on_result = original  # the steps of the first execution only
            warm: list[float] = []
            for _ in range(runs - 1):
                before = _loop_thread_cpu(runner)
                again = runner.wait(runner.start_execution(flow.namespace, flow.id), timeout=3600)
                runner.sync()
                if again["state"] != "SUCCESS":
                    raise RuntimeError(f"execution {len(warm) + 2} of the fan-out ended {again['state']}")
                warm.append((_loop_thread_cpu(runner) - before) / n * 1e6)
        if cluster is not None:
            cluster.close()
    reader = next(tr for tr in summary["taskRuns"] if tr["taskId"] == "all")
    return {
        "n": n,
        "state": summary["state"],
        "task_runs": len(summary["taskRuns"]),
        "read_back": reader["outputs"].get("value"),
        "wall_s": wall,
        "rss_mb": rss,
        "store_mb": size,
        "step_us": trimmed_mean(spent) * 1e6,
        "first_tenth_us": trimmed_mean(spent[: len(spent) // 10]) * 1e6,
        "last_tenth_us": trimmed_mean(spent[-(len(spent) // 10):]) * 1e6,
        "steps": len(spent),  # steps timed (one in STEP_SAMPLE)
        "loop_cpu_us": busy_cpu / n * 1e6,
        "cpu_us": process_cpu / n * 1e6,  # every thread of the process
        "warm_loop_cpu_us": warm,
    }


def pair_child(big: int, small: int) -> dict:
    """The executor's step cost in an execution of ``big`` task runs against one of ``small``, interleaved.

    Both ForEach executions run in one runner at the same time: the small one starts when
    the big one has ``big - 1.5 * small`` task runs, and from then on the loop alternates
    between their steps. Each step's CPU time (``thread_time``) is put down to its
    execution, so the two costs are measured in the same process, under the same load,
    microseconds apart: their ratio says how a step's cost grows with the execution's size,
    and not how busy the machine was when each size ran (separate runs swung from 0.9x to
    2.2x). The figures are trimmed means of the steps taken while both ran.
    """
    import threading

    from engine.runtime import executor as executor_mod
    from engine.runtime.local import LocalRunner

    steps: dict[str, list[float]] = {}
    done: dict[str, int] = {}
    small_id: list[str] = []
    start_small = threading.Event()
    threshold = big - int(1.5 * small)
    original = executor_mod.Executor.on_result

    def on_result(self, st, *a, **kw):  # measure each step, by execution
        ex_id = st.execution.id
        t = time.thread_time_ns()
        try:
            return original(self, st, *a, **kw)
        finally:
            spent = time.thread_time_ns() - t
            count = done[ex_id] = done.get(ex_id, 0) + 1
            if small_id and done.get(small_id[0], 0) < small:
                steps.setdefault(ex_id, []).append(spent / 1e9)  # only while both run
            elif count >= threshold:
                start_small.set()

    executor_mod.Executor.on_result = on_result
    with tempfile.TemporaryDirectory() as home, LocalRunner(home) as runner:
        big_flow = runner.deploy(foreach_flow(big))
        small_flow = runner.deploy(foreach_flow(small))
        runner.sync()
        big_id = runner.start_execution(big_flow.namespace, big_flow.id)
        if not start_small.wait(3600):
            raise RuntimeError(f"the ForEach over {big} did not reach {threshold} task runs")
        small_id.append(runner.start_execution(small_flow.namespace, small_flow.id))
        states = [runner.wait(i, timeout=3600)["state"] for i in (big_id, small_id[0])]
    big_steps, small_steps = steps.get(big_id, []), steps.get(small_id[0], [])
    return {
        "states": states,
        "big_us": trimmed_mean(big_steps) * 1e6,
        "small_us": trimmed_mean(small_steps) * 1e6,
        "big_steps": len(big_steps),
        "small_steps": len(small_steps),
        "big_from": threshold,
    }


def _loop_thread_cpu(runner) -> float:
    """CPU seconds the runner's loop thread has used so far: every task run's bookkeeping, light task and commit."""
    return time.clock_gettime(time.pthread_getcpuclockid(runner._thread.ident))


def trimmed_min(values: list[float], cut: float = 0.1) -> float:
    """The smallest value once the lowest ``cut`` are dropped."""
    data = sorted(values)
    return data[min(len(data) - 1, int(len(data) * cut))]


def trimmed_max(values: list[float], cut: float = 0.1) -> float:
    """The largest value once the highest ``cut`` are dropped."""
    data = sorted(values)
    return data[max(0, len(data) - 1 - int(len(data) * cut))]


def trimmed_mean(values: list[float], cut: float = 0.1) -> float:
    """Mean without the lowest and highest ``cut`` of the values (timer ticks, page faults, preemption)."""
    data = sorted(values)
    k = int(len(data) * cut)
    kept = data[k : len(data) - k] or data
    return statistics.fmean(kept)


def _runs(n: int, asked: int | None) -> int:
    """Executions per process for a fan-out of ``n``: as asked, else several for a small one."""
    return asked if asked else (WARM_RUNS + 1 if n <= WARM_MAX else 1)


def run_child(n: int, *, script: bool = False, pool: str = "threads", timeout: float = 900, pair: int = 0, runs: int = 1) -> dict:
    cmd = [sys.executable, "-m", "bench.b3_fanout", "--child", str(n), "--pool", pool, "--runs", str(runs)] + (["--script"] if script else [])
    if pair:
        cmd += ["--pair", str(pair)]
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
    parser.add_argument("--pair", type=int, default=0, help="with --child: the size of the small ForEach run beside it")
    parser.add_argument("--runs", type=int, default=None,
                        help=f"executions of the fan-out per process (default {WARM_RUNS + 1} up to {WARM_MAX:,} tasks, "
                             "1 above; the first one cold)")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(pair_child(args.child, args.pair) if args.pair else child(args.child, args.script, args.pool, _runs(args.child, args.runs))))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    runs: dict[int, list[dict]] = {n: [] for n in sizes}
    for _ in range(max(1, args.repeat)):
        for n in sizes:
            r = run_child(n, timeout=1800, runs=_runs(n, args.runs))
            if r["state"] != "SUCCESS" or r["read_back"] != n:
                raise SystemExit(f"B3 {n}: execution ended {r['state']} and read back {r['read_back']}")
            runs[n].append(r)
    steps: dict[int, float] = {}
    per_task: dict[int, float] = {}
    loop_cpu: dict[int, float] = {}
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
             runs=[round(x["loop_cpu_us"], 1) for x in runs[n]],
             note="CPU time of the runner's loop thread (executor, light task, commit) over the run, per task run; "
                  "the first execution in a fresh process (once-per-process work included)")
        warm = [w for x in runs[n] for w in x["warm_loop_cpu_us"]]
        if warm:
            light = statistics.median(warm)
            emit("B3", f"ForEach {n}: light task loop CPU per task run", light, "us",
                 target="< 60" if n == 1000 else None, ok=light < 60 if n == 1000 else None,
                 samples=len(warm), spread=f"{trimmed_min(warm):.1f}-{trimmed_max(warm):.1f}",
                 note=f"median of {len(warm)} executions of the fan-out ({len(runs[n])} processes, each after its first "
                      "execution): the loop thread's CPU per task run with every state change committed, "
                      "without what a process pays once per task type")
        emit("B3", f"ForEach {n}: process CPU per task run", r["cpu_us"], "us", runs=[round(x["cpu_us"], 1) for x in runs[n]],
             note="user + system CPU time of every thread of the process over the run, per task run")
        emit("B3", f"ForEach {n}: peak RSS", r["rss_mb"], "MB", target=f"< {rss_target}" if rss_target else None,
             ok=(r["rss_mb"] < rss_target) if rss_target else None)
        emit("B3", f"ForEach {n}: store on disk", r["store_mb"], "MB", task_runs=r["task_runs"])
        emit("B3", f"ForEach {n}: executor step (trimmed mean CPU)", r["step_us"], "us", steps=r["steps"],
             runs=[round(x["step_us"], 1) for x in runs[n]],
             note=f"first tenth {r['first_tenth_us']:.0f} us, last tenth {r['last_tenth_us']:.0f} us")
        steps[n] = r["step_us"]
        per_task[n] = r["wall_s"] / n
        loop_cpu[n] = r["loop_cpu_us"]
    if len(steps) >= 2:
        lo = min(steps)
        for hi in sorted(steps)[1:]:
            if hi <= 10_000:
                _pair_figures(hi, lo, args.repeat, args.flat_limit)
            flat = loop_cpu[hi] / loop_cpu[lo]
            emit("B3", f"loop thread CPU per task run {hi} vs {lo}", flat, "x", target="< 1.3" if hi >= 100_000 else None,
                 ok=flat < 1.3 if hi >= 100_000 else None,
                 note=f"{loop_cpu[lo]:.1f} us at {lo}, {loop_cpu[hi]:.1f} us at {hi}; separate runs, medians of {args.repeat}; "
                      f"wall time per task run {per_task[hi] / per_task[lo]:.2f}x")
    return 0


def _pair_figures(big: int, small: int, repeat: int, flat_limit: float) -> None:
    """The executor step in an execution of ``big`` task runs against one of ``small``, measured side by side
    in one process (see :func:`pair_child`); the median of ``repeat`` runs."""
    runs = []
    for _ in range(max(1, repeat)):
        r = run_child(big, pair=small, timeout=1800)
        if r["states"] != ["SUCCESS", "SUCCESS"]:
            raise SystemExit(f"B3 pair {big}/{small}: executions ended {r['states']}")
        runs.append(r)
    ratios = [r["big_us"] / r["small_us"] for r in runs]
    growth = statistics.median(ratios)
    mid = sorted(runs, key=lambda r: r["big_us"] / r["small_us"])[len(runs) // 2]
    emit("B3", f"executor step {big} vs {small}", growth, "x", target=f"< {flat_limit:g} (no O(n^2))", ok=growth < flat_limit,
         runs=[round(x, 3) for x in ratios],
         note=f"{mid['big_us']:.1f} us in the execution with {mid['big_from']:,}+ task runs, {mid['small_us']:.1f} us in the one "
              f"with up to {small:,}, run side by side in one process ({mid['big_steps']} and {mid['small_steps']} steps); "
              f"CPU time, trimmed means, median of {len(runs)}")


if __name__ == "__main__":
    sys.exit(main())
