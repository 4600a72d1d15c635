"""Log lines across executions: the global Logs page's query (Kestra's ``/api/v1/logs/search``).

One page of lines, newest first, filtered by the namespace (a prefix, Kestra's rule),
flow or execution they belong to, a minimum level, a time range and free text, with
how many lines match in all. Lines carry their execution's namespace and flow id so a
front end can name and link them without a second query. The page is cut by the
database (``LIMIT``/``OFFSET``), never by reading every line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from engine.store.sql import SqlStore, like_escape
from engine.store.tables import executions, logs

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


@dataclass(frozen=True)
class LogQuery:
    """What to match; every field is optional. Times are stored-format UTC texts (``now_iso`` shape)."""

    namespace: str | None = None
    flow_id: str | None = None
    execution_id: str | None = None
    min_level: str | None = None
    after: str | None = None
    before: str | None = None
    q: str | None = None


def _conditions(query: LogQuery) -> list[Any]:
    conds: list[Any] = []
    if query.namespace:
        conds.append(or_(executions.c.namespace == query.namespace, executions.c.namespace.like(like_escape(query.namespace) + ".%", escape="\\")))
    if query.flow_id:
        conds.append(executions.c.flow_id == query.flow_id)
    if query.execution_id:
        conds.append(logs.c.execution_id == query.execution_id)
    if query.min_level:
        name = query.min_level.upper().replace("WARNING", "WARN")
        if name not in LEVELS:
            raise ValueError(f"minLevel '{query.min_level}' is not a log level: use one of {', '.join(LEVELS)}")
        conds.append(logs.c.level.in_(LEVELS[LEVELS.index(name):]))
    if query.after:
        conds.append(logs.c.timestamp >= query.after)
    if query.before:
        conds.append(logs.c.timestamp < query.before)
    if query.q:
        pattern = "%" + like_escape(query.q) + "%"
        conds.append(or_(logs.c.message.ilike(pattern, escape="\\"), logs.c.task_id.ilike(pattern, escape="\\")))
    return conds


def search_logs(store: SqlStore, query: LogQuery, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """(one page of lines, newest first, as the log list's dicts plus ``namespace``/``flowId``; total matching)."""
    conds = _conditions(query)
    joined = logs.join(executions, executions.c.id == logs.c.execution_id)
    rows_q = (select(logs, executions.c.namespace, executions.c.flow_id).select_from(joined).where(*conds)
              .order_by(logs.c.id.desc()).limit(limit).offset(offset))
    count_q = select(func.count()).select_from(joined).where(*conds)
    with store.read_engine.begin() as conn:
        rows = conn.execute(rows_q).all()
        total = int(conn.execute(count_q).scalar_one())
    return [{"id": r.id, "executionId": r.execution_id, "taskRunId": r.task_run_id, "taskId": r.task_id,
             "attempt": r.attempt, "level": r.level, "timestamp": r.timestamp, "message": r.message,
             "namespace": r.namespace, "flowId": r.flow_id} for r in rows], total
