"""B2 throughput: the 3-log-task flow executed N times in one process on embedded SQLite.

Sequential (start, wait for the end, next: what a caller waiting on each run
sees) and batched (start N, then wait for all: what the engine sustains).
Every state change is committed (WAL, ``synchronous=NORMAL``) before anything
acts on it. The floor is the same work by hand: format three messages, write
the execution, task run and log rows in one SQLite transaction with the same
settings. A last, smaller run shows what ``LANNER_SQLITE_SYNCHRONOUS=FULL``
(an fsync per commit) costs.

    .venv/bin/python -m bench.b2_throughput [--n 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import FLOW3, emit, floor_execution, median, peak_rss_mb, sqlite_floor_db

TASKS = 3


def run_sequential(runner, ns: str, fid: str, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        s = runner.wait(runner.start_execution(ns, fid), timeout=30)
        if s["state"] != "SUCCESS":
            raise SystemExit(f"B2: an execution ended {s['state']}")
    return time.perf_counter() - t


def run_batched(runner, ns: str, fid: str, n: int) -> float:
    t = time.perf_counter()
    ids = [runner.start_execution(ns, fid, wait_persisted=False) for _ in range(n)]
    for i in ids:
        s = runner.wait(i, timeout=60)
        if s["state"] != "SUCCESS":
            raise SystemExit(f"B2: an execution ended {s['state']}")
    return time.perf_counter() - t


def floor_seconds(n: int, synchronous: str = "NORMAL") -> float:
    with tempfile.TemporaryDirectory() as d:
        conn = sqlite_floor_db(Path(d) / "floor.db", synchronous)
        sink: list[str] = []
        t = time.perf_counter()
        for _ in range(n):
            floor_execution(conn, TASKS, sink)
        dt = time.perf_counter() - t
        conn.close()
    return dt


def measure(n: int, repeat: int, *, synchronous: str = "NORMAL", batched: bool = True) -> tuple[list[float], list[float]]:
    from engine.runtime.local import LocalRunner

    os.environ["LANNER_SQLITE_SYNCHRONOUS"] = synchronous
    seq, batch = [], []
    with tempfile.TemporaryDirectory() as home, LocalRunner(home) as runner:
        flow = runner.deploy(FLOW3)
        run_sequential(runner, flow.namespace, flow.id, 30)  # warm-up: imports, caches, compiled templates
        for _ in range(repeat):
            seq.append(run_sequential(runner, flow.namespace, flow.id, n))
            if batched:
                batch.append(run_batched(runner, flow.namespace, flow.id, n))
    return seq, batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B2 throughput")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-batched", action="store_true", help="only the sequential runs (bench-quick)")
    parser.add_argument("--full-n", type=int, default=200, help="executions for the synchronous=FULL comparison (0: skip)")
    args = parser.parse_args(argv)
    n = args.n
    seq, batch = measure(n, args.repeat, batched=not args.no_batched)
    floors = [floor_seconds(n) for _ in range(args.repeat)]
    floor_ms = median(floors) / n / TASKS * 1000
    seq_s = median(seq)
    per_task = seq_s / n / TASKS * 1000
    emit("B2", "sequential executions/s", n / seq_s, "exec/s", floor=n / median(floors), target=">= 300", ok=n / seq_s >= 300,
         runs=[round(n / s, 1) for s in seq], n=n)
    emit("B2", "per-task overhead", per_task, "ms", floor=floor_ms, target="< 1", ok=per_task < 1.0,
         note="wall time of one sequential execution / 3 tasks")
    if batch:
        emit("B2", "batched executions/s", n / median(batch), "exec/s", floor=n / median(floors),
             runs=[round(n / s, 1) for s in batch], n=n)
        emit("B2", "batched per-task overhead", median(batch) / n / TASKS * 1000, "ms", floor=floor_ms)
    if args.full_n:
        fseq, _ = measure(args.full_n, 1, synchronous="FULL")
        ffloor = floor_seconds(args.full_n, "FULL")
        emit("B2", "sequential executions/s, synchronous=FULL", args.full_n / fseq[0], "exec/s", floor=args.full_n / ffloor,
             n=args.full_n, note="an fsync per commit")
    emit("B2", "peak RSS", peak_rss_mb(), "MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
