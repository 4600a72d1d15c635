"""The native SQLite store (engine/store/sqlite_native.py, what `lanner flow run` opens) and the SQLAlchemy
store are two readers and writers of one database: same schema, same rows, either way round."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from engine.model.execution import Attempt, Execution, TaskRun
from engine.model.ids import new_id, now_iso
from engine.model.state import State
from engine.runtime.local import LocalRunner
from engine.store import migrations, sqlite_schema
from engine.store.leases import LeaseStore
from engine.store.records import LogRecord, StoreOpenError
from engine.store.sql import SqlStore
from engine.store.sqlite_native import NativeSqliteStore
from tests.integration.flow_runs import run

FLOW = """\
id: both
namespace: tests.native
tasks:
  - id: greet
    type: log
    message: "hello {{ execution.id }}"
  - id: put
    type: io.kestra.plugin.core.kv.Set
    key: answer
    value: "42"
  - id: read
    type: log
    message: "kv says {{ kv('answer') }}"
"""


def _schema(db: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    finally:
        conn.close()


def test_the_schema_file_is_what_the_tables_compile_to_at_the_newest_revision() -> None:
    """Fails when a table changes without `python -m engine.store.migrations sqlite-schema`."""
    revision, statements = sqlite_schema.schema()
    assert revision == migrations.head() == sqlite_schema.shipped_head()
    assert sqlite_schema.SCHEMA_FILE.read_text(encoding="utf-8") == migrations.sqlite_schema_text(revision)
    assert len(statements) > 10


def test_a_new_database_is_the_one_the_sqlalchemy_store_creates(tmp_path: Path) -> None:
    NativeSqliteStore(f"sqlite:///{tmp_path / 'native.db'}").close()
    SqlStore(f"sqlite:///{tmp_path / 'alchemy.db'}").close()
    assert _schema(tmp_path / "native.db") == _schema(tmp_path / "alchemy.db")
    engine = create_engine(f"sqlite:///{tmp_path / 'native.db'}")
    try:
        assert migrations.current(engine) == migrations.head()
        assert migrations.diff(engine) == []
    finally:
        engine.dispose()


def test_an_older_database_is_migrated_before_use(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{db}")
    migrations.upgrade(engine, "0005")  # before the dashboards table
    engine.dispose()
    assert "dashboards" not in {name for _, name, _ in _schema(db)}
    store = NativeSqliteStore(f"sqlite:///{db}")
    try:
        assert store.get_flow("a", "b") is None
    finally:
        store.close()
    assert "dashboards" in {name for _, name, _ in _schema(db)}
    engine = create_engine(f"sqlite:///{db}")
    try:
        assert migrations.current(engine) == migrations.head()
    finally:
        engine.dispose()


def test_a_file_that_is_no_database_is_one_sentence(tmp_path: Path) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not a database, " * 100)
    with pytest.raises(StoreOpenError, match=r"cannot open the database sqlite:///.*garbage.db: file is not a database; move"):
        NativeSqliteStore(f"sqlite:///{db}")


def _rows(store: NativeSqliteStore | SqlStore, ex: Execution) -> tuple[object, ...]:
    flow = store.get_flow("team.a", "f")
    return (store.summary(ex.id), store.get_logs(ex.id), store.get_logs(ex.id, min_level="WARN"),
            store.task_run_states(ex.id), store.ended_among([ex.id]), flow and (flow.revision, flow.source, flow.deleted))


@pytest.mark.parametrize("writer", ["native", "sqlalchemy"])
def test_rows_written_by_one_store_read_back_the_same_through_the_other(tmp_path: Path, writer: str) -> None:
    url = f"sqlite:///{tmp_path / 'lanner.db'}"
    native, alchemy = NativeSqliteStore(url), SqlStore(url)
    try:
        w = native if writer == "native" else alchemy
        assert w.save_flow("team.a", "f", "id: f") == (1, True)
        assert w.save_flow("team.a", "f", "id: f") == (1, False)
        ex = Execution(id=new_id(), namespace="team.a", flow_id="f", flow_revision=1, state=State.RUNNING,
                       inputs={"n": 1, "s": "é\"x"}, labels={"env": "prod"}, start_date=now_iso())
        tr = TaskRun(id=new_id(), execution_id=ex.id, task_id="t", parent_task_run_id=None, value="v", iteration=2,
                     state=State.RUNNING, seq=0, attempts=[Attempt(State.RUNNING, now_iso())])
        w.write_batch(new_executions=[ex], new_runs=[tr], log_rows=[
            LogRecord(ex.id, tr.id, "t", 0, "INFO", now_iso(), "one"),
            LogRecord(ex.id, tr.id, "t", 0, "WARN", now_iso(), "two"),
        ])
        ex.state, tr.state, tr.outputs = State.SUCCESS, State.SUCCESS, {"value": [1, {"a": None}]}
        ex.end_date = tr.end_date = now_iso()
        w.write_batch(updated_executions=[ex], updated_runs=[tr])
        seen_native, seen_alchemy = _rows(native, ex), _rows(alchemy, ex)
        assert seen_native == seen_alchemy
        summary = seen_native[0]
        assert isinstance(summary, dict) and summary["state"] == "SUCCESS" and summary["inputs"] == ex.inputs
        assert summary["taskRuns"][0]["outputs"] == {"value": [1, {"a": None}]}
        assert [line["message"] for line in native.get_logs(ex.id, after_id=seen_native[1][0]["id"])] == ["two"]
        assert native.load_execution("nope") is None and native.get_execution("nope") is None
    finally:
        native.close()
        alchemy.close()


def test_leases_on_the_native_store_are_those_the_sqlalchemy_store_sees(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lanner.db'}"
    native, alchemy = NativeSqliteStore(url), SqlStore(url)
    try:
        mine = LeaseStore(native, "node-a", ttl=30)
        theirs = LeaseStore(alchemy, "node-b", ttl=30)
        ex = Execution(id=new_id(), namespace="team.a", flow_id="f", flow_revision=1, state=State.RUNNING, start_date=now_iso())
        native.write_batch(new_executions=[ex])  # inserted owned by node-a
        assert mine.renew() == {ex.id} and mine.owns(ex.id)
        assert theirs.claim() == [] and not theirs.owns(ex.id)
        assert mine.foreign([ex.id]) == set()
        theirs.take(ex.id)
        assert mine.foreign([ex.id]) == {ex.id} and mine.renew() == set()
        mine.take(ex.id)
        mine.release()
        assert theirs.claim() == [ex.id]
        assert theirs.foreign([ex.id]) == set() and mine.foreign([ex.id]) == {ex.id}
    finally:
        native.close()
        alchemy.close()


def test_a_run_on_the_native_store_reads_back_through_sqlalchemy_and_a_kv_flow_still_works(tmp_path: Path) -> None:
    """Log tasks run on the native statements; the kv task and kv() reach the SQLAlchemy store on the same file."""
    with LocalRunner(tmp_path / "home", native_sqlite=True) as runner:
        assert isinstance(runner.store, NativeSqliteStore)
        summary = run(runner, FLOW)
        assert summary["state"] == "SUCCESS", summary
        logs = runner.logs(summary["id"])
    assert any(line["message"] == "kv says 42" for line in logs)
    with LocalRunner(tmp_path / "home") as again:
        assert isinstance(again.store, SqlStore)
        stored = again.store.summary(summary["id"])
        assert stored is not None
        assert [(t["taskId"], t["state"]) for t in stored["taskRuns"]] == [(t["taskId"], t["state"]) for t in summary["taskRuns"]]
        assert again.logs(summary["id"]) == logs
