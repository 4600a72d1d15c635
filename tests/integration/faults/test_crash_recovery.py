"""SIGKILL a runner process mid-flight, restart it: nothing lost, nothing finished runs again.

The runner process is tests/integration/faults/runner_proc.py (LocalRunner with
recover=True, the loop the server runs). Each shell task appends a
``start <execution> <task> <value>`` line to a marks file when it starts, which
is how we see what ran twice.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

RUNNER = Path(__file__).with_name("runner_proc.py")


def _step(task_id: str, marks: Path, sleep: float, value: str = "") -> str:
    return f"""
  - id: {task_id}
    type: shell
    commands:
      - 'echo "start {{{{ execution.id }}}} {task_id} {value}" >> {marks}'
      - sleep {sleep}"""


def _spawn(home: Path, flows: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "LANNER_HOME": str(home)}
    env.pop("LANNER_DATABASE_URL", None)
    return subprocess.Popen([sys.executable, str(RUNNER), str(flows), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _db_rows(home: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(home / "lanner.db", timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _crash_and_recover(tmp_path: Path, flows_yaml: dict[str, str], start: str, count: int, kill_after: float) -> dict:
    home, flows, marks = tmp_path / "home", tmp_path / "flows", tmp_path / "marks.txt"
    flows.mkdir()
    marks.touch()
    for name, text in flows_yaml.items():
        (flows / f"{name}.yaml").write_text(text.replace("MARKS", str(marks)))
    first = _spawn(home, flows, "--start", start, "--count", str(count))
    started = 0
    deadline = time.monotonic() + 30
    while started < count and time.monotonic() < deadline:
        line = first.stdout.readline()
        started += line.startswith("started ")
    assert started == count, "the first runner did not start every execution"
    time.sleep(kill_after)
    os.killpg(first.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    first.wait(10)
    finished_before = {(r[0], r[1], r[2]) for r in _db_rows(home, "SELECT execution_id, task_id, value FROM task_runs WHERE state='SUCCESS'")}
    unfinished_before = _db_rows(home, "SELECT count(*) FROM executions WHERE state NOT IN ('SUCCESS','WARNING','FAILED','KILLED')")[0][0]
    assert unfinished_before > 0, "the kill came too late to test anything"
    second = _spawn(home, flows)
    out, _ = second.communicate(timeout=120)
    resumed = next(float(line.split()[-1]) for line in out.splitlines() if line.startswith("recovered"))
    assert second.returncode == 0, out
    states = Counter(r[0] for r in _db_rows(home, "SELECT state FROM executions"))
    starts = Counter(tuple(line.split()[1:4]) if len(line.split()) > 3 else (*line.split()[1:3], "")
                     for line in marks.read_text().splitlines())
    marking = {k[1] for k in starts}  # the task ids that leave marks (shell tasks; not flowables)
    rerun_finished = [k for k in finished_before if k[1] in marking and starts.get((k[0], k[1], k[2] or ""), 0) != 1]
    figures = {
        "executions": sum(states.values()), "states": dict(states), "unfinished_at_kill": unfinished_before,
        "finished_task_runs_at_kill": len(finished_before), "finished_task_runs_rerun": len(rerun_finished),
        "restart_to_resumed_s": resumed, "kill_to_all_ended_s": round(time.monotonic() - killed_at, 2),
    }
    print("FAULT-FIGURES " + json.dumps(figures))
    assert rerun_finished == [], f"task runs that had finished ran again: {rerun_finished[:5]}"
    return figures


def test_sigkill_with_20_running_executions_loses_nothing(tmp_path: Path) -> None:
    flow = "id: sleepy\nnamespace: faults\ntasks:" + "".join(_step(f"s{i}", Path("MARKS"), 0.7) for i in range(1, 4))
    figures = _crash_and_recover(tmp_path, {"sleepy": flow}, "faults.sleepy", 20, kill_after=1.2)
    assert figures["states"] == {"SUCCESS": 20}
    assert figures["executions"] == 20


def test_sigkill_during_a_subflow_and_a_for_each_with_concurrency_limit(tmp_path: Path) -> None:
    child = "id: child\nnamespace: faults\ntasks:" + "".join(_step(f"c{i}", Path("MARKS"), 0.6) for i in range(1, 3))
    parent = f"""id: parent
namespace: faults
tasks:
  - id: call
    type: subflow
    namespace: faults
    flowId: child
    wait: true
  - id: loop
    type: for_each
    values: ["a", "b", "c", "d", "e", "f"]
    concurrencyLimit: 2
    tasks:{_step("item", Path("MARKS"), 0.5, "{{ taskrun.value }}").replace(chr(10), chr(10) + "    ")}
  - id: last
    type: shell
    commands: ['echo "start {{{{ execution.id }}}} last " >> MARKS']
"""
    figures = _crash_and_recover(tmp_path, {"child": child, "parent": parent}, "faults.parent", 3, kill_after=2.0)
    assert figures["states"] == {"SUCCESS": 6}, "3 parents and their 3 subflow executions"
    rows = _db_rows(tmp_path / "home", "SELECT execution_id, value FROM task_runs WHERE task_id='item' AND state='SUCCESS'")
    per_parent = Counter(r[0] for r in rows)
    assert sorted(per_parent.values()) == [6, 6, 6], "every ForEach value ran to SUCCESS exactly once per parent"
