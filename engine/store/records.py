"""What both stores share without SQLAlchemy: the records they return and the rows they read.

:class:`~engine.store.sql.SqlStore` (SQLAlchemy, SQLite or PostgreSQL) and
:class:`~engine.store.sqlite_native.NativeSqliteStore` (the stdlib ``sqlite3``
module, what ``lanner flow run`` opens) turn rows into the same model objects
here, so a row written by one reads back identically through the other.
Importing this module costs no SQLAlchemy import: the runner, the log buffer
and the CLI name these types at start-up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from engine.model.execution import Attempt, Execution, TaskRun
from engine.model.plain import Frozen, set_field
from engine.model.state import State


class Columns(Protocol):
    """A row read by column name: SQLAlchemy's ``Row._mapping`` or a ``sqlite3.Row``."""

    def __getitem__(self, key: str, /) -> Any: ...


class StoreOpenError(RuntimeError):
    """The database cannot be opened or migrated; the message is one sentence for the user."""


# The two records are plain frozen classes, not dataclasses: every cold ``lanner flow run`` imports this
# module, and building a dataclass costs ~0.5 ms (see engine/model/plain.py).


class FlowRecord(Frozen):
    """One stored revision of a flow: its YAML ``source`` as written."""

    __slots__ = ("namespace", "id", "revision", "source", "deleted", "updated")
    namespace: str
    id: str
    revision: int
    source: str
    deleted: bool
    updated: str

    def __init__(self, namespace: str, id: str, revision: int, source: str, deleted: bool, updated: str) -> None:
        set_field(self, "namespace", namespace)
        set_field(self, "id", id)
        set_field(self, "revision", revision)
        set_field(self, "source", source)
        set_field(self, "deleted", deleted)
        set_field(self, "updated", updated)


class LogRecord(Frozen):
    """One log line of an execution (``task_run_id``, ``task_id`` and ``attempt`` are None for the execution's own)."""

    __slots__ = ("execution_id", "task_run_id", "task_id", "attempt", "level", "timestamp", "message")
    execution_id: str
    task_run_id: str | None
    task_id: str | None
    attempt: int | None
    level: str
    timestamp: str
    message: str

    def __init__(self, execution_id: str, task_run_id: str | None, task_id: str | None, attempt: int | None,
                 level: str, timestamp: str, message: str) -> None:
        set_field(self, "execution_id", execution_id)
        set_field(self, "task_run_id", task_run_id)
        set_field(self, "task_id", task_id)
        set_field(self, "attempt", attempt)
        set_field(self, "level", level)
        set_field(self, "timestamp", timestamp)
        set_field(self, "message", message)


def default_database_url(home: Path) -> str:
    return os.environ.get("LANNER_DATABASE_URL") or f"sqlite:///{home / 'lanner.db'}"


def loads(text: str | None, default: object = None) -> Any:
    return default if text is None else json.loads(text)


def execution_from_row(r: Columns) -> Execution:
    """An execution from a row of ``executions`` (any mapping of column name to value)."""
    return Execution(
        id=r["id"],
        namespace=r["namespace"],
        flow_id=r["flow_id"],
        flow_revision=r["flow_revision"],
        state=State(r["state"]),
        inputs=loads(r["inputs"], {}),
        outputs=loads(r["outputs"], {}),
        labels=loads(r["labels"], {}),
        trigger=loads(r["trigger"]),
        parent=loads(r["parent"]),
        meta=loads(r["meta"], {}),
        start_date=r["start_date"],
        end_date=r["end_date"],
    )


def task_run_from_row(r: Columns) -> TaskRun:
    """A task run from a row of ``task_runs``."""
    return TaskRun(
        id=r["id"],
        execution_id=r["execution_id"],
        task_id=r["task_id"],
        parent_task_run_id=r["parent_task_run_id"],
        value=r["value"],
        iteration=r["iteration"],
        state=State(r["state"]),
        seq=r["seq"],
        attempts=[Attempt.from_dict(a) for a in loads(r["attempts"], [])],
        outputs=loads(r["outputs"]),
        meta=loads(r["meta"], {}) or {},
        start_date=r["start_date"],
        end_date=r["end_date"],
    )


def flow_from_row(r: Columns) -> FlowRecord:
    return FlowRecord(r["namespace"], r["id"], r["revision"], r["source"], bool(r["deleted"]), r["updated"])


def log_from_row(r: Columns) -> dict[str, Any]:
    """A log line in the JSON shape of the API."""
    return {
        "id": r["id"],
        "executionId": r["execution_id"],
        "taskRunId": r["task_run_id"],
        "taskId": r["task_id"],
        "attempt": r["attempt"],
        "level": r["level"],
        "timestamp": r["timestamp"],
        "message": r["message"],
    }


#: Levels from the least to the most severe: ``min_level`` keeps this one and those after it.
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


def levels_from(min_level: str | None) -> tuple[str, ...] | None:
    """The levels a ``min_level`` filter keeps (None: no filter)."""
    if not min_level or min_level.upper() not in LOG_LEVELS:
        return None
    return LOG_LEVELS[LOG_LEVELS.index(min_level.upper()):]
