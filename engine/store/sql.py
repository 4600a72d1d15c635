"""The store: flows (with revisions), executions, task runs and logs in SQL.

SQLAlchemy Core on SQLite (embedded default, WAL mode, immediate write
transactions, busy timeout) or PostgreSQL. The runner writes every batch of
state changes in one transaction before acting on it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from engine.model.execution import Execution, TaskRun
from engine.model.ids import now_iso
from engine.model.state import TERMINAL_NAMES
from engine.store import batch
from engine.store.base import StoreBase
from engine.store.records import (
    FlowRecord,
    LogRecord,
    StoreOpenError,
    default_database_url,
    execution_from_row,
    flow_from_row,
    levels_from,
    log_from_row,
    task_run_from_row,
)
from engine.store.tables import execution_commands, executions, flows, logs, task_runs

#: Names other modules import from here (defined in engine.store.records, which needs no SQLAlchemy).
__all__ = ["FlowRecord", "LogRecord", "SqlStore", "StoreOpenError", "default_database_url", "like_escape"]


# Hot statements built once: SQLAlchemy then finds their compiled form in its
# cache without rebuilding the expression and its cache key on every call.
_GET_EXECUTION = select(executions).where(executions.c.id == bindparam("ex_id"))
_RUNS_OF_EXECUTION = select(task_runs).where(task_runs.c.execution_id == bindparam("ex_id")).order_by(task_runs.c.seq)
_LATEST_FLOW = (
    select(flows)
    .where(flows.c.namespace == bindparam("ns"), flows.c.id == bindparam("fid"))
    .order_by(flows.c.revision.desc())
    .limit(1)
)
_FLOW_REVISION = select(flows).where(flows.c.namespace == bindparam("ns"), flows.c.id == bindparam("fid"), flows.c.revision == bindparam("rev"))


def like_escape(text: str) -> str:
    """``text`` for a LIKE pattern with ``escape="\\"``: its own ``%`` and ``_`` match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlStore(StoreBase):
    """Repository of flows, executions, task runs and logs."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = self._sqlite_engine(url, immediate=True)
            self.read_engine = self._sqlite_engine(url, immediate=False)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, future=True)
            self.read_engine = self.engine
        self._flow_lock = threading.Lock()
        self._batch_sql = batch.BatchStatements.for_paramstyle(self.engine.dialect.paramstyle)
        # The schema comes from the Alembic migrations (engine/store/migrations), never create_all.
        from engine.store import migrations

        try:
            migrations.ensure_head(self.engine, self.read_engine)
        except SQLAlchemyError as exc:  # not a database, a corrupt file, a server that does not answer
            self.close()
            raise StoreOpenError(self._describe_open_error(exc)) from None
        self.lease_owner = None
        self.lease_seconds = 30.0

    def _describe_open_error(self, exc: SQLAlchemyError) -> str:
        """One sentence: which database, what went wrong, what to do."""
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = self.engine.url.render_as_string(hide_password=True)
        if self.is_sqlite:
            return (f"cannot open the database {where}: {reason}; move that file away (or restore it from a backup), "
                    "or point --home / LANNER_HOME elsewhere")
        return f"cannot open the database {where}: {reason}; check LANNER_DATABASE_URL and that the server is reachable"

    @staticmethod
    def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, future=True)
        sync = os.environ.get("LANNER_SQLITE_SYNCHRONOUS", "NORMAL")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _rec: object) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=OFF")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    # --- flows ------------------------------------------------------------------------------------

    def save_flow(self, namespace: str, flow_id: str, source: str) -> tuple[int, bool]:
        """Store a new revision unless the source is unchanged. Returns (revision, created)."""
        with self._flow_lock, self.engine.begin() as conn:
            row = conn.execute(
                select(flows.c.revision, flows.c.source, flows.c.deleted)
                .where(flows.c.namespace == namespace, flows.c.id == flow_id)
                .order_by(flows.c.revision.desc())
                .limit(1)
            ).first()
            if row is not None and row.source == source and not row.deleted:
                return row.revision, False
            revision = (row.revision + 1) if row is not None else 1
            conn.execute(insert(flows).values(namespace=namespace, id=flow_id, revision=revision, source=source, deleted=False, updated=now_iso()))
            return revision, True

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowRecord | None:
        with self.read_engine.begin() as conn:
            if revision is None:
                row = conn.execute(_LATEST_FLOW, {"ns": namespace, "fid": flow_id}).first()
            else:
                row = conn.execute(_FLOW_REVISION, {"ns": namespace, "fid": flow_id, "rev": revision}).first()
        if row is None or (revision is None and row.deleted):
            return None
        return flow_from_row(row._mapping)

    def flow_revisions(self, namespace: str, flow_id: str) -> list[FlowRecord]:
        q = select(flows).where(flows.c.namespace == namespace, flows.c.id == flow_id).order_by(flows.c.revision)
        with self.read_engine.begin() as conn:
            return [flow_from_row(r._mapping) for r in conn.execute(q)]

    def list_flows(self, namespace_prefix: str | None = None) -> list[FlowRecord]:
        """Latest non-deleted revision of every flow."""
        latest = (
            select(flows.c.namespace, flows.c.id, func.max(flows.c.revision).label("rev"))
            .group_by(flows.c.namespace, flows.c.id)
            .subquery()
        )
        q = select(flows).join(
            latest,
            and_(flows.c.namespace == latest.c.namespace, flows.c.id == latest.c.id, flows.c.revision == latest.c.rev),
        ).where(flows.c.deleted.is_(False))
        if namespace_prefix:
            q = q.where(or_(flows.c.namespace == namespace_prefix, flows.c.namespace.like(namespace_prefix + ".%")))
        q = q.order_by(flows.c.namespace, flows.c.id)
        with self.read_engine.begin() as conn:
            return [flow_from_row(r._mapping) for r in conn.execute(q)]

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """Mark the flow deleted with a tombstone revision; its history stays."""
        with self._flow_lock, self.engine.begin() as conn:
            row = conn.execute(
                select(flows).where(flows.c.namespace == namespace, flows.c.id == flow_id).order_by(flows.c.revision.desc()).limit(1)
            ).first()
            if row is None or row.deleted:
                return False
            conn.execute(insert(flows).values(namespace=namespace, id=flow_id, revision=row.revision + 1, source=row.source, deleted=True, updated=now_iso()))
            return True

    # --- executions --------------------------------------------------------------------------------

    def _begin(self) -> AbstractContextManager[Connection]:
        return self.engine.begin()

    @staticmethod
    def _execution_from_row(r: Row[Any]) -> Execution:
        return execution_from_row(r._mapping)

    @staticmethod
    def _task_run_from_row(r: Row[Any]) -> TaskRun:
        return task_run_from_row(r._mapping)

    def get_execution(self, execution_id: str) -> Execution | None:
        with self.read_engine.begin() as conn:
            row = conn.execute(_GET_EXECUTION, {"ex_id": execution_id}).first()
        return self._execution_from_row(row) if row else None

    def load_execution(self, execution_id: str) -> tuple[Execution, list[TaskRun]] | None:
        with self.read_engine.begin() as conn:
            row = conn.execute(_GET_EXECUTION, {"ex_id": execution_id}).first()
            if row is None:
                return None
            runs = conn.execute(_RUNS_OF_EXECUTION, {"ex_id": execution_id}).all()
        return self._execution_from_row(row), [self._task_run_from_row(r) for r in runs]

    def search_executions(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        states: Iterable[str] | None = None,
        start_after: str | None = None,
        start_before: str | None = None,
        labels: dict[str, str] | None = None,
        q: str | None = None,
        oldest_first: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Execution], int]:
        """One page of executions by start date (newest first unless ``oldest_first``) and how many match.

        ``q`` is free text matched (case-insensitively) in the id, namespace, flow id and labels.
        """
        conds = []
        if namespace:
            conds.append(or_(executions.c.namespace == namespace, executions.c.namespace.like(namespace + ".%")))
        if flow_id:
            conds.append(executions.c.flow_id == flow_id)
        if states:
            conds.append(executions.c.state.in_(list(states)))
        if start_after:
            conds.append(executions.c.start_date >= start_after)
        if start_before:
            conds.append(executions.c.start_date < start_before)
        for k, v in (labels or {}).items():
            conds.append(executions.c.labels.like(f'%{json.dumps(k)}:{json.dumps(v)}%'))
        if q:
            pattern = "%" + like_escape(q) + "%"
            conds.append(or_(*(c.ilike(pattern, escape="\\") for c in (executions.c.id, executions.c.namespace,
                                                                        executions.c.flow_id, executions.c.labels))))
        where = and_(*conds) if conds else None
        query = select(executions)
        cq = select(func.count()).select_from(executions)
        if where is not None:
            query = query.where(where)
            cq = cq.where(where)
        order = (executions.c.start_date.asc(), executions.c.id) if oldest_first else (executions.c.start_date.desc(), executions.c.id)
        query = query.order_by(*order).limit(limit).offset(offset)
        with self.read_engine.begin() as conn:
            rows = conn.execute(query).all()
            total = conn.execute(cq).scalar_one()
        return [self._execution_from_row(r) for r in rows], int(total)

    def count_executions_by_state(self) -> dict[str, int]:
        """How many stored executions are in each state (the /metrics gauges)."""
        with self.read_engine.begin() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(select(executions.c.state, func.count()).group_by(executions.c.state))}

    def task_run_states(self, execution_id: str) -> list[tuple[str, str, str | None, str]]:
        """(task run id, task id, loop value, state) of an execution in start order, cheap enough to poll."""
        q = select(task_runs.c.id, task_runs.c.task_id, task_runs.c.value, task_runs.c.state).where(task_runs.c.execution_id == execution_id)
        with self.read_engine.begin() as conn:
            return [(r[0], r[1], r[2], r[3]) for r in conn.execute(q.order_by(task_runs.c.seq))]

    def unfinished_execution_ids(self) -> list[str]:
        with self.read_engine.begin() as conn:
            return [r.id for r in conn.execute(select(executions.c.id).where(executions.c.state.not_in(TERMINAL_NAMES)).order_by(executions.c.start_date))]

    def ended_among(self, execution_ids: Iterable[str]) -> list[str]:
        """Those of ``execution_ids`` whose execution has ended."""
        ids = list(execution_ids)
        if not ids:
            return []
        q = select(executions.c.id).where(executions.c.id.in_(ids), executions.c.state.in_(TERMINAL_NAMES))
        with self.read_engine.begin() as conn:
            return [r.id for r in conn.execute(q)]

    def delete_execution(self, execution_id: str) -> bool:
        with self.engine.begin() as conn:
            n = conn.execute(delete(executions).where(executions.c.id == execution_id)).rowcount
            conn.execute(delete(task_runs).where(task_runs.c.execution_id == execution_id))
            conn.execute(delete(logs).where(logs.c.execution_id == execution_id))
        return bool(n)

    # --- leases (engine/store/leases.py) ------------------------------------------------------------

    def renew_leases(self, owner: str, ttl: float) -> set[str]:
        upd = (update(executions).where(executions.c.owner == owner, executions.c.state.not_in(TERMINAL_NAMES))
               .values(lease_until=time.time() + ttl).returning(executions.c.id))
        with self.engine.begin() as conn:
            return {r.id for r in conn.execute(upd)}

    def lease_owner_of(self, execution_id: str) -> tuple[bool, str | None]:
        with self.read_engine.begin() as conn:
            row = conn.execute(select(executions.c.owner).where(executions.c.id == execution_id)).first()
        return (True, row.owner) if row is not None else (False, None)

    def lease_owners(self, execution_ids: list[str]) -> dict[str, str | None]:
        if not execution_ids:
            return {}
        q = select(executions.c.id, executions.c.owner).where(executions.c.id.in_(execution_ids))
        with self.read_engine.begin() as conn:
            return {r.id: r.owner for r in conn.execute(q)}

    def set_lease(self, execution_id: str, owner: str, ttl: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(executions).where(executions.c.id == execution_id)
                         .values(owner=owner, lease_until=time.time() + ttl))

    def release_leases(self, owner: str, ids: list[str] | None) -> None:
        q = update(executions).where(executions.c.owner == owner)
        if ids is not None:
            q = q.where(executions.c.id.in_(ids))
        with self.engine.begin() as conn:
            conn.execute(q.values(owner=None, lease_until=None))

    def has_commands(self) -> bool:
        with self.read_engine.begin() as conn:
            return conn.execute(select(execution_commands.c.id).limit(1)).first() is not None

    # --- logs ---------------------------------------------------------------------------------------

    def get_logs(
        self,
        execution_id: str,
        *,
        after_id: int = 0,
        task_id: str | None = None,
        min_level: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        q = select(logs).where(logs.c.execution_id == execution_id, logs.c.id > after_id)
        if task_id:
            q = q.where(logs.c.task_id == task_id)
        levels = levels_from(min_level)
        if levels is not None:
            q = q.where(logs.c.level.in_(levels))
        q = q.order_by(logs.c.id)
        if limit:
            q = q.limit(limit)
        with self.read_engine.begin() as conn:
            return [log_from_row(r._mapping) for r in conn.execute(q)]

