"""The polling SQL trigger: fires with the rows it finds, marks them with afterSQL, renders its properties."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lanner_jdbc.trigger import SqliteTrigger

from engine.iontext import loads
from engine.model.task import TaskFailed
from engine.model.trigger import TriggerContext
from engine.storage import InternalStorage


def _ctx(tmp_path: Path, render=None) -> TriggerContext:
    return TriggerContext(namespace="tests.sql", flow_id="orders", trigger_id="new", now=datetime.now(UTC),
                          logger=logging.getLogger("test"), storage=InternalStorage(tmp_path / "storage"), renderer=render)


def test_trigger_fires_on_new_rows_then_not_again(tmp_path: Path):
    db = tmp_path / "q.db"
    sqlite3.connect(db).executescript(
        "CREATE TABLE jobs (id INTEGER, done INTEGER DEFAULT 0); INSERT INTO jobs (id) VALUES (1), (2);")
    trig = SqliteTrigger(id="new", type="io.kestra.plugin.jdbc.sqlite.Trigger", url="jdbc:sqlite:{{ vars_db }}",
                         sql="SELECT id FROM jobs WHERE done = 0 ORDER BY id", afterSQL="UPDATE jobs SET done = 1 WHERE done = 0",
                         interval="PT1S")
    assert trig.interval_seconds() == 1
    render = lambda value: value.replace("{{ vars_db }}", str(db)) if isinstance(value, str) else value  # noqa: E731
    event = trig.poll(_ctx(tmp_path, render))
    assert event is not None and event.variables == {"rows": [{"id": 1}, {"id": 2}], "size": 2}
    assert trig.poll(_ctx(tmp_path, render)) is None  # afterSQL marked them
    sqlite3.connect(db).executescript("INSERT INTO jobs (id) VALUES (3);")
    stored = trig.model_copy(update={"fetch_type": "STORE"}).poll(_ctx(tmp_path, render))
    assert stored is not None and stored.variables["size"] == 1
    uri = stored.variables["uri"]
    assert uri.startswith("lanner:///tests.sql/orders/executions/")
    assert loads(InternalStorage(tmp_path / "storage").read_text(uri, namespace="tests.sql")) == [{"id": 3}]


def test_trigger_refuses_fetch_type_none_and_masks_its_password(tmp_path: Path):
    none = SqliteTrigger(id="t", type="io.kestra.plugin.jdbc.sqlite.Trigger", url=f"jdbc:sqlite:{tmp_path}/x.db",
                         sql="SELECT 1", fetchType="NONE")
    with pytest.raises(TaskFailed, match="fetchType NONE is not valid for triggers"):
        none.poll(_ctx(tmp_path))
    from lanner_jdbc.trigger import PostgresTrigger

    from tests.postgres_fixture import free_port

    port = free_port()
    pg = PostgresTrigger(id="t", type="io.kestra.plugin.jdbc.postgresql.Trigger",
                         url=f"jdbc:postgresql://127.0.0.1:{port}/db?password=Trig-Secret-9", username="u", sql="SELECT 1")
    with pytest.raises(TaskFailed) as err:
        pg.poll(_ctx(tmp_path))
    assert f"cannot connect to 127.0.0.1:{port}/db as u" in err.value.message and "Trig-Secret-9" not in err.value.message
