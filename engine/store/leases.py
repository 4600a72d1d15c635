"""Execution leases in the store: which runner process executes each unfinished execution.

Several runner processes share one database; each unfinished execution is
owned by exactly one of them at a time. The ``executions`` table carries
``owner`` (a node id) and ``lease_until`` (epoch seconds). This module holds
the statements (claim, renew, release, take over); the heartbeat that runs them
and what the runner does with the answers is cluster logic in
:mod:`engine.runtime.cluster`.

* New executions are inserted already owned by their runner (``SqlStore.lease_owner``).
* :meth:`LeaseStore.claim` takes unfinished executions that have no owner or
  whose lease expired, with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL
  (so two claimers never wait on or grab the same row) and a conditional
  ``UPDATE`` that re-checks the lease (so a row claimed in between is not taken
  twice). SQLite serialises writers with ``BEGIN IMMEDIATE``, which gives the
  same guarantee.
* :meth:`LeaseStore.renew` extends what a node holds and tells it what it lost.
* :meth:`LeaseStore.release` gives leases up on a clean shutdown, so another
  process takes over at once instead of after ``ttl``.

Clock skew between machines should stay well below ``ttl`` (NTP is enough).

Renewing, releasing and reading leases are each store's own statements
(:class:`engine.store.base.StoreBase`), so on the native SQLite store (``lanner
flow run``) a run that ends before anything needs claiming never imports
SQLAlchemy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from engine.model.state import TERMINAL_NAMES

if TYPE_CHECKING:
    from engine.store.sql import SqlStore

DEFAULT_TTL = float(os.environ.get("LANNER_LEASE_SECONDS", "15"))


class LeaseStore:
    """Claims, renews and releases the execution leases of one node (a runner process)."""

    def __init__(self, store: SqlStore, node_id: str, ttl: float = DEFAULT_TTL):
        self.store = store
        self.owner = node_id[:64]
        self.ttl = ttl
        store.lease_owner = self.owner
        store.lease_seconds = ttl

    def claim(self, limit: int = 500, *, steal: bool = False, mine: bool = True) -> list[str]:
        """Take unfinished executions that nobody holds (or that this node held before a restart).

        ``steal=True`` takes every unfinished execution whatever its lease (the
        embedded single-process mode, where no other runner can be alive).
        ``mine=False`` leaves this node's own executions out: the heartbeat must
        not "recover" an execution this process started after its renew (that
        would run its running attempts a second time).
        """
        from sqlalchemy import and_, or_, select, update

        from engine.store.tables import executions

        now = time.time()
        cond = and_(executions.c.state.not_in(TERMINAL_NAMES))
        free = or_(executions.c.owner.is_(None), executions.c.lease_until < now, executions.c.owner == self.owner)
        if not mine:
            free = or_(executions.c.owner.is_(None), and_(executions.c.lease_until < now, executions.c.owner != self.owner))
        if not steal:
            cond = and_(cond, free)
        q = select(executions.c.id).where(cond).order_by(executions.c.start_date).limit(limit)
        if not self.store.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        with self.store.engine.begin() as conn:
            ids = [r.id for r in conn.execute(q)]
            if not ids:
                return []
            upd = update(executions).where(executions.c.id.in_(ids))
            if not steal:
                upd = upd.where(free)
            rows = conn.execute(upd.values(owner=self.owner, lease_until=now + self.ttl).returning(executions.c.id)).all()
        return [r.id for r in rows]

    def renew(self) -> set[str]:
        """Extend every lease this node holds; returns the unfinished executions it still owns."""
        return self.store.renew_leases(self.owner, self.ttl)

    def owns(self, execution_id: str) -> bool:
        owner = self.store.lease_owner_of(execution_id)[1]
        return owner is None or owner == self.owner

    def foreign(self, execution_ids: Iterable[str]) -> set[str]:
        """Those of ``execution_ids`` that another node holds now (it took them over)."""
        ids = list(execution_ids)
        if not ids:
            return set()
        return {i for i, owner in self.store.lease_owners(ids).items() if owner is not None and owner != self.owner}

    def take(self, execution_id: str) -> None:
        """Own this execution now, whoever held it (a restart makes an ended execution unfinished again)."""
        self.store.set_lease(execution_id, self.owner, self.ttl)

    def release(self, ids: Iterable[str] | None = None) -> None:
        """Give up leases (all of this node's when ``ids`` is None) so others take over at once."""
        if ids is not None:
            ids = list(ids)
            if not ids:
                return
        self.store.release_leases(self.owner, ids)
