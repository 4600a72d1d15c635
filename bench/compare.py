"""Before/after: the issue-20 figures for two checkouts of Lanner, measured interleaved on one machine.

Each checkout needs its own environment (``make install`` in it: ``.venv/bin/lanner``).
Every repetition measures the *before* checkout and then the *after* one, figure
by figure, so a change of load on a shared machine hits both sides alike; the
figures are medians, printed with the load average before and after the run.
The light-task figures run this checkout's B3 child code against each
checkout's engine, so both sides are measured the same way.

    .venv/bin/python -m bench.compare --before ../lanner-main [--after .] [--repeat 5] [--heavy-repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.b1_cold_start import server_ready
from bench.b8_python_tasks import WORKERS, floor
from bench.common import FLOW3, REPO, compile_sources, foreach_flow, load_average, machine, median


def _lanner(tree: Path) -> str:
    return str(tree / ".venv" / "bin" / "lanner")


def _python(tree: Path) -> str:
    return str(tree / ".venv" / "bin" / "python")


def _timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"compare: {' '.join(cmd[:4])} exited {os.waitstatus_to_exitcode(status)}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024, "out": out}


def cold_run(tree: Path, work: Path, i: int) -> dict[str, float]:
    env = {**os.environ, "LANNER_HOME": str(work / f"cold-{tree.name}-{i}")}
    r = _timed([_lanner(tree), "flow", "run", str(work / "hello3.yaml"), "--json"], env)
    return {"wall": r["wall"], "cpu": r["cpu"], "rss": r["rss"]}


def ready(tree: Path, work: Path, i: int) -> dict[str, float]:
    saved = sys.executable
    sys.executable = _python(tree)  # server_ready starts the lanner next to sys.executable
    try:
        wall, cpu = server_ready(work / f"server-{tree.name}-{i}", work / "flows")
    finally:
        sys.executable = saved
    return {"wall": wall, "cpu": cpu}


def python_tasks(tree: Path, work: Path, i: int) -> dict[str, float]:
    env = {**os.environ, "LANNER_HOME": str(work / f"py-{tree.name}-{i}")}
    r = _timed([_lanner(tree), "flow", "run", str(work / "python_tasks.yaml"), "--json"], env)
    summary = json.loads(r["out"])
    if summary["state"] != "SUCCESS":
        raise SystemExit(f"compare: the python tasks ended {summary['state']} in {tree}")
    return {"wall": r["wall"], "cpu": r["cpu"]}


def light(tree: Path, work: Path, n: int) -> dict[str, float]:
    """B3's child (this checkout's code) against ``tree``'s engine: wall and loop-thread CPU per task run, executor step CPU."""
    env = {**os.environ, "PYTHONPATH": str(work / "benchcode")}
    r = _timed([_python(tree), "-m", "bench.b3_fanout", "--child", str(n)], env, cwd=work)
    child = json.loads(r["out"].decode().strip().splitlines()[-1])
    if child["state"] != "SUCCESS":
        raise SystemExit(f"compare: ForEach {n} ended {child['state']} in {tree}")
    out = {"per_task_us": child["wall_s"] / n * 1e6, "loop_cpu_us": child["loop_cpu_us"], "step_us": child["step_us"],
           "rss": child["rss_mb"]}
    if child.get("warm_loop_cpu_us"):  # the executions after the first in that process: B3's light-task figure
        out["light_us"] = median(child["warm_loop_cpu_us"])
    return out


def floor_interpreters(n: int) -> dict[str, float]:
    wall, cpu = floor(n)
    return {"wall": wall, "cpu": cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="issue-20 figures, before and after, interleaved")
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=REPO)
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of the light figures")
    parser.add_argument("--heavy-repeat", type=int, default=3, help="repetitions of the 1,000 python tasks and their floor")
    parser.add_argument("--n", type=int, default=1000, help="python tasks")
    parser.add_argument("--light-sizes", default="1000,10000", help="ForEach sizes of the light-task figures")
    parser.add_argument("--big", type=int, default=0, help="also one ForEach of this size per side (e.g. 100000)")
    parser.add_argument("--out", type=Path, default=None, help="write the raw figures as JSON")
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    for tree in trees.values():
        compile_sources(tree)
    info = {**machine(), "load_before": load_average()}
    raw: dict[str, dict[str, list[dict[str, float]]]] = {}

    def add(figure: str, side: str, value: dict[str, float]) -> None:
        raw.setdefault(figure, {}).setdefault(side, []).append(value)
        print(json.dumps({"figure": figure, "side": side, **{k: round(v, 4) for k, v in value.items()}}), flush=True)

    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        (work / "hello3.yaml").write_text(FLOW3)
        (work / "python_tasks.yaml").write_text(foreach_flow(args.n, script=True, concurrency=0))
        (work / "flows").mkdir()
        shutil.copytree(REPO / "bench", work / "benchcode" / "bench", ignore=shutil.ignore_patterns("results", "__pycache__"))
        sizes = [int(s) for s in args.light_sizes.split(",") if s]
        steps: list[tuple[str, Callable[[str, Path, int], dict[str, float]], int]] = [
            ("cold flow run", lambda s, t, i: cold_run(t, work, i), args.repeat),
            ("server ready", lambda s, t, i: ready(t, work, i), args.repeat),
            *[(f"ForEach {n} light tasks", lambda s, t, i, n=n: light(t, work, n), args.repeat) for n in sizes],
            (f"{args.n} python tasks", lambda s, t, i: python_tasks(t, work, i), args.heavy_repeat),
        ]
        for i in range(max(args.repeat, args.heavy_repeat)):
            for figure, measure, times in steps:
                if i < times:
                    for side, tree in trees.items():
                        add(figure, side, measure(side, tree, i))
            if i < args.heavy_repeat:
                add(f"floor: {args.n} bare interpreters, {WORKERS} at a time", "floor", floor_interpreters(args.n))
        if args.big:
            for side, tree in trees.items():
                add(f"ForEach {args.big} light tasks", side, light(tree, work, args.big))
    info["load_after"] = load_average()
    summary: dict[str, Any] = {"machine": info, "medians": {}}
    for figure, sides in raw.items():
        summary["medians"][figure] = {side: {k: round(median(v[k] for v in values), 4) for k in values[0]}
                                      for side, values in sides.items()}
    print()
    print(f"issue-20 figures, {info['cpu']}, {info['cores']} cores, Python {info['python']}; "
          f"load average before {info['load_before']}, after {info['load_after']}")
    for figure, sides in summary["medians"].items():
        print(f"  {figure}: " + "; ".join(f"{side} " + ", ".join(f"{k} {v:g}" for k, v in vals.items()) for side, vals in sides.items()))
    if args.out is not None:
        args.out.write_text(json.dumps({**summary, "raw": raw}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
