"""What the two stores share: the runner's write path and the summary, over a transaction each store opens.

:class:`~engine.store.sql.SqlStore` (SQLAlchemy: PostgreSQL, and SQLite when
SQLAlchemy is loaded anyway) and :class:`~engine.store.sqlite_native.NativeSqliteStore`
(the stdlib ``sqlite3`` module: a cold ``lanner flow run``) write the same rows
with the same statements (:mod:`engine.store.batch`); they differ only in where
a write transaction comes from and how an execution is read back. A subclass
says that in :meth:`StoreBase._begin` and :meth:`StoreBase.load_execution`;
the rest lives here once, so the two cannot drift apart.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from engine.model.execution import Execution, TaskRun
from engine.store import batch
from engine.store.records import LogRecord

if TYPE_CHECKING:
    from sqlalchemy import Connection


class StoreBase(ABC):
    """The write path of the runner's batches and the execution summary, on a subclass's transactions."""

    #: Set by a runner that leases executions: new executions are inserted already owned by it.
    lease_owner: str | None = None
    #: How long a lease taken with a batch lasts (seconds).
    lease_seconds: float = 30.0
    #: The batch statements in the driver's parameter style (set by the subclass once it knows the driver).
    _batch_sql: batch.BatchStatements

    @abstractmethod
    def _begin(self) -> AbstractContextManager[Connection | sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back when it raises."""

    @abstractmethod
    def load_execution(self, execution_id: str) -> tuple[Execution, list[TaskRun]] | None:
        """An execution and its task runs (in start order), read in one snapshot; None when it does not exist."""

    # --- leases (engine/store/leases.py): each store's own statements, so the native one needs no SQLAlchemy ---

    @abstractmethod
    def renew_leases(self, owner: str, ttl: float) -> set[str]:
        """Extend every lease ``owner`` holds by ``ttl`` seconds; the unfinished executions it still holds."""

    @abstractmethod
    def lease_owner_of(self, execution_id: str) -> tuple[bool, str | None]:
        """Whether the execution exists, and which node holds it."""

    @abstractmethod
    def lease_owners(self, execution_ids: list[str]) -> dict[str, str | None]:
        """The node holding each of ``execution_ids`` that exists (None: nobody)."""

    @abstractmethod
    def set_lease(self, execution_id: str, owner: str, ttl: float) -> None:
        """Make ``owner`` hold the execution for ``ttl`` seconds, whoever held it."""

    @abstractmethod
    def release_leases(self, owner: str, ids: list[str] | None) -> None:
        """Give up ``owner``'s leases on ``ids`` (all of them when None)."""

    @abstractmethod
    def has_commands(self) -> bool:
        """Whether any kill/resume waits in ``execution_commands`` (engine/store/commands.py)."""

    def write_batch(
        self,
        *,
        new_executions: Sequence[Execution] = (),
        updated_executions: Sequence[Execution] = (),
        new_runs: Sequence[TaskRun] = (),
        updated_runs: Sequence[TaskRun] = (),
        log_rows: Sequence[LogRecord] = (),
    ) -> None:
        """Write one batch of state changes in one transaction (engine/store/batch.py)."""
        if not (new_executions or updated_executions or new_runs or updated_runs or log_rows):
            return
        with self._begin() as conn:
            batch.write(
                conn,
                self._batch_sql,
                new_executions=new_executions,
                updated_executions=updated_executions,
                new_runs=new_runs,
                updated_runs=updated_runs,
                log_rows=log_rows,
                lease=(self.lease_owner, self.lease_seconds) if self.lease_owner else None,
            )

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        """The execution summary (README's JSON shape), or None when it does not exist."""
        loaded = self.load_execution(execution_id)
        if loaded is None:
            return None
        ex, runs = loaded
        return ex.to_summary(runs)
