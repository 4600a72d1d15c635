"""A Dask worker process is SIGKILLed mid-task: the attempt fails as lost and the retry runs elsewhere."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.dask_cluster import DaskCluster

pytestmark = pytest.mark.faults

FLOW = """
id: lost_worker
namespace: faults.dask
tasks:
  - id: work
    type: shell
    retry:
      type: constant
      interval: PT0.2S
      maxAttempts: 3
    commands:
      - echo "on=$TEST_WORKER_NAME"
      - sleep 3
"""

NO_RETRY = FLOW.replace("id: lost_worker", "id: lost_worker_no_retry").split("    retry:")[0] + """    commands:
      - echo "on=$TEST_WORKER_NAME"
      - sleep 3
"""


def _run_and_kill_worker(runner, cluster: DaskCluster, flow_id: str) -> dict:
    ex_id = runner.start_execution("faults.dask", flow_id)
    victim = None
    deadline = time.monotonic() + 30
    while victim is None and time.monotonic() < deadline:
        for entry in runner.logs(ex_id):
            if entry["message"].startswith("on="):
                victim = entry["message"][3:]
        time.sleep(0.05)
    assert victim in cluster.procs, "the attempt did not start on a worker"
    cluster.kill(victim)
    summary = runner.wait(ex_id, timeout=60)
    summary["victim"] = victim
    return summary


def test_a_killed_dask_worker_counts_as_a_failed_attempt_and_the_retry_succeeds(tmp_path: Path, lanner_home: Path) -> None:
    from engine.runtime.dask_pool import DaskWorkerPool
    from engine.runtime.local import LocalRunner

    cluster = DaskCluster(tmp_path)
    cluster.start_scheduler()
    for name in ("w1", "w2", "w3"):
        cluster.start_worker(name, nthreads=1)
    try:
        cluster.wait_workers(3)
        with LocalRunner(lanner_home, pool=DaskWorkerPool(cluster.address)) as runner:
            runner.deploy(FLOW)
            runner.deploy(NO_RETRY)
            summary = _run_and_kill_worker(runner, cluster, "lost_worker")
            assert summary["state"] == "SUCCESS", summary
            attempts = summary["taskRuns"][0]["attempts"]
            assert [a["state"] for a in attempts] == ["FAILED", "SUCCESS"], attempts
            assert "worker lost" in attempts[0]["message"]
            ons = [e["message"] for e in runner.logs(summary["id"]) if e["message"].startswith("on=")]
            assert ons[0] == f"on={summary['victim']}" and ons[-1] != ons[0], "the retry ran on another worker"

            summary = _run_and_kill_worker(runner, cluster, "lost_worker_no_retry")
            assert summary["state"] == "FAILED"
            assert "worker lost" in summary["taskRuns"][0]["attempts"][-1]["message"]
            assert len(summary["taskRuns"][0]["attempts"]) == 1
            print("FAULT-FIGURES dask worker lost: duplicates 0, lost 0")
    finally:
        cluster.stop()
