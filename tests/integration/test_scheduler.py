"""The scheduler in-process on a real SQLite store, driven by a fake clock (no sleeping for ticks)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.store.sql import SqlStore
from engine.store.triggers import TriggerStore
from engine.triggers.scheduler import Scheduler

DAILY_PARIS = """
id: nightly
namespace: sched.test
tasks:
  - id: t
    type: log
    message: "{{ trigger.date }} after {{ trigger.previous }}"
triggers:
  - id: at-0230
    type: schedule
    cron: "30 2 * * *"
    timezone: Europe/Paris
"""


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def executions(runner: Any, flow_id: str) -> list[dict[str, Any]]:
    runner.sync()  # the scheduler does not wait for its executions to be stored
    found, _ = runner.store.search_executions(flow_id=flow_id, limit=1000)
    return [runner.summary(e.id) for e in found]


def drive(sched: Scheduler, clock: Clock, until: datetime, step: timedelta) -> None:
    while clock.now < until:
        clock.now += step
        sched.run_once(clock.now)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2024-03-30T12:00:00+01:00", ["2024-03-31T03:30:00+02:00", "2024-04-01T02:30:00+02:00"]),
        ("2024-10-26T12:00:00+02:00", ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"]),
    ],
)
def test_dst_nights_fire_exactly_once_each_day(runner: Any, start: str, expected: list[str]) -> None:
    runner.deploy(DAILY_PARIS)
    clock = Clock(datetime.fromisoformat(start).astimezone(UTC))
    sched = Scheduler(runner, clock=clock)
    sched.run_once(clock.now)
    drive(sched, clock, clock.now + timedelta(hours=40), timedelta(minutes=10))
    # A second scheduler on the same store replays the same window: nothing fires twice.
    other = Scheduler(runner, clock=Clock(clock.now))
    for ts in [datetime.fromisoformat(d) for d in expected]:
        assert not other.store.claim("sched.test", "nightly", "at-0230", ts.astimezone(UTC).isoformat())
    for ex in executions(runner, "nightly"):
        runner.wait(ex["id"], timeout=10)
    dates = sorted(ex["trigger"]["date"] for ex in executions(runner, "nightly"))
    assert dates == expected


def test_two_schedulers_fire_a_tick_once(runner: Any) -> None:
    runner.deploy(DAILY_PARIS.replace('"30 2 * * *"', '"*/5 * * * *"').replace("nightly", "often"))
    t0 = datetime(2024, 6, 1, 10, 1, tzinfo=UTC)
    a, b = Scheduler(runner, clock=Clock(t0)), Scheduler(runner, clock=Clock(t0))
    a.run_once(t0)
    b.run_once(t0)
    for s in (a, b):
        s.run_once(t0 + timedelta(minutes=4, seconds=30))  # 10:05 is due for both
    assert [ex["trigger"]["date"] for ex in executions(runner, "often")] == ["2024-06-01T12:05:00+02:00"]
    ex = runner.wait(executions(runner, "often")[0]["id"], timeout=10)
    assert runner.logs(ex["id"])[0]["message"] == "2024-06-01T12:05:00+02:00 after 2024-06-01T12:00:00+02:00"


def test_claim_is_atomic_across_store_connections(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    stores = [TriggerStore(SqlStore(url)) for _ in range(4)]
    wins: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def claim(store: TriggerStore) -> None:
        barrier.wait()
        wins.append(store.claim("ns", "flow", "trig", "2024-01-01T00:00:00+00:00"))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, False, False, True]
    for s in stores:
        s.store.close()


def test_missed_ticks_are_not_run_after_downtime(runner: Any) -> None:
    runner.deploy(DAILY_PARIS.replace('"30 2 * * *"', '"0 * * * *"').replace("nightly", "hourly"))
    t0 = datetime(2024, 6, 1, 10, 30, tzinfo=UTC)
    first = Scheduler(runner, clock=Clock(t0))
    first.run_once(t0)
    assert first.store.get("sched.test", "hourly", "at-0230").next_date == "2024-06-01T11:00:00+00:00"
    later = t0 + timedelta(hours=5)  # the server was down for five ticks
    restarted = Scheduler(runner, clock=Clock(later))
    restarted.run_once(later)
    assert executions(runner, "hourly") == []
    assert restarted.store.get("sched.test", "hourly", "at-0230").next_date == "2024-06-01T16:00:00+00:00"
    restarted.run_once(later + timedelta(minutes=31))
    assert [e["trigger"]["date"] for e in executions(runner, "hourly")] == ["2024-06-01T18:00:00+02:00"]  # 16:00 UTC shown in the trigger's zone


def test_late_maximum_delay_conditions_and_stop_after(runner: Any) -> None:
    source = """
