"""Queries over the execution history for tasks: counts per flow, purges by filter, logs, child executions.

These serve the Count, PurgeExecutions, PurgeLogs, log Fetch and ForEachItem
tasks (through the runtime's task services). Dates are compared as the fixed
width UTC texts every timestamp is stored as (:func:`engine.model.ids.now_iso`).
Deletions go in small batches so a large purge never holds a long write lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select

from engine.model.state import TERMINAL_NAMES
from engine.store.commands import delete_for as delete_commands
from engine.store.sql import SqlStore
from engine.store.tables import executions, logs, task_runs

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
BATCH = 200
#: Rows read at a time when a query streams (log Fetch, ForEachItem's merge): memory stays flat.
PAGE = 1000


def stamp(value: datetime) -> str:
    """A datetime as the stored timestamp text (UTC, microseconds)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def levels_from(min_level: str) -> list[str]:
    """``min_level`` and the levels above it (WARNING is WARN)."""
    name = min_level.upper().replace("WARNING", "WARN")
    if name not in LEVELS:
        raise ValueError(f"'{min_level}' is not a log level: use one of {', '.join(LEVELS)}")
    return list(LEVELS[LEVELS.index(name):])


def _namespace_filter(namespace: str | None, flow_id: str | None) -> list[Any]:
    """Kestra's rule: a namespace alone is a prefix (itself and its children); with a flow id it is exact."""
    conds: list[Any] = []
    if namespace and flow_id:
        conds += [executions.c.namespace == namespace, executions.c.flow_id == flow_id]
    elif namespace:
        conds.append(or_(executions.c.namespace == namespace, executions.c.namespace.like(namespace + ".%")))
    elif flow_id:
        conds.append(executions.c.flow_id == flow_id)
    return conds


@dataclass
class PurgeResult:
    executions: int = 0
    logs: int = 0
    storage: int = 0


