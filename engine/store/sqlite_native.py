"""The embedded SQLite store on the stdlib ``sqlite3`` module: what ``lanner flow run`` opens.

Importing SQLAlchemy (and, for a new database, building its tables through it)
was about a third of a cold ``lanner flow run``. The statements one run needs
(store a flow, write the runner's batches, read an execution, its task runs
and its logs, renew and release leases) are few and plain, so this store
speaks them to ``sqlite3`` directly:

* the schema comes from ``sqlite_schema.sql``, generated from
  :mod:`engine.store.tables` and checked against it by a test; a database at the
  newest revision costs one query to open, a new one is created from that file
  in one transaction, and anything else (an older revision, a database made
  before migrations) is migrated by the SQLAlchemy store first, as always;
* the batch statements and the row converters are the SQLAlchemy store's own
  (:mod:`engine.store.batch`, :mod:`engine.store.records`), so both read and
  write the same rows;
* everything else a run may ask for (key-value entries, trigger state,
  dashboards, searches...) goes to a :class:`~engine.store.sql.SqlStore` on the
  same file, opened on first use: such a flow pays for SQLAlchemy, a flow of
  log tasks never does.

The connections mirror the SQLAlchemy store's: WAL, ``BEGIN IMMEDIATE`` for
writes, a 30 s busy timeout, the same ``synchronous`` setting. Errors are the
``sqlite3`` module's; :mod:`engine.store.retry` knows both kinds.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from engine.model.execution import Execution, TaskRun
from engine.model.ids import now_iso
from engine.model.state import TERMINAL_NAMES
from engine.store import batch, sqlite_schema
from engine.store.base import StoreBase
from engine.store.records import (
    FlowRecord,
    StoreOpenError,
    execution_from_row,
    flow_from_row,
    levels_from,
    log_from_row,
    task_run_from_row,
)

if TYPE_CHECKING:
    from engine.store.sql import SqlStore

_NOT_ENDED = f"state NOT IN ({', '.join(repr(s) for s in sorted(TERMINAL_NAMES))})"
_ENDED = f"state IN ({', '.join(repr(s) for s in sorted(TERMINAL_NAMES))})"


def open_store(url: str, *, native: bool = False) -> SqlStore:
    """The store of ``url``: this module's for a SQLite file when ``native``, else the SQLAlchemy one.

    The native store answers SqlStore's whole interface (what it does not speak
    itself goes to a SqlStore it opens on first use), hence its type here.
    """
    if native and file_path(url) is not None:
        return cast("SqlStore", NativeSqliteStore(url))
    from engine.store.sql import SqlStore

    return SqlStore(url)


def file_path(url: str) -> str | None:
    """The file of a ``sqlite:///`` URL (None for an in-memory database or any other URL)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    return None if not path or path == ":memory:" or "?" in path else path


