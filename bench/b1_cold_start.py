"""B1 cold start: ``lanner flow run`` of the 3-log-task flow, the whole process.

Wall time and peak RSS of the command (fresh LANNER_HOME each run, median of
several). The floor is a bare ``python`` doing the same work by hand (import
sqlite3, write the rows, print three lines): interpreter start-up is the part
no Python orchestrator can avoid.

    .venv/bin/python -m bench.b1_cold_start [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import FLOW3, emit, median

FLOOR = (
    "import sqlite3, sys, os; sys.path.insert(0, os.environ['BENCH_REPO']);"
    "from bench.common import sqlite_floor_db, floor_execution;"
    "log = []; floor_execution(sqlite_floor_db(sys.argv[1]), 3, log); print(*log, sep='\\n')"
)


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit code of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B1 cold start")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    lanner = Path(sys.executable).with_name("lanner")
    repo = str(Path(__file__).resolve().parent.parent)
    walls, rss, fwalls, frss = [], [], [], []
    with tempfile.TemporaryDirectory() as d:
        flow = Path(d) / "hello3.yaml"
        flow.write_text(FLOW3)
        for i in range(args.repeat):
            env = {**os.environ, "LANNER_HOME": str(Path(d) / f"home{i}")}
            wall, mem, code = _run([str(lanner), "flow", "run", str(flow), "--json"], env)
            if code != 0:
                raise SystemExit(f"B1: lanner flow run exited {code}")
            walls.append(wall)
            rss.append(mem)
            fw, fm, fc = _run([sys.executable, "-c", FLOOR, str(Path(d) / f"floor{i}.db")], {**os.environ, "BENCH_REPO": repo})
            if fc != 0:
                raise SystemExit("B1: the floor script failed")
            fwalls.append(fw)
            frss.append(fm)
    emit("B1", "lanner flow run wall", median(walls), "s", floor=median(fwalls), runs=[round(w, 3) for w in walls],
         note="floor: bare python + sqlite3 doing the same rows")
    emit("B1", "lanner flow run peak RSS", median(rss), "MB", floor=median(frss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
