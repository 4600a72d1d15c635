"""kill -9 of the fork server while it runs Python script tasks: the tasks it held are lost and retried.

Their attempts fail as lost workers' do ("worker lost", counted as a failed
attempt, the task's ``retry`` decides), their processes and the processes
those started are gone, and the retries run on a new fork server.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time

import pytest

from engine.runtime.forkserver import LOST_MESSAGE
from tests.proc_util import alive

pytestmark = [
    pytest.mark.faults,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server needs Linux"),
]

SCRIPT = """\
        script: |
          import os, subprocess, time
          child = subprocess.Popen(["sleep", "60"])
          print("pids", os.getpid(), child.pid, flush=True)
          time.sleep(60 if {{ taskrun.attemptsCount }} == 0 else 0.1)  # the first attempts end with the server
"""
RETRIED = """id: killed_server
namespace: faults.fs
tasks:
  - id: each
    type: for_each
    values: ["a", "b", "c", "d"]
    concurrencyLimit: 0
    tasks:
      - id: work
        type: python
        retry:
          type: constant
          interval: PT0.2S
          maxAttempts: 3
""" + SCRIPT
NO_RETRY = """id: killed_server_no_retry
namespace: faults.fs
tasks:
  - id: work
    type: python
""" + SCRIPT.replace("        ", "    ")
FORKED = re.compile(r"forked by the fork server \(pid (\d+)\)")



def _kill_server_when_running(runner, ex_id: str, tasks: int) -> tuple[int, list[int]]:
    """Wait until ``tasks`` scripts print their pids, SIGKILL their fork server; its pid and theirs."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = [e["message"] for e in runner.logs(ex_id)]
        pids = [int(p) for m in logs if m.startswith("pids ") for p in m.split()[1:]]
        servers = {int(m.group(1)) for m in map(FORKED.search, logs) if m}
        if len(pids) == 2 * tasks:
            assert len(servers) == 1, servers
            server = servers.pop()
            os.kill(server, signal.SIGKILL)
            return server, pids
        time.sleep(0.05)
    raise AssertionError("the scripts did not start on a fork server")


def test_killing_the_fork_server_fails_its_attempts_as_lost_and_the_retries_run_on_a_new_one(runner) -> None:
    runner.deploy(RETRIED)
    ex_id = runner.start_execution("faults.fs", "killed_server")
    server, pids = _kill_server_when_running(runner, ex_id, 4)
    summary = runner.wait(ex_id, timeout=60)
    assert summary["state"] == "SUCCESS", summary
    works = [t for t in summary["taskRuns"] if t["taskId"] == "work"]
    assert len(works) == 4, "one task run per value: nothing ran twice as a new task run"
    for run in works:
        assert [a["state"] for a in run["attempts"]] == ["FAILED", "SUCCESS"], run
        assert run["attempts"][0]["message"] == LOST_MESSAGE
    logs = [e["message"] for e in runner.logs(ex_id)]
    restarted = {int(m.group(1)) for m in map(FORKED.search, logs) if m} - {server}
    assert len(restarted) == 1 and alive(restarted.pop()), "the retries ran on one new fork server"
    deadline = time.monotonic() + 5
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(alive, pids)), "the lost scripts and the processes they started are gone"
    print(f"FAULT-FIGURES fork server killed: {len(works)} attempts lost and retried, 0 duplicates, 0 left running")


def test_without_retry_a_task_lost_with_the_fork_server_fails_with_the_reason(runner) -> None:
    runner.deploy(NO_RETRY)
    ex_id = runner.start_execution("faults.fs", "killed_server_no_retry")
    _server, pids = _kill_server_when_running(runner, ex_id, 1)
    summary = runner.wait(ex_id, timeout=60)
    assert summary["state"] == "FAILED"
    attempts = summary["taskRuns"][0]["attempts"]
    assert len(attempts) == 1 and attempts[0]["message"] == LOST_MESSAGE
    deadline = time.monotonic() + 5
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(alive, pids))