id: picky
namespace: sched.test
tasks:
  - id: boom
    type: fail
triggers:
  - id: mondays
    type: schedule
    cron: "0 9 * * *"
    lateMaximumDelay: PT1M
    stopAfter: [FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.DayWeek
        dayOfWeek: MONDAY
"""
    runner.deploy(source)
    sunday = datetime(2024, 6, 2, 8, 0, tzinfo=UTC)
    sched = Scheduler(runner, clock=Clock(sunday))
    sched.run_once(sunday)
    sched.run_once(sunday + timedelta(hours=1, seconds=5))  # Sunday 09:00: condition false
    assert executions(runner, "picky") == []
    sched.run_once(sunday + timedelta(days=1, hours=1, minutes=5))  # Monday 09:00, but 5 minutes late
    assert executions(runner, "picky") == []
    sched.run_once(sunday + timedelta(days=8))  # next Monday, 08:00: not yet due
    sched.run_once(sunday + timedelta(days=8, hours=1, seconds=10))
    [ex] = executions(runner, "picky")
    assert runner.wait(ex["id"], timeout=10)["state"] == "FAILED"
    runner.sync()
    sched.run_once(sunday + timedelta(days=8, hours=1, seconds=20))  # processes the end: stopAfter FAILED
    assert sched.store.get("sched.test", "picky", "mondays").disabled
    sched.run_once(sunday + timedelta(days=15, hours=1, seconds=10))
    assert len(executions(runner, "picky")) == 1


def test_flow_trigger_preconditions_wait_for_every_upstream_flow(runner: Any) -> None:
    upstream = {name: f"id: {name}\nnamespace: sched.up\ntasks:\n  - id: t\n    type: log\n    message: {name}\n" for name in ("left", "right")}
    runner.deploy("""
id: joined
namespace: sched.test
tasks:
  - id: t
    type: log
    message: "after {{ trigger.flowId }}"
triggers:
  - id: both
    type: flow
    preconditions:
      flows:
        - namespace: sched.up
          flowId: left
          states: [SUCCESS]
        - namespace: sched.up
          flowId: right
          states: [SUCCESS]
""")
    sched = Scheduler(runner)
    sched.run_once()
    runner.run(upstream["left"])
    sched.run_once()
    assert executions(runner, "joined") == []
    right = runner.run(upstream["right"])
    sched.run_once()
    [ex] = executions(runner, "joined")
    assert ex["trigger"]["executionId"] == right["id"] and ex["trigger"]["flowId"] == "right"
    runner.run(upstream["right"])  # only one side again: no firing
    sched.run_once()
    assert len(executions(runner, "joined")) == 1


def test_a_tick_whose_scheduler_died_before_starting_it_is_started_once(runner: Any) -> None:
    """The firing row is written, the process dies before the execution is: another pass starts it, once."""
    from sqlalchemy import update

    from engine.store.tables import trigger_firings

    runner.deploy(DAILY_PARIS)
    sched_a, sched_b = Scheduler(runner), Scheduler(runner)
    sched_a.catalog.refresh()
    sched_b.catalog.refresh()
    date = "2024-04-01T00:30:00+00:00"
    # What a scheduler that died between its two writes leaves behind:
    assert sched_a.store.claim("sched.test", "nightly", "at-0230", date, execution_id="died-before-start")
    with runner.store.engine.begin() as conn:  # ... and it happened 30 s ago
        conn.execute(update(trigger_firings).values(created=(datetime.now(UTC) - timedelta(seconds=30)).isoformat()))
    assert [f.execution_id for f in sched_a.store.orphans()] == ["died-before-start"]
    barrier = threading.Barrier(2)

    def recover(s: Scheduler) -> None:
        barrier.wait()
        s._recover_orphans()

    threads = [threading.Thread(target=recover, args=(s,)) for s in (sched_a, sched_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = executions(runner, "nightly")
    assert len(runs) == 1
    assert runs[0]["trigger"]["date"] == "2024-04-01T02:30:00+02:00"
    assert sched_a.store.orphans() == []
    # A tick that could not start (bad inputs, disabled flow) is recorded as such and never retried.
    assert sched_a.store.claim("sched.test", "nightly", "at-0230", "2024-04-02T00:30:00+00:00", execution_id="x")
    sched_a.store.set_execution("sched.test", "nightly", "at-0230", "2024-04-02T00:30:00+00:00", None)
    with runner.store.engine.begin() as conn:
        conn.execute(update(trigger_firings).values(created=(datetime.now(UTC) - timedelta(seconds=30)).isoformat()))
    assert sched_a.store.orphans() == []
