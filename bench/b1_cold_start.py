"""B1 cold start: ``lanner flow run`` of the 3-log-task flow, the whole process; ``lanner server local`` ready.

Wall time, CPU time and peak RSS of the command (fresh LANNER_HOME each run,
median of several). The floor is a bare ``python`` doing the same work by hand
(import sqlite3, write the rows, print three lines): interpreter start-up is
the part no Python orchestrator can avoid. The server figure is the time from
starting ``lanner server local`` (fresh home, empty flows directory, the UI
on) to its first ``GET /health`` answering UP, with the CPU time it used until
then.

    .venv/bin/python -m bench.b1_cold_start [--repeat 5] [--server-repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import FLOW3, compile_sources, emit, free_port, median

FLOOR = (
    "import sqlite3, sys, os; sys.path.insert(0, os.environ['BENCH_REPO']);"
    "from bench.common import sqlite_floor_db, floor_execution;"
    "log = []; floor_execution(sqlite_floor_db(sys.argv[1]), 3, log); print(*log, sep='\\n')"
)


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS (MB), exit code and CPU seconds of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def server_ready(home: Path, flows: Path, timeout: float = 120) -> tuple[float, float]:
    """Seconds from start to /health UP, and the CPU seconds the server used until then."""
    lanner = Path(sys.executable).with_name("lanner")
    port = free_port()
    env = {**os.environ, "LANNER_HOME": str(home)}
    t = time.perf_counter()
    proc = subprocess.Popen([str(lanner), "server", "local", "--port", str(port), "--flows", str(flows)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if json.loads(r.read()).get("status") == "UP":
                        ready = time.perf_counter() - t
                        with open(f"/proc/{proc.pid}/stat", encoding="ascii") as fh:
                            fields = fh.read().rsplit(")", 1)[1].split()
                        return ready, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError):
                time.sleep(0.01)
        raise SystemExit(f"B1: lanner server local was not ready after {timeout:.0f} s")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B1 cold start")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--server-repeat", type=int, default=3, help="server starts to measure (0: none)")
    args = parser.parse_args(argv)
    compile_sources()
    lanner = Path(sys.executable).with_name("lanner")
    repo = str(Path(__file__).resolve().parent.parent)
    walls, rss, cpus, fwalls, frss, fcpus = [], [], [], [], [], []
    ready, ready_cpu = [], []
    with tempfile.TemporaryDirectory() as d:
        flow = Path(d) / "hello3.yaml"
        flow.write_text(FLOW3)
        (Path(d) / "flows").mkdir()
        for i in range(args.repeat):
            env = {**os.environ, "LANNER_HOME": str(Path(d) / f"home{i}")}
            wall, mem, code, cpu = _run([str(lanner), "flow", "run", str(flow), "--json"], env)
            if code != 0:
                raise SystemExit(f"B1: lanner flow run exited {code}")
            walls.append(wall)
            rss.append(mem)
            cpus.append(cpu)
            fw, fm, fc, fcpu = _run([sys.executable, "-c", FLOOR, str(Path(d) / f"floor{i}.db")], {**os.environ, "BENCH_REPO": repo})
            if fc != 0:
                raise SystemExit("B1: the floor script failed")
            fwalls.append(fw)
            frss.append(fm)
            fcpus.append(fcpu)
            if i < args.server_repeat:
                r, c = server_ready(Path(d) / f"server{i}", Path(d) / "flows")
                ready.append(r)
                ready_cpu.append(c)
    emit("B1", "lanner flow run wall", median(walls), "s", floor=median(fwalls), runs=[round(w, 3) for w in walls],
         target="< 0.3", ok=median(walls) < 0.3, note="floor: bare python + sqlite3 doing the same rows")
    emit("B1", "lanner flow run CPU", median(cpus), "s", floor=median(fcpus), runs=[round(c, 3) for c in cpus])
    emit("B1", "lanner flow run peak RSS", median(rss), "MB", floor=median(frss), target="< 80", ok=median(rss) < 80)
    if ready:
        emit("B1", "lanner server local ready (health UP)", median(ready), "s", runs=[round(r, 2) for r in ready],
             target="< 1.5", ok=median(ready) < 1.5, note="fresh home, empty flows directory, UI on (it loads after)")
        emit("B1", "lanner server local CPU until ready", median(ready_cpu), "s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
