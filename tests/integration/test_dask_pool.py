"""DaskWorkerPool against a real Dask cluster (scheduler and workers as subprocesses on 127.0.0.1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.dask_cluster import DaskCluster


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    cluster.start_scheduler()
    cluster.start_worker("plain-1")
    cluster.start_worker("gpu-1", resources="gpu=2")
    try:
        cluster.wait_workers(2)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def dask_runner(dask_cluster: DaskCluster, lanner_home: Path):
    from engine.runtime.dask_pool import DaskWorkerPool
    from engine.runtime.local import LocalRunner

    r = LocalRunner(lanner_home, pool=DaskWorkerPool(dask_cluster.address))
    yield r
    r.close()


FLOW = """
id: on_dask
namespace: test.dask
tasks:
  - id: where
    type: python
    script: |
      import os, socket
      for i in range(300):
          print(f"line {i}")
      with open("result.txt", "w") as f:
          f.write("from dask")
      print('::{"outputs": {"pid": %d}}::' % os.getpid())
    outputFiles: ["result.txt"]
  - id: pinned
    type: shell
    workerGroup:
      key: gpu
    commands:
      - echo "worker=$TEST_WORKER_NAME"
  - id: after
    type: log
    message: "{{ outputs.where.vars.pid }}"
"""


def test_attempts_run_on_dask_workers_with_live_logs_files_and_worker_groups(dask_runner, lanner_home: Path) -> None:
    import os

    summary = dask_runner.run(FLOW, timeout=90)
    assert summary["state"] == "SUCCESS", summary
    runs = {tr["taskId"]: tr for tr in summary["taskRuns"]}
    pid = runs["where"]["outputs"]["vars"]["pid"]
    assert pid != os.getpid()
    logs = dask_runner.logs(summary["id"], task_id="where")
    lines = [entry["message"] for entry in logs if entry["message"].startswith("line ")]
    assert lines == [f"line {i}" for i in range(300)], "every line, in order"
    uri = runs["where"]["outputs"]["outputFiles"]["result.txt"]
    assert dask_runner.storage.read_text(uri, namespace="test.dask") == "from dask"
    pinned = [entry["message"] for entry in dask_runner.logs(summary["id"], task_id="pinned")]
    assert any("worker=gpu-1" in m for m in pinned), pinned


def test_kill_and_timeout_reach_the_process_on_the_worker(dask_runner) -> None:
    flow = """
id: slow
namespace: test.dask
tasks:
  - id: sleepy
    type: shell
    commands: ["echo started", "sleep 60"]
"""
    dask_runner.deploy(flow)
    ex_id = dask_runner.start_execution("test.dask", "slow")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(e["message"] == "started" for e in dask_runner.logs(ex_id)):
            break
        time.sleep(0.1)
    t0 = time.monotonic()
    dask_runner.kill(ex_id)
    summary = dask_runner.wait(ex_id, timeout=30)
    assert summary["state"] == "KILLED"
    assert time.monotonic() - t0 < 15
    timeout_flow = """
id: timeout
namespace: test.dask
tasks:
  - id: sleepy
    type: shell
    timeout: PT1S
    commands: ["sleep 60"]
"""
    t0 = time.monotonic()
    summary = dask_runner.run(timeout_flow, timeout=30)
    assert summary["state"] == "FAILED"
    assert "Timed out" in (summary["taskRuns"][0]["attempts"][-1].get("message") or "")
    assert time.monotonic() - t0 < 15


def test_tasks_using_the_store_run_on_the_servers_threads(dask_runner) -> None:
    """kv.* tasks need the database, which Dask workers may not reach: they run in the runner's process."""
    s = dask_runner.run(
        "id: kv_on_dask\nnamespace: test.dask\ntasks:\n"
        "  - {id: set, type: io.kestra.plugin.core.kv.Set, key: k, value: 42}\n"
        "  - {id: get, type: io.kestra.plugin.core.kv.Get, key: k}\n",
        timeout=60,
    )
    assert s["state"] == "SUCCESS"
    assert s["taskRuns"][1]["outputs"] == {"value": 42}
