"""Two servers on one PostgreSQL share an every-second schedule; one is SIGKILLed halfway.

Each tick must fire exactly once in total: 40 executions for a 40-second window,
one per second, none twice, none lost, all ending SUCCESS (those the killed
server owned are claimed by the other one when their 3-second lease expires).
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.server_process import ServerProcess

pytestmark = pytest.mark.faults

FLOW = """id: every_second
namespace: faults.schedule
tasks:
  - id: hello
    type: log
    message: "tick {{ trigger.date }}"
  - id: nap
    type: shell
    commands: ["sleep 2"]
triggers:
  - id: tick
    type: schedule
    cron: "* * * * * *"
"""
WINDOW = 40


def _rows(db_url: str, sql: str) -> list[tuple]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_every_second_schedule_fires_exactly_once_per_tick_across_two_servers(tmp_path: Path, pg_url: str) -> None:
    env = {"LANNER_DATABASE_URL": pg_url, "LANNER_LEASE_SECONDS": "3"}
    a = ServerProcess(tmp_path / "a", env={**env, "LANNER_NODE_ID": "sched-a"})
    b = ServerProcess(tmp_path / "b", env={**env, "LANNER_NODE_ID": "sched-b"})
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.start(), (a, b)))
        with a.client() as client:
            r = client.post("/api/v1/flows", content=FLOW, headers={"Content-Type": "application/x-yaml"})
            assert r.status_code == 200, r.text
        deployed = time.monotonic()
        time.sleep(WINDOW / 2 - 5)
        # Kill halfway the server that holds an unfinished execution at that moment (so the takeover is exercised
        # too): which of the two runs the ticks is the lease's choice, not the test's.
        servers = {"sched-a": a, "sched-b": b}
        unfinished_query = "SELECT id, owner FROM executions WHERE end_date IS NULL AND owner IS NOT NULL"
        open_rows: list[tuple] = []
        while time.monotonic() < deployed + WINDOW / 2 + 10:
            open_rows = [r for r in _rows(pg_url, unfinished_query) if r[1] in servers]
            if open_rows:
                break
            time.sleep(0.2)
        assert open_rows, "no server held an unfinished execution halfway through the window"
        victim_id = open_rows[0][1]
        victim, survivor = servers[victim_id], servers["sched-b" if victim_id == "sched-a" else "sched-a"]
        victim.signal(signal.SIGKILL)
        victim.wait_exit(10)
        killed_at = time.time()
        # Read right before the kill: the survivor may already have taken the leases over by now.
        held_query = f"SELECT id FROM executions WHERE owner = '{victim_id}' AND end_date IS NULL"
        held = sorted({r[0] for r in open_rows if r[1] == victim_id} | {r[0] for r in _rows(pg_url, held_query)})
        # Run until the window (which starts at the first tick) is over, plus time for the last executions to end.
        time.sleep(max(0.0, deployed + WINDOW + 6 - time.monotonic()))
        assert survivor.proc is not None and survivor.proc.poll() is None, survivor.log()[-3000:]

        execs = _rows(pg_url, "SELECT id, state, trigger, owner FROM executions WHERE flow_id = 'every_second'")
        dates = [datetime.fromisoformat(json.loads(t)["date"]) for _, _, t, _ in execs]
        first = min(dates)
        in_window = [d for d in dates if first <= d < first + timedelta(seconds=WINDOW)]
        per_tick = Counter(dates)
        duplicates = sum(n - 1 for n in per_tick.values())
        expected = {first + timedelta(seconds=i) for i in range(int((max(dates) - first).total_seconds()) + 1)}
        lost = sorted(expected - set(dates))
        firings = _rows(pg_url, "SELECT date, execution_id FROM trigger_firings WHERE flow_id = 'every_second'")
        orphan_firings = [f for f in firings if f[1] is None or f[1] not in {e[0] for e in execs}]
        by_owner = Counter(e[3] for e in execs)
        states = Counter(e[1] for e in execs)
        print("FAULT-FIGURES two schedulers: " + json.dumps({
            "executions": len(execs), "in_window": len(in_window), "duplicates": duplicates, "lost_ticks": len(lost),
            "orphan_firings": len(orphan_firings), "states": dict(states), "by_owner": dict(by_owner),
            "held_by_killed_server": len(held),
        }))
        assert duplicates == 0, f"ticks fired twice: {[d for d, n in per_tick.items() if n > 1][:5]}"
        assert lost == [], f"ticks never fired: {lost[:5]}"
        assert len(in_window) == WINDOW
        assert datetime.fromtimestamp(killed_at, first.tzinfo) < first + timedelta(seconds=WINDOW), "the kill was not inside the window"
        assert sum(1 for d in dates if d.timestamp() > killed_at + 1) >= 15, "the surviving server did not carry on alone"
        unfinished = [e for e in execs if e[1] != "SUCCESS"]
        # Only the last seconds may still be running; nothing the killed server held stays stuck.
        stuck = [e for e in unfinished if datetime.fromisoformat(json.loads(e[2])["date"]).timestamp() < time.time() - 10]
        assert stuck == [], f"executions stuck after the kill: {stuck[:3]}"
        final = dict((e[0], e[1]) for e in execs)
        assert held and all(final[i] == "SUCCESS" for i in held), f"what the killed server held did not end SUCCESS: {held}"
    finally:
        for server in (a, b):
            server.stop()
