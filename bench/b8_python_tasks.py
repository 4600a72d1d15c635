"""B8 Python script tasks: ``lanner flow run`` of a ForEach over N ``python`` tasks, the whole process.

All N run at once on the default worker pool (4 threads per core, 8 on 2
cores), each printing an output marker; a last task reads all N outputs. The
same flow runs with the fork server (the default) and, with ``--fresh``, with
``LANNER_FORK_SERVER=0`` (a fresh interpreter per task), interleaved. The
floor is N bare interpreters doing the same print, as many at a time as the
pool has threads. Wall time and CPU time (the process and every process it
waited for) are reported; CPU time is what stays comparable on a busy machine.

    .venv/bin/python -m bench.b8_python_tasks [--n 1000] [--repeat 3] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import compile_sources, emit, foreach_flow, median

SCRIPT = 'print(\'::{"outputs": {"value": "1"}}::\')'
WORKERS = max(4, (os.cpu_count() or 2) * 4)  # LocalRunner's default pool


def run_flow(flow: Path, home: Path, fork_server: bool) -> tuple[float, float]:
    """Wall and CPU seconds of one ``lanner flow run``."""
    env = {**os.environ, "LANNER_HOME": str(home), "LANNER_FORK_SERVER": "1" if fork_server else "0"}
    lanner = Path(sys.executable).with_name("lanner")
    t = time.perf_counter()
    proc = subprocess.Popen([str(lanner), "flow", "run", str(flow), "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    summary = json.loads(out)
    reader = next(tr for tr in summary["taskRuns"] if tr["taskId"] == "all")
    if os.waitstatus_to_exitcode(status) != 0 or summary["state"] != "SUCCESS":
        raise SystemExit(f"B8: the flow ended {summary['state']}")
    return wall, usage.ru_utime + usage.ru_stime, reader["outputs"]["value"]


def floor(n: int) -> tuple[float, float]:
    """Wall and CPU seconds of n bare interpreters, WORKERS at a time."""
    before = os.times()
    t = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as ex:
        list(ex.map(lambda _: subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, check=True), range(n)))
    after = os.times()
    return time.perf_counter() - t, after.children_user + after.children_system - before.children_user - before.children_system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B8 Python script tasks")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="also run with a fresh interpreter per task")
    args = parser.parse_args(argv)
    compile_sources()
    n = args.n
    fork, fresh, floors = [], [], []
    with tempfile.TemporaryDirectory() as d:
        flow = Path(d) / "python_tasks.yaml"
        flow.write_text(foreach_flow(n, script=True, concurrency=0))
        for i in range(args.repeat):
            wall, cpu, read = run_flow(flow, Path(d) / f"fork{i}", True)
            if read != n:
                raise SystemExit(f"B8: the reader saw {read} outputs, not {n}")
            fork.append((wall, cpu))
            if args.fresh:
                fresh.append(run_flow(flow, Path(d) / f"fresh{i}", False)[:2])
            floors.append(floor(n))
    fw, fc = median(w for w, _ in floors), median(c for _, c in floors)
    wall, cpu = median(w for w, _ in fork), median(c for _, c in fork)
    emit("B8", f"{n} python tasks, fork server: wall", wall, "s", floor=fw, target="< 3" if n >= 1000 else None,
         ok=wall < 3 if n >= 1000 else None, runs=[round(w, 2) for w, _ in fork],
         note=f"whole process; floor: {n} bare interpreters {WORKERS} at a time")
    emit("B8", "python task, fork server: per task", wall / n * 1000, "ms", floor=fw / n * 1000, n=n)
    emit("B8", f"{n} python tasks, fork server: CPU", cpu, "s", floor=fc, runs=[round(c, 2) for _, c in fork],
         note="user + system of lanner, the fork server and every task process")
    if fresh:
        wall2, cpu2 = median(w for w, _ in fresh), median(c for _, c in fresh)
        emit("B8", f"{n} python tasks, fresh interpreters: wall", wall2, "s", floor=fw, runs=[round(w, 2) for w, _ in fresh],
             note="LANNER_FORK_SERVER=0")
        emit("B8", f"{n} python tasks, fresh interpreters: CPU", cpu2, "s", floor=fc)
        emit("B8", "fresh interpreters vs fork server (wall)", wall2 / wall, "x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
