"""B5 API: requests/s and p99 of reading executions with 100k executions stored.

Seeds ROWS executions (3 task runs each) straight through
``SqlStore.write_batch``, starts ``lanner server local`` on that home, and
drives it from a second process (``--load``: 4 client threads on 127.0.0.1)
for a few seconds per endpoint: ``GET /api/v1/executions/{id}`` (random ids)
and ``GET /api/v1/executions/search`` (first page, 25 per page, newest
first). The floor is ``GET /health`` under the same load: the web stack alone.

    .venv/bin/python -m bench.b5_api [--rows 100000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import REPO, emit, percentile
from bench.server import Server

THREADS = 4


def seed(home: Path, rows: int) -> list[str]:
    from engine.model.execution import Attempt, Execution, TaskRun
    from engine.model.ids import new_id
    from engine.model.state import State
    from engine.store.sql import SqlStore, default_database_url

    store = SqlStore(default_database_url(home))
    ids: list[str] = []
    start = datetime(2024, 1, 1, tzinfo=UTC)
    batch = 5000
    for first in range(0, rows, batch):
        execs, runs = [], []
        for i in range(first, min(rows, first + batch)):
            ex_id = new_id()
            ids.append(ex_id)
            t0 = start + timedelta(seconds=i)
            t1 = (t0 + timedelta(milliseconds=5)).isoformat(timespec="microseconds")
            execs.append(Execution(id=ex_id, namespace="bench", flow_id="hello3", flow_revision=1, state=State.SUCCESS,
                                   labels={"team": "bench"}, start_date=t0.isoformat(timespec="microseconds"), end_date=t1))
            for k, task in enumerate(("first", "second", "third")):
                runs.append(TaskRun(id=new_id(), execution_id=ex_id, task_id=task, parent_task_run_id=None, value=None, iteration=None,
                                    state=State.SUCCESS, seq=k, attempts=[Attempt(State.SUCCESS, t1, t1)], outputs={}, start_date=t1, end_date=t1))
        store.write_batch(new_executions=execs, new_runs=runs)
    store.close()
    return ids


def load(url: str, paths: list[str], seconds: float) -> dict:
    """Run in the second process: hammer ``paths`` (round robin per thread) for ``seconds``."""
    import httpx

    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed_: int) -> None:
        rnd = random.Random(seed_)
        mine = []
        with httpx.Client(base_url=url, timeout=30) as c:
            while time.monotonic() < stop:
                p = paths[rnd.randrange(len(paths))]
                t = time.perf_counter()
                r = c.get(p)
                mine.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors[0] += 1
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    return {"rps": len(lat) / wall, "p50": percentile(lat, 50), "p99": percentile(lat, 99), "n": len(lat), "errors": errors[0]}


def drive(url: str, paths: list[str], seconds: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(paths, f)
    try:
        out = subprocess.run([sys.executable, "-m", "bench.b5_api", "--load", url, "--paths", f.name, "--seconds", str(seconds)],
                             cwd=REPO, capture_output=True, text=True, timeout=seconds + 120,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B5 API")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--load", default="")
    parser.add_argument("--paths", default="")
    args = parser.parse_args(argv)
    if args.load:
        print(json.dumps(load(args.load, json.loads(Path(args.paths).read_text()), args.seconds)))
        return 0
    from bench.common import FLOW3

    with tempfile.TemporaryDirectory() as d:
        home, flows = Path(d) / "home", Path(d) / "flows"
        home.mkdir()
        flows.mkdir()
        (flows / "hello3.yaml").write_text(FLOW3)
        t = time.perf_counter()
        ids = seed(home, args.rows)
        seeded = time.perf_counter() - t
        with Server(home, flows) as srv:
            sample = random.Random(1).sample(ids, min(5000, len(ids)))
            health = drive(srv.url, ["/health"], args.seconds)
            one = drive(srv.url, [f"/api/v1/executions/{i}" for i in sample], args.seconds)
            search = drive(srv.url, ["/api/v1/executions/search?namespace=bench&size=25"], args.seconds)
    emit("B5", f"seed {args.rows} executions (write_batch)", seeded, "s")
    emit("B5", "GET execution requests/s", one["rps"], "req/s", floor=health["rps"], errors=one["errors"], threads=THREADS)
    emit("B5", "GET execution p99", one["p99"] * 1000, "ms", floor=health["p99"] * 1000, target="< 50", ok=one["p99"] < 0.05,
         note=f"p50 {one['p50'] * 1000:.1f} ms")
    emit("B5", "list executions requests/s", search["rps"], "req/s", floor=health["rps"], errors=search["errors"])
    emit("B5", "list executions p99", search["p99"] * 1000, "ms", floor=health["p99"] * 1000, note=f"p50 {search['p50'] * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
