"""The store suite, run against SQLite and a throwaway PostgreSQL (never skipped)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, String, Table, create_engine, text

from engine.model.execution import Attempt, Execution, TaskRun
from engine.model.ids import new_id, now_iso
from engine.model.state import State
from engine.store import migrations
from engine.store.sql import LogRecord, SqlStore
from engine.store.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lanner.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(url: str):
    s = SqlStore(url)
    yield s
    s.close()


def _execution(state: State = State.RUNNING, *, days_ago: float = 0) -> Execution:
    when = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return Execution(
        id=new_id(), namespace="team.a", flow_id="f", flow_revision=1, state=state,
        inputs={"n": 1}, labels={"env": "prod"}, start_date=when, end_date=when if state.terminal else None,
    )


def _run(ex: Execution, seq: int = 0) -> TaskRun:
    return TaskRun(id=new_id(), execution_id=ex.id, task_id="t", parent_task_run_id=None, value=None, iteration=None,
                   state=State.RUNNING, seq=seq, attempts=[Attempt(State.RUNNING, now_iso())])


def test_migrations_create_everything_metadata_declares(url: str, store: SqlStore) -> None:
    """Fails when a table or column joins ``metadata`` without a migration in engine/store/migrations/versions."""
    assert migrations.current(store.engine) == migrations.head()
    assert migrations.diff(store.engine) == []


def test_the_diff_check_notices_a_table_without_migration(url: str, store: SqlStore) -> None:
    extra = Table("zz_unmigrated", metadata, Column("id", Integer, primary_key=True), Column("v", String(10)))
    try:
        changes = migrations.diff(store.engine)
    finally:
        metadata.remove(extra)
    assert any(c[0] == "add_table" and c[1].name == "zz_unmigrated" for c in changes)


def test_upgrade_is_idempotent_and_adopts_a_database_made_by_create_all(url: str) -> None:
    engine = create_engine(url)
    try:
        migrations.upgrade(engine, migrations.BASELINE)  # the tables create_all made before migrations existed
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        assert migrations.upgrade(engine) == migrations.head()
        assert migrations.upgrade(engine) == migrations.head()
        assert migrations.diff(engine) == []
    finally:
        engine.dispose()


def test_flows_keep_revisions(store: SqlStore) -> None:
    assert store.save_flow("team.a", "f", "v1") == (1, True)
    assert store.save_flow("team.a", "f", "v1") == (1, False)
    assert store.save_flow("team.a", "f", "v2") == (2, True)
    assert store.get_flow("team.a", "f").source == "v2"
    assert store.get_flow("team.a", "f", 1).source == "v1"
    assert store.delete_flow("team.a", "f")
    assert store.get_flow("team.a", "f") is None
    assert [r.revision for r in store.flow_revisions("team.a", "f")] == [1, 2, 3]


def test_executions_task_runs_and_logs_round_trip(store: SqlStore) -> None:
    ex = _execution()
    tr = _run(ex)
    store.write_batch(new_executions=[ex], new_runs=[tr],
                      log_rows=[LogRecord(ex.id, tr.id, "t", 0, "INFO", now_iso(), f"m{i}") for i in range(5)])
    tr.state = State.SUCCESS
    tr.outputs = {"value": "x"}
    ex.state = State.SUCCESS
    store.write_batch(updated_executions=[ex], updated_runs=[tr])
    loaded_ex, runs = store.load_execution(ex.id)
    assert loaded_ex.state == State.SUCCESS and loaded_ex.inputs == {"n": 1}
    assert runs[0].outputs == {"value": "x"} and runs[0].state == State.SUCCESS
    assert [entry["message"] for entry in store.get_logs(ex.id)] == [f"m{i}" for i in range(5)]
    found, total = store.search_executions(namespace="team", labels={"env": "prod"})
    assert total == 1 and found[0].id == ex.id
    assert store.unfinished_execution_ids() == []


def test_search_by_text_order_and_logs_across_executions(store: SqlStore) -> None:
    """Free text is case-insensitive on both databases and its % and _ match themselves; log search joins."""
    from engine.store.log_search import LogQuery, search_logs

    older, newer = _execution(State.SUCCESS, days_ago=1), _execution(State.FAILED)
    older.labels = {"env": "Prod_50%"}
    store.write_batch(new_executions=[older, newer], log_rows=[
        LogRecord(older.id, None, "t", 0, "INFO", now_iso(), "Loaded 3 Rows"),
        LogRecord(newer.id, None, "t", 0, "DEBUG", now_iso(), "loaded nothing")])
    assert [e.id for e in store.search_executions(q="prod_50%")[0]] == [older.id]
    assert store.search_executions(q="prod_5_%")[1] == 0
    assert [e.id for e in store.search_executions(namespace="team", oldest_first=True)[0]] == [older.id, newer.id]
    rows, total = search_logs(store, LogQuery(namespace="team", q="LOADED"), limit=10, offset=0)
    assert total == 2 and [r["executionId"] for r in rows] == [newer.id, older.id] and rows[0]["flowId"] == "f"
    rows, total = search_logs(store, LogQuery(namespace="team.a", min_level="INFO"), limit=10, offset=0)
    assert total == 1 and rows[0]["message"] == "Loaded 3 Rows" and rows[0]["namespace"] == "team.a"
    assert search_logs(store, LogQuery(namespace="tea"), limit=10, offset=0)[1] == 0  # a namespace is not a text prefix


def test_leases_let_one_runner_claim_each_execution(store: SqlStore, url: str) -> None:
    from engine.store.leases import LeaseStore

    other_store = SqlStore(url)
    try:
        a = LeaseStore(store, "node-a", ttl=0.5)
        b = LeaseStore(other_store, "node-b", ttl=0.5)
        mine = _execution()
        store.write_batch(new_executions=[mine])  # inserted owned by node-a
        orphans = [_execution() for _ in range(6)]
        store.lease_owner = None
        store.write_batch(new_executions=orphans)  # no owner: anyone may claim
        store.lease_owner = a.owner
        got_b = set(b.claim())
        got_a = set(a.claim())
        assert got_b == {e.id for e in orphans}, "unowned executions are claimable"
        assert mine.id in got_a and not (got_a & got_b)
        assert mine.id not in got_b, "a live lease is respected"
        assert b.renew() == got_b
        time.sleep(0.7)  # node-b stops renewing: its leases expire
        taken = set(a.claim())
        assert got_b <= taken
        assert b.renew() == set(), "node-b learns it lost them"
        a.release()
        assert set(b.claim()) == taken | {mine.id}
    finally:
        other_store.close()


def test_purge_deletes_old_ended_executions_and_keeps_the_rest(store: SqlStore, tmp_path: Path) -> None:
    from engine.purge import parse_older_than, purge

    old_ok = _execution(State.SUCCESS, days_ago=40)
    old_failed = _execution(State.FAILED, days_ago=40)
    old_running = _execution(State.RUNNING, days_ago=40)
    recent = _execution(State.SUCCESS, days_ago=1)
    allx = [old_ok, old_failed, old_running, recent]
    store.write_batch(new_executions=allx, new_runs=[_run(e) for e in allx],
                      log_rows=[LogRecord(e.id, None, None, None, "INFO", now_iso(), "x") for e in allx])
    report = purge(store, None, parse_older_than("P30D"), keep_failed=True)
    assert report.executions == 1 and report.logs == 1 and report.task_runs == 1
    assert store.get_execution(old_ok.id) is None and store.get_logs(old_ok.id) == []
    for kept in (old_failed, old_running, recent):
        assert store.get_execution(kept.id) is not None
    assert purge(store, None, parse_older_than("P30D")).executions == 1
    assert store.get_execution(old_failed.id) is None
    with pytest.raises(ValueError, match="--older-than"):
        parse_older_than("thirty days")


def test_commands_reach_only_the_owner_once_and_are_purged(store: SqlStore) -> None:
    from engine.purge import parse_older_than, purge
    from engine.runtime.cluster import command_event
    from engine.runtime.events import Resume
    from engine.store import commands
    from engine.store.tables import execution_commands

    store.lease_owner = "node-a"
    mine = _execution()
    store.write_batch(new_executions=[mine])
    store.lease_owner = "node-b"
    theirs = _execution()
    store.write_batch(new_executions=[theirs])
    commands.post(store, mine.id, "kill")
    commands.post(store, theirs.id, "resume", {"taskRunId": "tr1", "inputs": {"ok": True}})
    commands.post(store, mine.id, "resume", {"taskRunId": None, "inputs": None})
    taken = commands.take(store, "node-a")
    assert [(c[0], c[1]) for c in taken] == [(mine.id, "kill"), (mine.id, "resume")], "oldest first, only node-a's"
    assert commands.take(store, "node-a") == [], "a command is taken once"
    got = commands.take(store, "node-b")
    assert [command_event(c) for c in got] == [Resume(theirs.id, "tr1", {"ok": True})]
    with pytest.raises(ValueError, match="unknown execution command"):
        commands.post(store, mine.id, "explode")
    ended = _execution(State.SUCCESS, days_ago=40)
    store.write_batch(new_executions=[ended])
    commands.post(store, ended.id, "kill")  # posted, but the execution ended before its owner took it
    assert purge(store, None, parse_older_than("P30D")).executions == 1
    with store.engine.connect() as conn:
        assert conn.execute(execution_commands.select()).all() == []


def test_a_new_sqlite_database_and_one_at_head_open_without_alembic(tmp_path: Path) -> None:
    """Opening the store costs one query when the schema is current, and a new file gets the newest schema at once."""
    import subprocess
    import sys

    db = tmp_path / "fresh.db"
    probe = (
        "import sys; from engine.store.sql import SqlStore; "
        f"s = SqlStore({f'sqlite:///{db}'!r}); s.close(); print('alembic' in sys.modules)"
    )
    for _ in range(2):  # a new file, then the same file at head
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                             cwd=Path(__file__).resolve().parents[2])
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "False"
    engine = create_engine(f"sqlite:///{db}")
    try:
        assert migrations.current(engine) == migrations.head() == migrations.shipped_head()
        assert migrations.diff(engine) == [], "create_all at head builds what the migrations build"
        migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
        migrations.upgrade(migrated)
        with engine.connect() as a, migrated.connect() as b:
            query = text("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
            assert a.execute(query).all() == b.execute(query).all(), "the same tables and indexes either way"
        migrated.dispose()
    finally:
        engine.dispose()