def count_by_flow(
    store: SqlStore,
    *,
    flows: list[tuple[str, str]] | None,
    namespaces: list[str] | None,
    states: list[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> list[tuple[str, str, int]]:
    """(namespace, flowId, count) of the executions started in [start, end), one row per listed flow.

    A listed flow with no execution counts 0 (so ``{{ count == 0 }}`` finds flows that did not run).
    """
    conds: list[Any] = []
    if start is not None:
        conds.append(executions.c.start_date >= stamp(start))
    if end is not None:
        conds.append(executions.c.start_date < stamp(end))
    if states:
        conds.append(executions.c.state.in_([s.upper() for s in states]))
    scope: list[Any] = []
    for ns, fid in flows or []:
        scope.append(and_(executions.c.namespace == ns, executions.c.flow_id == fid))
    for ns in namespaces or []:
        scope.append(or_(executions.c.namespace == ns, executions.c.namespace.like(ns + ".%")))
    if scope:
        conds.append(or_(*scope))
    q = (
        select(executions.c.namespace, executions.c.flow_id, func.count())
        .where(*conds)
        .group_by(executions.c.namespace, executions.c.flow_id)
        .order_by(executions.c.namespace, executions.c.flow_id)
    )
    with store.read_engine.begin() as conn:
        counts = {(r[0], r[1]): int(r[2]) for r in conn.execute(q)}
    for ns, fid in flows or []:
        counts.setdefault((ns, fid), 0)
    return [(ns, fid, n) for (ns, fid), n in sorted(counts.items())]


def purge_executions(
    store: SqlStore,
    storage: Any | None,
    *,
    namespace: str | None,
    flow_id: str | None,
    start: datetime | None,
    end: datetime,
    states: list[str] | None,
    purge_executions: bool = True,
    purge_logs: bool = True,
    purge_storage: bool = True,
    keep: str | None = None,
) -> PurgeResult:
    """Delete ended executions started in [start, end) with what belongs to them.

    Only ended executions are touched (a running one never loses its history);
    ``keep`` (the execution doing the purge) is never deleted.
    """
    wanted = [s.upper() for s in states] if states else list(TERMINAL_NAMES)
    conds = [executions.c.state.in_([s for s in wanted if s in TERMINAL_NAMES]), executions.c.start_date < stamp(end)]
    conds += _namespace_filter(namespace, flow_id)
    if start is not None:
        conds.append(executions.c.start_date >= stamp(start))
    if keep:
        conds.append(executions.c.id != keep)
    result = PurgeResult()
    after = ""
    while True:
        q = select(executions.c.id, executions.c.namespace, executions.c.flow_id).where(*conds, executions.c.id > after)
        with store.engine.begin() as conn:
            rows = conn.execute(q.order_by(executions.c.id).limit(BATCH)).all()
            if not rows:
                break
            ids = [r.id for r in rows]
            after = ids[-1]
            if purge_logs:
                result.logs += conn.execute(delete(logs).where(logs.c.execution_id.in_(ids))).rowcount or 0
            if purge_executions:
                conn.execute(delete(task_runs).where(task_runs.c.execution_id.in_(ids)))
                result.executions += conn.execute(delete(executions).where(executions.c.id.in_(ids))).rowcount or 0
                delete_commands(conn, ids)
        if purge_storage and storage is not None:
            for r in rows:
                try:
                    storage.delete_execution(r.namespace, r.flow_id, r.id)
                    result.storage += 1
                except Exception:  # noqa: BLE001 - the rows are gone; a leftover file is not worth a failure
                    pass
        if len(rows) < BATCH:
            break
    return result


def iter_logs(store: SqlStore, execution_id: str, *, task_ids: list[str] | None, min_level: str) -> Iterator[dict[str, Any]]:
    """The log lines of an execution, oldest first, read a page at a time."""
    levels = levels_from(min_level)
    after = 0
    while True:
        q = select(logs).where(logs.c.execution_id == execution_id, logs.c.id > after, logs.c.level.in_(levels))
        if task_ids:
            q = q.where(logs.c.task_id.in_(task_ids))
        with store.read_engine.begin() as conn:
            rows = conn.execute(q.order_by(logs.c.id).limit(PAGE)).all()
        for r in rows:
            yield {
                "executionId": r.execution_id,
                "taskRunId": r.task_run_id,
                "taskId": r.task_id,
                "attemptNumber": r.attempt,
                "level": r.level,
                "timestamp": r.timestamp,
                "message": r.message,
            }
        if len(rows) < PAGE:
            return
        after = rows[-1].id


def purge_logs(
    store: SqlStore, *, namespace: str | None, flow_id: str | None, levels: list[str] | None, start: datetime | None, end: datetime
) -> int:
    """Delete the log lines written in [start, end) (of the executions of a namespace or flow)."""
    conds: list[Any] = [logs.c.timestamp < stamp(end)]
    if start is not None:
        conds.append(logs.c.timestamp >= stamp(start))
    if levels:
        conds.append(logs.c.level.in_([lvl.upper().replace("WARNING", "WARN") for lvl in levels]))
    scope = _namespace_filter(namespace, flow_id)
    if scope:
        conds.append(logs.c.execution_id.in_(select(executions.c.id).where(*scope)))
    total = 0
    while True:
        with store.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(logs.c.id).where(*conds).limit(BATCH * 10))]
            if not ids:
                break
            total += conn.execute(delete(logs).where(logs.c.id.in_(ids))).rowcount or 0
        if len(ids) < BATCH * 10:
            break
    return total


def ended_children(store: SqlStore, execution_id: str, task_id: str) -> Iterator[Any]:
    """The ended executions the task runs of ``task_id`` in ``execution_id`` started, oldest first, a page at a time.

    Children start after their parent, so the start date bounds the scan; the
    parent is stored as JSON text, matched on its execution and task ids.
    """
    with store.read_engine.begin() as conn:
        since = conn.execute(select(executions.c.start_date).where(executions.c.id == execution_id)).scalar()
    conds = [
        executions.c.parent.like(f'%"executionId":{json.dumps(execution_id)}%'),
        executions.c.parent.like(f'%"taskId":{json.dumps(task_id)}%'),
        executions.c.state.in_(TERMINAL_NAMES),
    ]
    if since:
        conds.append(executions.c.start_date >= since)
    after = ("", "")
    while True:
        q = (
            select(executions.c.id, executions.c.namespace, executions.c.flow_id, executions.c.state,
                   executions.c.parent, executions.c.outputs, executions.c.start_date)
            .where(*conds, or_(executions.c.start_date > after[0], and_(executions.c.start_date == after[0], executions.c.id > after[1])))
            .order_by(executions.c.start_date, executions.c.id)
            .limit(PAGE)
        )
        with store.read_engine.begin() as conn:
            rows = conn.execute(q).all()
        yield from rows
        if len(rows) < PAGE:
            return
        after = (rows[-1].start_date or "", rows[-1].id)
