"""PostgreSQL restarts under a running server: it reconnects and every execution ends, with no manual action.

Executions are running when the database goes away (``pg_ctl stop -m immediate``,
which drops every connection like a crash) and comes back two seconds later.
The server's commits wait and retry (engine/store/retry.py), pooled connections
are replaced (pool_pre_ping), the lease heartbeat retries; new executions are
accepted again once the database answers.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.integration.server_process import ServerProcess, wait_state
from tests.postgres_fixture import PgCluster

pytestmark = pytest.mark.faults

FLOW = """id: steady
namespace: faults.pg
tasks:
  - id: before
    type: shell
    commands: ["sleep 1.5", "echo before"]
  - id: after
    type: shell
    commands: ["echo after"]
"""


def test_server_rides_out_a_postgres_restart(tmp_path: Path, own_pg_cluster: PgCluster) -> None:
    db_url = own_pg_cluster.create_database()
    server = ServerProcess(tmp_path, env={"LANNER_DATABASE_URL": db_url, "LANNER_LEASE_SECONDS": "3"})
    try:
        server.start()
        with server.client() as c:
            assert c.post("/api/v1/flows", content=FLOW, headers={"Content-Type": "application/x-yaml"}).status_code == 200
            before = [c.post("/api/v1/executions/faults.pg/steady").json()["id"] for _ in range(5)]
            for ex_id in before:
                wait_state(c, ex_id, {"RUNNING"}, timeout=30)
            time.sleep(0.3)
            own_pg_cluster.restart(down_seconds=2)  # the shell tasks finish while it is down
            back = time.monotonic()
            after: list[str] = []
            while len(after) < 5:
                try:
                    r = c.post("/api/v1/executions/faults.pg/steady", timeout=10)
                except httpx.HTTPError:
                    r = None
                if r is not None and r.status_code == 200:
                    after.append(r.json()["id"])
                else:
                    assert time.monotonic() - back < 30, "the server never accepted executions again"
                    time.sleep(0.2)
            accepting_after = time.monotonic() - back
            ends = []
            for ex_id in before + after:
                try:
                    ends.append(wait_state(c, ex_id, timeout=60))
                except AssertionError:
                    detail = c.get(f"/api/v1/executions/{ex_id}").json()
                    runs = [(t["taskId"], t["state"], [(a["state"], a.get("message")) for a in t["attempts"]]) for t in detail["taskRuns"]]
                    lines = [(line["taskId"], line["message"]) for line in c.get(f"/api/v1/logs/{ex_id}").json()]
                    raise AssertionError(f"{ex_id} ({'before' if ex_id in before else 'after'} the restart) stuck {detail['state']}: {runs}; logs {lines}") from None
            all_ended_after = time.monotonic() - back
            states = Counter(e["state"] for e in ends)
            reruns = sum(len(tr["attempts"]) - 1 for e in ends for tr in e["taskRuns"])
            print("FAULT-FIGURES postgres restart: " + json.dumps({
                "states": dict(states), "extra_attempts": reruns, "accepting_again_s": round(accepting_after, 2),
                "all_ended_s": round(all_ended_after, 2),
            }))
            assert states == {"SUCCESS": 10}, [(e["id"], e["state"]) for e in ends]
            for e in ends:
                assert [tr["state"] for tr in e["taskRuns"]] == ["SUCCESS", "SUCCESS"], e
                lines = [line["message"] for line in c.get(f"/api/v1/logs/{e['id']}").json()]
                assert "before" in lines and "after" in lines, lines
            assert reruns == 0, "a finished attempt ran again although the process never died"
        assert server.proc is not None and server.proc.poll() is None, "the server died with the database"
        log = server.log()
        assert "retrying until the database is back" in log and "succeeded again" in log, "the outage never hit a commit"
    finally:
        server.stop()
