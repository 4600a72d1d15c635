"""The "Running on several machines" recipe (README, "Running on several machines"), on 127.0.0.1.

One PostgreSQL database, a ``dask scheduler``, two ``dask worker`` processes and
two ``lanner server local --dask ADDR`` processes with their own LANNER_NODE_ID
and one shared LANNER_STORAGE. A flow deployed through one server runs through
both; its attempts run on the Dask workers (each worker sets TEST_WORKER_NAME,
which the servers do not have). Kill and resume posted to the server that does
not own an execution reach the owner through the command table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.integration.dask_cluster import DaskCluster
from tests.integration.server_process import ServerProcess, wait_state
from tests.postgres_fixture import PgCluster, create_database

YAML = {"Content-Type": "application/x-yaml"}

WORK = """id: spread
namespace: recipe
tasks:
  - id: work
    type: shell
    commands:
      - echo "on=${TEST_WORKER_NAME:-server}"
      - sleep 0.3
  - id: files
    type: shell
    outputFiles: [out.txt]
    commands:
      - echo "from {{ execution.id }}" > out.txt
"""

LONG = """id: long
namespace: recipe
tasks:
  - id: nap
    type: shell
    commands:
      - echo "on=${TEST_WORKER_NAME:-server}"
      - sleep 60
"""

PAUSED = """id: paused
namespace: recipe
tasks:
  - id: wait
    type: pause
  - id: after
    type: log
    message: resumed
"""


class Recipe:
    def __init__(self, dask: DaskCluster, a: ServerProcess, b: ServerProcess, db_url: str):
        self.dask, self.a, self.b, self.db_url = dask, a, b, db_url

    def owner(self, execution_id: str) -> str | None:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT owner FROM executions WHERE id = :i"), {"i": execution_id}).scalar()
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def recipe(pg_cluster: PgCluster | str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recipe]:
    root = tmp_path_factory.mktemp("recipe")
    db_url = create_database(pg_cluster if isinstance(pg_cluster, str) else pg_cluster.admin_url)
    dask = DaskCluster(root)
    servers: list[ServerProcess] = []
    try:
        dask.start_scheduler()
        dask.start_worker("w1", nthreads=2)
        dask.start_worker("w2", nthreads=2)
        dask.wait_workers(2)
        storage = root / "shared-storage"  # a path every worker and server sees
        for name in ("api-1", "api-2"):
            env = {"LANNER_DATABASE_URL": db_url, "LANNER_NODE_ID": name, "LANNER_STORAGE": str(storage)}
            servers.append(ServerProcess(root / name, env=env, args=["--dask", dask.address]))
        with ThreadPoolExecutor(2) as pool:  # the two servers start side by side, as on two machines
            list(pool.map(lambda s: s.start(), servers))
        yield Recipe(dask, servers[0], servers[1], db_url)
    finally:
        for server in servers:
            if server.proc is not None and server.proc.poll() is None:
                server.signal()
        for server in servers:
            server.stop()
        dask.stop()


def test_a_flow_deployed_on_one_server_runs_through_both_on_the_dask_workers(recipe: Recipe) -> None:
    with recipe.a.client() as a, recipe.b.client() as b:
        r = a.post("/api/v1/flows", content=WORK, headers=YAML)
        assert r.status_code == 200, r.text
        ids = [c.post("/api/v1/executions/recipe/spread").json()["id"] for c in (a, b, a, b, a, b)]
        ends = [wait_state(b if i % 2 else a, ex_id, timeout=60) for i, ex_id in enumerate(ids)]
        assert [e["state"] for e in ends] == ["SUCCESS"] * 6, [(e["id"], e["state"]) for e in ends]
        workers = set()
        for ex_id in ids:
            lines = [line["message"] for line in a.get(f"/api/v1/logs/{ex_id}").json()]
            ons = [m for m in lines if m.startswith("on=")]
            assert len(ons) == 1, lines
            workers.add(ons[0][3:])
        assert workers <= {"w1", "w2"}, f"attempts ran outside the Dask workers: {workers}"
        # outputFiles land in the shared storage: the other server serves the file.
        files = ends[1]["taskRuns"][1]["outputs"]["outputFiles"]
        uri = files["out.txt"]
        r = a.get(f"/api/v1/executions/{ids[1]}/file", params={"path": uri})
        assert r.status_code == 200 and r.text.strip() == f"from {ids[1]}", (r.status_code, r.text[:200])


def test_kill_posted_to_the_server_that_does_not_own_the_execution(recipe: Recipe) -> None:
    with recipe.a.client() as a, recipe.b.client() as b:
        assert a.post("/api/v1/flows", content=LONG, headers=YAML).status_code == 200
        ex_id = a.post("/api/v1/executions/recipe/long").json()["id"]
        wait_state(a, ex_id, {"RUNNING"}, timeout=30)
        deadline = time.monotonic() + 30
        while not any(line["message"].startswith("on=") for line in a.get(f"/api/v1/logs/{ex_id}").json()):
            assert time.monotonic() < deadline, "the attempt never started on a worker"
            time.sleep(0.1)
        assert recipe.owner(ex_id) == "api-1"
        t0 = time.monotonic()
        r = b.post(f"/api/v1/executions/{ex_id}/kill")
        assert r.status_code == 202, r.text
        end = wait_state(b, ex_id, timeout=20)
        latency = time.monotonic() - t0
        assert end["state"] == "KILLED", end
        assert end["taskRuns"][0]["state"] == "KILLED"
        print(f"FAULT-FIGURES cross-server kill: {latency:.2f}s from POST to KILLED")
        assert latency < 15, "the sleep 60 was not stopped: the kill did not reach the owner's Dask attempt"


def test_resume_posted_to_the_server_that_does_not_own_the_execution(recipe: Recipe) -> None:
    with recipe.a.client() as a, recipe.b.client() as b:
        assert b.post("/api/v1/flows", content=PAUSED, headers=YAML).status_code == 200
        ex_id = b.post("/api/v1/executions/recipe/paused").json()["id"]
        wait_state(b, ex_id, {"PAUSED"}, timeout=30)
        assert recipe.owner(ex_id) == "api-2"
        r = a.post(f"/api/v1/executions/{ex_id}/resume")
        assert r.status_code == 200, r.text
        end = wait_state(a, ex_id, timeout=20)
        assert end["state"] == "SUCCESS", end
        assert [t["taskId"] for t in end["taskRuns"]] == ["wait", "after"]


def test_the_servers_answer_health_with_a_dask_pool(recipe: Recipe) -> None:
    for server in (recipe.a, recipe.b):
        assert httpx.get(server.base + "/health", timeout=5).status_code == 200
        assert "Traceback" not in server.log()