class NativeSqliteStore(StoreBase):
    """The repository of flows, executions, task runs and logs of one SQLite file, without SQLAlchemy.

    It answers every call of :class:`~engine.store.sql.SqlStore`: those of a run
    itself, and the rest through a SqlStore on the same file opened on first use.
    """

    is_sqlite = True

    def __init__(self, url: str):
        path = file_path(url)
        if path is None:
            raise ValueError(f"the native SQLite store needs a sqlite:/// file URL, not {url!r}")
        self.url = url
        self._path = path
        self._delegate: SqlStore | None = None
        self._delegate_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._flow_lock = threading.Lock()
        self._batch_sql = batch.BatchStatements.for_paramstyle(sqlite3.paramstyle)
        self.lease_owner = None
        self.lease_seconds = 30.0
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        try:
            self._writer = self._connect()
            self._reader = self._connect()
            self._ensure_head()
        except sqlite3.Error as exc:  # not a database, a corrupt file, a folder where the file should be
            self.close()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreOpenError(f"cannot open the database {url}: {reason}; move that file away (or restore it "
                                 "from a backup), or point --home / LANNER_HOME elsewhere") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={os.environ.get('LANNER_SQLITE_SYNCHRONOUS', 'NORMAL')}")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=OFF")
        return conn

    # --- opening: the schema -------------------------------------------------------------------------

    def _revisions(self, conn: sqlite3.Connection) -> list[str]:
        try:
            return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # a new database, or one made before migrations existed
            raise

    def _ensure_head(self) -> None:
        """One query when the database is at the newest revision; a new one is created at it;
        anything else is migrated by the SQLAlchemy store (Alembic)."""
        target = sqlite_schema.shipped_head()
        at = self._revisions(self._read())
        if target is not None and at == [target]:
            return
        if target is not None and not at:
            revision, statements = sqlite_schema.schema()
            if revision == target and self._create(statements, target):
                return
        self._full()  # opening a SqlStore migrates (engine/store/migrations)

    def _create(self, statements: list[str], target: str) -> bool:
        """Create every table of an empty database at ``target`` in one transaction; False when it is not empty
        (and not at ``target``: a process that raced this one may just have created it)."""
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1").fetchone():
                return self._revisions(conn) == [target]
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (target,))
        return True

    # --- connections --------------------------------------------------------------------------------

    def _read(self) -> sqlite3.Connection:
        if self._reader is None:
            raise sqlite3.ProgrammingError("the store is closed")
        return self._reader

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``: writers queue at the start, never deadlock midway)."""
        with self._write_lock:
            conn = self._writer
            if conn is None:
                raise sqlite3.ProgrammingError("the store is closed")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    _begin = _transaction  # StoreBase's write transaction (an alias: the runner's batches pay no extra call)

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one state of the database."""
        with self._read_lock:
            conn = self._read()
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._read_lock:
            return self._read().execute(sql, params).fetchall()

    def _full(self) -> SqlStore:
        """The SQLAlchemy store on the same file, for what this one does not speak itself."""
        with self._delegate_lock:
            if self._delegate is None:
                from engine.store.sql import SqlStore

                self._delegate = SqlStore(self.url)
                self._delegate.lease_owner = self.lease_owner
                self._delegate.lease_seconds = self.lease_seconds
            return self._delegate

    def __getattr__(self, name: str) -> Any:
        # Only called for what this class does not define: the rest of SqlStore's interface.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._full(), name)

    def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                conn.close()
        self._writer = self._reader = None
        if self._delegate is not None:
            self._delegate.close()

    # --- flows ----------------------------------------------------------------------------------------

    def save_flow(self, namespace: str, flow_id: str, source: str) -> tuple[int, bool]:
        """Store a new revision unless the source is unchanged. Returns (revision, created)."""
        with self._flow_lock, self._transaction() as conn:
            row = conn.execute("SELECT revision, source, deleted FROM flows WHERE namespace = ? AND id = ? "
                               "ORDER BY revision DESC LIMIT 1", (namespace, flow_id)).fetchone()
            if row is not None and row["source"] == source and not row["deleted"]:
                return row["revision"], False
            revision = row["revision"] + 1 if row is not None else 1
            conn.execute("INSERT INTO flows (namespace, id, revision, source, deleted, updated) VALUES (?, ?, ?, ?, ?, ?)",
                         (namespace, flow_id, revision, source, False, now_iso()))
            return revision, True

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowRecord | None:
        if revision is None:
            rows = self._query("SELECT * FROM flows WHERE namespace = ? AND id = ? ORDER BY revision DESC LIMIT 1",
                               (namespace, flow_id))
        else:
            rows = self._query("SELECT * FROM flows WHERE namespace = ? AND id = ? AND revision = ?",
                               (namespace, flow_id, revision))
        if not rows or (revision is None and rows[0]["deleted"]):
            return None
        return flow_from_row(rows[0])

    # --- executions -----------------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> Execution | None:
        rows = self._query("SELECT * FROM executions WHERE id = ?", (execution_id,))
        return execution_from_row(rows[0]) if rows else None

    def load_execution(self, execution_id: str) -> tuple[Execution, list[TaskRun]] | None:
        with self._snapshot() as conn:
            row = conn.execute("SELECT * FROM executions WHERE id = ?", (execution_id,)).fetchone()
            if row is None:
                return None
            runs = conn.execute("SELECT * FROM task_runs WHERE execution_id = ? ORDER BY seq", (execution_id,)).fetchall()
        return execution_from_row(row), [task_run_from_row(r) for r in runs]

    def task_run_states(self, execution_id: str) -> list[tuple[str, str, str | None, str]]:
        """(task run id, task id, loop value, state) of an execution in start order, cheap enough to poll."""
        rows = self._query("SELECT id, task_id, value, state FROM task_runs WHERE execution_id = ? ORDER BY seq", (execution_id,))
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def unfinished_execution_ids(self) -> list[str]:
        return [r[0] for r in self._query(f"SELECT id FROM executions WHERE {_NOT_ENDED} ORDER BY start_date")]

    def ended_among(self, execution_ids: Iterable[str]) -> list[str]:
        """Those of ``execution_ids`` whose execution has ended."""
        ids = list(execution_ids)
        out: list[str] = []
        for chunk in _chunks(ids):
            marks = ", ".join("?" for _ in chunk)
            out.extend(r[0] for r in self._query(f"SELECT id FROM executions WHERE id IN ({marks}) AND {_ENDED}", chunk))
        return out

    # --- logs -----------------------------------------------------------------------------------------

    def get_logs(
        self,
        execution_id: str,
        *,
        after_id: int = 0,
        task_id: str | None = None,
        min_level: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM logs WHERE execution_id = ? AND id > ?"
        params: list[Any] = [execution_id, after_id]
        if task_id:
            sql += " AND task_id = ?"
            params.append(task_id)
        levels = levels_from(min_level)
        if levels is not None:
            sql += f" AND level IN ({', '.join('?' for _ in levels)})"
            params.extend(levels)
        sql += " ORDER BY id"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [log_from_row(r) for r in self._query(sql, params)]

    # --- leases (engine/store/leases.py asks these of this store; claiming goes to the SqlStore) ---------

    def renew_leases(self, owner: str, ttl: float) -> set[str]:
        with self._transaction() as conn:
            rows = conn.execute(f"UPDATE executions SET lease_until = ? WHERE owner = ? AND {_NOT_ENDED} RETURNING id",
                                (time.time() + ttl, owner)).fetchall()
        return {r[0] for r in rows}

    def lease_owner_of(self, execution_id: str) -> tuple[bool, str | None]:
        """Whether the execution exists, and which node holds it."""
        rows = self._query("SELECT owner FROM executions WHERE id = ?", (execution_id,))
        return (True, rows[0][0]) if rows else (False, None)

    def lease_owners(self, execution_ids: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for chunk in _chunks(execution_ids):
            marks = ", ".join("?" for _ in chunk)
            out.update((r[0], r[1]) for r in self._query(f"SELECT id, owner FROM executions WHERE id IN ({marks})", chunk))
        return out

    def set_lease(self, execution_id: str, owner: str, ttl: float) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE executions SET owner = ?, lease_until = ? WHERE id = ?", (owner, time.time() + ttl, execution_id))

    def release_leases(self, owner: str, ids: list[str] | None) -> None:
        with self._transaction() as conn:
            if ids is None:
                conn.execute("UPDATE executions SET owner = NULL, lease_until = NULL WHERE owner = ?", (owner,))
                return
            for chunk in _chunks(ids):
                marks = ", ".join("?" for _ in chunk)
                conn.execute(f"UPDATE executions SET owner = NULL, lease_until = NULL WHERE owner = ? AND id IN ({marks})",
                             (owner, *chunk))

    def has_commands(self) -> bool:
        """Whether any kill/resume waits in ``execution_commands`` (the usual answer, no, costs one read)."""
        return bool(self._query("SELECT id FROM execution_commands LIMIT 1"))


def _chunks(ids: list[str], size: int = 500) -> Iterator[list[str]]:
    """Lists of at most ``size`` ids: SQLite bounds the parameters of one statement."""
    for i in range(0, len(ids), size):
        yield ids[i:i + size]

