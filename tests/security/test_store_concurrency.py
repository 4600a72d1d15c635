"""30 s of concurrent writes on the embedded SQLite store: no "database is locked", no lost log line.

The real server (8 workers, scheduler on) runs executions of a flow with 8
parallel script tasks that print numbered lines, started back to back through
the API, while other threads read the API, the scheduler fires a flow every
second, and a second process (``lanner flow run`` on the same database)
writes its own execution and logs. Afterwards every execution must have
succeeded, every printed line must be stored exactly once, no request may
have failed, and no "database is locked" may appear anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from textwrap import dedent

from tests.security.conftest import Server, json_body, server_log

DURATION = 30.0
#: The load runs for DURATION and then until it has done the work the checks below need (executions,
#: reads): a CI runner busy with other tests does less in 30 s, and that is not what this test is about.
MAX_DURATION = 150.0
MIN_EXECUTIONS = 6
MIN_READS = 100
LINES = 150
TASKS = 8
IN_FLIGHT = 3

LOAD_FLOW = dedent("""
    id: load
    namespace: sec.load
    tasks:
      - id: all
        type: parallel
        tasks:
""") + "".join(f"""          - id: s{i}
            type: shell
            commands:
              - for n in $(seq 1 {LINES}); do echo "L $n"; done
""" for i in range(TASKS))

TICK_FLOW = dedent("""
    id: tick
    namespace: sec.load
    tasks:
      - id: t
        type: log
        message: "tick {{ trigger.date }}"
    triggers:
      - id: every-second
        type: schedule
        cron: "* * * * * *"
""")

SIDE_FLOW = dedent("""
    id: side
    namespace: sec.side
    tasks:
      - id: p
        type: python
        script: |
          import time
          for n in range(1, 1001):
              print(f"S {n}", flush=True)
              time.sleep(0.015)
""")


def _deploy(server: Server, source: str) -> None:
    status, _, raw = server.request("POST", "/api/v1/flows", body=source.encode(), headers={"Content-Type": "application/x-yaml"})
    assert status in (200, 201), raw[:300]


def test_thirty_seconds_of_concurrent_writers(server: Server, lanner_cmd: list[str], tmp_path: Path):
    _deploy(server, LOAD_FLOW)
    _deploy(server, TICK_FLOW)
    side_file = tmp_path / "side.yaml"
    side_file.write_text(SIDE_FLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANNER_", "SECRET_"))}
    env["LANNER_HOME"] = str(server.home)
    side = subprocess.Popen([*lanner_cmd, "flow", "run", str(side_file), "--json"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started: list[str] = []
    failures: list[str] = []
    reads = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def starter() -> None:
        while not stop.is_set():
            try:
                status, _, raw = server.request("POST", "/api/v1/executions/sec.load/load?wait=true", body=b"{}",
                                                headers={"Content-Type": "application/json"}, timeout=120)
            except OSError as exc:
                failures.append(f"start: {exc}")
                continue
            if status != 200:
                failures.append(f"start -> {status}: {raw[:200]!r}")
                continue
            with lock:
                started.append(json_body(raw)["id"])

    def reader() -> None:
        while not stop.is_set():
            with lock:
                last = started[-1] if started else None
            paths = ["/api/v1/executions/search?namespace=sec.load&size=20", "/api/v1/flows/search", "/health"]
            if last:
                paths += [f"/api/v1/executions/{last}", f"/api/v1/logs/{last}"]
            for path in paths:
                try:
                    status, _, raw = server.request("GET", path, timeout=60)
                except OSError as exc:
                    failures.append(f"read {path}: {exc}")
                    continue
                reads[status] += 1
                if status != 200:
                    failures.append(f"read {path} -> {status}: {raw[:200]!r}")
            time.sleep(0.05)

    threads = [threading.Thread(target=starter) for _ in range(IN_FLIGHT)] + [threading.Thread(target=reader) for _ in range(2)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(DURATION)
    while time.monotonic() - t0 < MAX_DURATION and (len(started) < MIN_EXECUTIONS or sum(reads.values()) <= MIN_READS):
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(180)
    status, _, _ = server.request("DELETE", "/api/v1/flows/sec.load/tick")
    assert status in (200, 204)
    out, err = side.communicate(timeout=120)
    elapsed = time.monotonic() - t0

    assert not failures, failures[:10]
    assert len(started) >= MIN_EXECUTIONS, f"only {len(started)} executions in {elapsed:.0f} s"
    assert sum(reads.values()) > MIN_READS, f"only {sum(reads.values())} reads in {elapsed:.0f} s"
    lost: list[str] = []
    for ex_id in started:
        status, _, raw = server.request("GET", f"/api/v1/executions/{ex_id}")
        summary = json_body(raw)
        assert summary["state"] == "SUCCESS", (ex_id, summary["state"])
        logs = json_body(server.request("GET", f"/api/v1/logs/{ex_id}")[2])
        per_task = Counter((row["taskId"], row["message"]) for row in logs if row["message"].startswith("L "))
        for i in range(TASKS):
            for n in range(1, LINES + 1):
                if per_task[(f"s{i}", f"L {n}")] != 1:
                    lost.append(f"{ex_id} s{i} L {n} x{per_task[(f's{i}', f'L {n}')]}")
    if lost:
        ex_id = lost[0].split()[0]
        task = lost[0].split()[1]
        logs = json_body(server.request("GET", f"/api/v1/logs/{ex_id}")[2])
        other = [row for row in logs if row["taskId"] == task]
        summary = json_body(server.request("GET", f"/api/v1/executions/{ex_id}")[2])
        trs = [t for t in summary["taskRuns"] if t["taskId"] == task]
        print("DIAG", len(logs), other[:5], trs, file=sys.stderr)
        print("DIAG-LOG", server_log(server)[-3000:], file=sys.stderr)
    assert not lost, f"{len(lost)} log lines lost or duplicated, e.g. {lost[:5]}"

    assert side.returncode == 0, err.decode(errors="replace")[-2000:]
    side_summary = json.loads(out)
    side_logs = json_body(server.request("GET", f"/api/v1/logs/{side_summary['id']}")[2])
    side_lines = Counter(row["message"] for row in side_logs if row["message"].startswith("S "))
    assert all(side_lines[f"S {n}"] == 1 for n in range(1, 1001)), len(side_lines)

    ticks = json_body(server.request("GET", "/api/v1/executions/search?namespace=sec.load&flowId=tick&size=100")[2])
    assert ticks["total"] >= DURATION / 3, ticks["total"]  # the scheduler kept writing too
    everything = server_log(server) + err.decode(errors="replace")
    assert "database is locked" not in everything
    assert "OperationalError" not in everything
    print(f"{len(started)} executions x {TASKS} tasks x {LINES} lines, {sum(reads.values())} reads, "
          f"{ticks['total']} scheduled runs in {elapsed:.0f} s", file=sys.stderr)
