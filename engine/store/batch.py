"""Writing one batch of the runner's state changes: the store's hot path.

The runner commits every batch of state changes (new and changed executions and
task runs, log lines) in one transaction before it acts on them, so a ForEach
over 100,000 light tasks writes 100,000 task-run rows through here. What makes a
row cheap:

* rows are plain tuples and each statement is SQL text built once per
  paramstyle, handed to the driver's ``executemany`` through
  ``Connection.exec_driver_sql`` (SQLAlchemy's compiled-statement path
  processes every row's parameters in Python, several µs a row);
* JSON is written by one reused encoder (``json.dumps`` with options builds an
  encoder per call), and the attempts of a task run, whose shape is fixed, are
  formatted directly.

The transaction, its ``BEGIN IMMEDIATE`` on SQLite and the mapping of driver
errors (what :mod:`engine.store.retry` reads) stay SQLAlchemy's, or are the
``sqlite3`` module's own when :mod:`engine.store.sqlite_native` writes the batch
(the same statements, on a ``sqlite3.Connection``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.model.execution import HISTORY, Attempt, Execution, TaskRun
from engine.model.ids import now_iso
from engine.model.plain import Frozen, set_field

if TYPE_CHECKING:
    from sqlalchemy import Connection

#: One encoder for every value the store writes: compact, anything unknown as its text.
ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)

EXECUTION_COLUMNS = (
    "id", "namespace", "flow_id", "flow_revision", "state", "inputs", "outputs", "labels", "trigger",
    "parent", "meta", "start_date", "end_date", "updated", "owner", "lease_until",
)  # fmt: skip
#: What an update of an execution rewrites (never its id or its lease).
EXECUTION_UPDATED = EXECUTION_COLUMNS[1:14]
TASK_RUN_COLUMNS = (
    "id", "execution_id", "task_id", "parent_task_run_id", "value", "iteration", "state", "seq",
    "attempts", "outputs", "meta", "start_date", "end_date",
)  # fmt: skip
TASK_RUN_UPDATED = ("state", "attempts", "outputs", "meta", "start_date", "end_date")
LOG_COLUMNS = ("execution_id", "task_run_id", "task_id", "attempt", "level", "timestamp", "message")


def dumps(value: object) -> str | None:
    """``value`` as compact JSON (None stays NULL)."""
    if value is None:
        return None
    if type(value) is dict and len(value) <= 8:
        flat = _flat_object(value)
        if flat is not None:
            return flat
    return ENCODER.encode(value)


def _flat_object(value: dict[Any, Any]) -> str | None:
    """The JSON of a small dict of text, whole numbers, booleans and nulls (most task outputs:
    ``{"value": "3"}``) without the encoder's set-up; None for anything else."""
    parts = []
    quotes = 0  # how many quotes the text has when no key or value needs escaping
    for key, item in value.items():
        if type(key) is not str:
            return None
        kind = type(item)
        if kind is str:
            parts.append(f'"{key}":"{item}"')
            quotes += 4
            continue
        if item is None:
            text = "null"
        elif kind is bool:
            text = "true" if item else "false"
        elif kind is int:
            text = str(item)
        else:
            return None
        parts.append(f'"{key}":{text}')
        quotes += 2
    return _unescaped("{" + ",".join(parts) + "}", quotes) or _escaped_flat_object(value)


def _unescaped(text: str, quotes: int) -> str | None:
    """``text`` when the keys and values formatted into it needed no escaping (checked once on the
    whole text: no backslash, no control character, no quote but the ``quotes`` put around them)."""
    if "\\" in text or text.count('"') != quotes or not text.isprintable():
        return None
    return text


def _escaped_flat_object(value: dict[str, Any]) -> str:
    encode = ENCODER.encode  # a string goes straight to the C escaper
    return "{" + ",".join(f"{encode(k)}:{encode(v)}" for k, v in value.items()) + "}"


def meta_json(meta: dict[str, Any]) -> str | None:
    """The JSON of a record's ``meta`` (None when empty).

    Most task runs' meta is only their state history, ``{"stateHistory": [{"state", "date"}...]}``:
    it is formatted directly, which costs a third of the encoder's set-up for a nested value.
    """
    if not meta:
        return None
    if len(meta) == 1:
        history = meta.get(HISTORY)
        if type(history) is list:
            text = _history_json(history)
            if text is not None:
                return f'{{"{HISTORY}":{text}}}'
    return ENCODER.encode(meta)


def _history_json(history: list[Any]) -> str | None:
    """The JSON of a state history whose entries are ``{"state": text, "date": text}``; None for any other shape."""
    parts = []
    for entry in history:
        if type(entry) is not dict or len(entry) != 2:
            return None
        state = entry.get("state")
        date = entry.get("date")
        if type(state) is not str or type(date) is not str:
            return None
        parts.append(f'{{"state":"{state}","date":"{date}"}}')
    text = f"[{','.join(parts)}]"
    # Checked once, whole: no text needed escaping when it holds no backslash, no control character
    # and no quote but the 8 of each entry's keys and values.
    if "\\" in text or text.count('"') != 8 * len(parts) or not text.isprintable():
        return None
    return text


