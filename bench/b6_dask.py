"""B6 scale-out: the B3 fan-out with python script tasks, local thread pool vs Dask.

The Dask side is a ``distributed.LocalCluster`` of 2 worker processes (one
thread each) driven through ``engine.runtime.dask_pool.DaskWorkerPool``. Each
script task starts a Python process, so N is smaller than B3's 10,000 (2 cores
would spend minutes starting interpreters); the figure is per task run. The
floor is a ThreadPoolExecutor starting the same N ``python -c`` processes.

    .venv/bin/python -m bench.b6_dask [--n 200]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.b3_fanout import run_child
from bench.common import emit, unavailable


def floor(n: int) -> float:
    code = 'print(\'::{"outputs": {"value": "1"}}::\')'
    t = time.perf_counter()
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda _: subprocess.run([sys.executable, "-c", code], capture_output=True, check=True), range(n)))
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B6 scale-out")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args(argv)
    n = args.n
    f = floor(n)
    local = run_child(n, script=True, pool="threads")
    if local["state"] != "SUCCESS" or local["read_back"] != n:
        raise SystemExit(f"B6 local pool: execution ended {local['state']}")
    emit("B6", f"{n} script tasks, local pool: wall", local["wall_s"], "s", floor=f, note="floor: ThreadPoolExecutor(4) of python -c")
    emit("B6", f"{n} script tasks, local pool: per task run", local["wall_s"] / n * 1000, "ms", floor=f / n * 1000)
    if importlib.util.find_spec("distributed") is None:
        unavailable("B6", "the dask extra is not installed (pip install 'lanner[dask]')")
        return 0
    if importlib.util.find_spec("engine.runtime.dask_pool") is None:
        unavailable("B6", "engine/runtime/dask_pool.py is not there yet")
        return 0
    try:
        dask = run_child(n, script=True, pool="dask")
    except RuntimeError as exc:
        unavailable("B6", f"the Dask run failed: {str(exc).splitlines()[-1] if str(exc) else exc}")
        return 0
    if dask["state"] != "SUCCESS" or dask["read_back"] != n:
        unavailable("B6", f"the Dask run ended {dask['state']} and read back {dask['read_back']}")
        return 0
    emit("B6", f"{n} script tasks, Dask 2 workers: wall", dask["wall_s"], "s", floor=f)
    emit("B6", f"{n} script tasks, Dask 2 workers: per task run", dask["wall_s"] / n * 1000, "ms", floor=f / n * 1000)
    emit("B6", "Dask vs local pool", dask["wall_s"] / local["wall_s"], "x", note="> 1: Dask slower on one 2-core machine (no extra cores to gain)")
    emit("B6", "Dask run peak RSS (runner process)", dask["rss_mb"], "MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