def attempts_json(attempts: list[Attempt]) -> str:
    """The JSON of ``[a.to_dict() for a in attempts]``, without building the dicts."""
    parts = []
    quotes = 0
    for a in attempts:
        if a.message or a.log_file:
            return ENCODER.encode([x.to_dict() for x in attempts])
        start, end = a.start_date, a.end_date
        start_text = "null" if start is None else f'"{start}"'
        end_text = "null" if end is None else f'"{end}"'
        parts.append(f'{{"state":"{a.state._value_}","startDate":{start_text},"endDate":{end_text}}}')
        quotes += 8 + (start is not None) * 2 + (end is not None) * 2
    text = f"[{','.join(parts)}]"
    return _unescaped(text, quotes) or ENCODER.encode([x.to_dict() for x in attempts])


class BatchStatements(Frozen):
    """The batch's SQL, in the placeholder style of one DB-API driver."""

    __slots__ = ("insert_execution", "update_execution", "insert_task_run", "update_task_run", "insert_log")
    insert_execution: str
    update_execution: str
    insert_task_run: str
    update_task_run: str
    insert_log: str

    def __init__(self, insert_execution: str, update_execution: str, insert_task_run: str, update_task_run: str,
                 insert_log: str) -> None:
        set_field(self, "insert_execution", insert_execution)
        set_field(self, "update_execution", update_execution)
        set_field(self, "insert_task_run", insert_task_run)
        set_field(self, "update_task_run", update_task_run)
        set_field(self, "insert_log", insert_log)

    @classmethod
    def for_paramstyle(cls, paramstyle: str) -> BatchStatements:
        if paramstyle == "qmark":
            mark = "?"
        elif paramstyle in ("format", "pyformat"):
            mark = "%s"
        else:  # pragma: no cover - SQLite and psycopg are the supported drivers
            raise ValueError(f"the store does not support database drivers with the {paramstyle!r} parameter style")

        def insert(table: str, columns: Sequence[str]) -> str:
            return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(mark for _ in columns)})"

        def update(table: str, columns: Sequence[str]) -> str:
            return f"UPDATE {table} SET {', '.join(f'{c} = {mark}' for c in columns)} WHERE id = {mark}"

        return cls(
            insert("executions", EXECUTION_COLUMNS),
            update("executions", EXECUTION_UPDATED),
            insert("task_runs", TASK_RUN_COLUMNS),
            update("task_runs", TASK_RUN_UPDATED),
            insert("logs", LOG_COLUMNS),
        )


def execution_values(ex: Execution, updated: str) -> tuple[Any, ...]:
    """The values of :data:`EXECUTION_COLUMNS` up to ``updated`` (the lease is added by the caller)."""
    return (
        ex.id, ex.namespace, ex.flow_id, ex.flow_revision, str(ex.state), dumps(ex.inputs), dumps(ex.outputs),
        dumps(ex.labels), dumps(ex.trigger), dumps(ex.parent), dumps(ex.meta), ex.start_date, ex.end_date, updated,
    )  # fmt: skip


def task_run_values(tr: TaskRun) -> tuple[Any, ...]:
    """The values of :data:`TASK_RUN_COLUMNS`."""
    return (
        tr.id, tr.execution_id, tr.task_id, tr.parent_task_run_id, tr.value, tr.iteration, str(tr.state), tr.seq,
        attempts_json(tr.attempts), dumps(tr.outputs), meta_json(tr.meta), tr.start_date, tr.end_date,
    )  # fmt: skip


def write(
    conn: Connection | sqlite3.Connection,
    sql: BatchStatements,
    *,
    new_executions: Sequence[Execution],
    updated_executions: Sequence[Execution],
    new_runs: Sequence[TaskRun],
    updated_runs: Sequence[TaskRun],
    log_rows: Sequence[Any],
    lease: tuple[str, float] | None,
) -> None:
    """Write one batch inside the caller's transaction. ``lease``: (owner, seconds) new executions are inserted with."""
    if new_executions or updated_executions:
        updated = now_iso()
        if new_executions:
            owner, until = (lease[0], time.time() + lease[1]) if lease else (None, None)
            _many(conn, sql.insert_execution, [(*execution_values(e, updated), owner, until) for e in new_executions])
        if updated_executions:
            _many(conn, sql.update_execution, [(*execution_values(e, updated)[1:], e.id) for e in updated_executions])
    if new_runs:
        _many(conn, sql.insert_task_run, [task_run_values(t) for t in new_runs])
    if updated_runs:
        _many(conn, sql.update_task_run, [
            (str(t.state), attempts_json(t.attempts), dumps(t.outputs), meta_json(t.meta),
             t.start_date, t.end_date, t.id)
            for t in updated_runs
        ])  # fmt: skip
    if log_rows:
        _many(conn, sql.insert_log, [
            (r.execution_id, r.task_run_id, r.task_id, r.attempt, r.level, r.timestamp, r.message) for r in log_rows
        ])  # fmt: skip


def _many(conn: Connection | sqlite3.Connection, statement: str, rows: list[tuple[Any, ...]]) -> None:
    # The driver's executemany (execute for a single row: exec_driver_sql picks by the count).
    if not isinstance(conn, sqlite3.Connection):
        conn.exec_driver_sql(statement, rows)
    elif len(rows) == 1:
        conn.execute(statement, rows[0])
    else:
        conn.executemany(statement, rows)
