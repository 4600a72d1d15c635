"""Execution leases: several runner processes share one database without stepping on each other.

Design
------
Each unfinished execution is owned by exactly one runner process at a time.
The ``executions`` table carries ``owner`` (a node id) and ``lease_until``
(epoch seconds). Every runner:

* inserts the executions it creates already owned by itself (``SqlStore.lease_owner``),
  so an execution created through process A's API is executed by A directly;
* renews the leases of what it owns every ``ttl / 3`` seconds (the heartbeat);
  an execution whose renewal no longer comes back was taken over by another
  process (this one stalled past its lease), and the runner forgets it;
* claims unfinished executions that have no owner or whose lease expired, with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (so two claimers never
  wait on or grab the same row) and a conditional ``UPDATE`` that re-checks the
  lease (so a row claimed in between is not taken twice). SQLite serialises
  writers with ``BEGIN IMMEDIATE``, which gives the same guarantee. A claimed
  execution is recovered exactly like ``LocalRunner(recover=True)`` does: lost
  attempts are retried per the task's ``retry``.
* on a clean shutdown releases its leases, so another process takes over at
  once instead of after ``ttl``.

A node id that stays the same across restarts (``LANNER_NODE_ID``, e.g. host and
port of a server) lets a restarted process reclaim its own executions at once,
without waiting for the lease to expire. Two live processes must never share a
node id.

Worker results reach the owner because workers report to the process that
dispatched them (thread pool callbacks, Dask futures). A kill or resume posted
to a process that does not own the execution is written to the command table
(:mod:`engine.store.commands`) and taken by the owner on its heartbeat. Scheduler ticks fire
once in total through the unique firing row (``engine/store/triggers.py``).
Clock skew between machines should stay well below ``ttl`` (NTP is enough).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import and_, or_, select, update

from engine.model.state import TERMINAL_NAMES, State
from engine.store import commands
from engine.store.sql import SqlStore
from engine.store.tables import executions

DEFAULT_TTL = float(os.environ.get("LANNER_LEASE_SECONDS", "15"))


def default_node_id() -> str:
    """LANNER_NODE_ID when set (stable across restarts), else host, pid and a random suffix."""
    return os.environ.get("LANNER_NODE_ID") or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseManager:
    """Claims, renews and releases execution leases for one runner process."""

    def __init__(self, store: SqlStore, node_id: str | None = None, ttl: float = DEFAULT_TTL):
        self.store = store
        self.owner = (node_id or default_node_id())[:64]
        self.ttl = ttl
        store.lease_owner = self.owner
        store.lease_seconds = ttl
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Commands taken from the store on the last heartbeats, handed to the loop by on_lease_tick.
        self.commands: deque[tuple[str, str, dict[str, Any]]] = deque()

    # --- one-shot operations ------------------------------------------------------------------------

    def claim(self, limit: int = 500, *, steal: bool = False, mine: bool = True) -> list[str]:
        """Take unfinished executions that nobody holds (or that this node held before a restart).

        ``steal=True`` takes every unfinished execution whatever its lease (the
        embedded single-process mode, where no other runner can be alive).
        ``mine=False`` leaves this node's own executions out: the heartbeat must
        not "recover" an execution this process started after its renew (that
        would run its running attempts a second time).
        """
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
        now = time.time()
        with self.store.engine.begin() as conn:
            rows = conn.execute(
                update(executions)
                .where(executions.c.owner == self.owner, executions.c.state.not_in(TERMINAL_NAMES))
                .values(lease_until=now + self.ttl)
                .returning(executions.c.id)
            ).all()
        return {r.id for r in rows}

    def owns(self, execution_id: str) -> bool:
        with self.store.read_engine.begin() as conn:
            owner = conn.execute(select(executions.c.owner).where(executions.c.id == execution_id)).scalar()
        return owner is None or owner == self.owner

    def release(self, ids: Iterable[str] | None = None) -> None:
        """Give up leases (all of this node's when ``ids`` is None) so others take over at once."""
        q = update(executions).where(executions.c.owner == self.owner)
        if ids is not None:
            ids = list(ids)
            if not ids:
                return
            q = q.where(executions.c.id.in_(ids))
        with self.store.engine.begin() as conn:
            conn.execute(q.values(owner=None, lease_until=None))

    # --- the heartbeat ------------------------------------------------------------------------------

    def start(
        self,
        *,
        on_claim: Callable[[str], None] | None,
        on_tick: Callable[[set[str]], None],
        interval: float | None = None,
    ) -> None:
        """Renew every ``ttl/3`` s; report owned ids to ``on_tick``; claim expired ones when ``on_claim``."""
        period = interval or max(0.2, self.ttl / 3)

        def beat() -> None:
            while not self._stop.wait(period):
                try:
                    owned = self.renew()
                    self.commands.extend(commands.take(self.store, self.owner))  # kill/resume posted to other servers
                    if on_claim is not None:
                        for ex_id in self.claim(mine=False):
                            if ex_id in owned:
                                continue  # already ours and running here: recovering it would run it twice
                            owned.add(ex_id)
                            on_claim(ex_id)
                    on_tick(owned)
                except Exception as exc:  # noqa: BLE001 - database away: retry on the next beat
                    print(f"lanner: lease heartbeat failed, retrying: {type(exc).__name__}: {exc}".splitlines()[0], flush=True)

        self._thread = threading.Thread(target=beat, name="lanner-leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def on_lease_tick(runner: Any, owned: set[str]) -> None:
    """Run in a LocalRunner's loop thread after each heartbeat.

    Hands over the kill/resume commands other servers posted for executions
    this process holds (engine/store/commands.py), forgets executions another
    process has taken over, and notices subflow
    executions that ended without telling their parent (the child ran in
    another process, or the parent's process died before it heard): the parent
    gets the ``subflow_end`` event it missed (the executor ignores duplicates).
    """
    store: SqlStore = runner.store
    leases = runner.leases
    while leases.commands:
        runner._events.put(commands.as_event(*leases.commands.popleft()))
    candidates = [i for i in runner._states if i not in owned]
    waiting: dict[str, tuple[str, str]] = {}
    for st in list(runner._states.values()):
        if st.execution.id in candidates:
            continue
        for tr in list(st.task_runs.values()):
            child = (tr.outputs or {}).get("executionId") if tr.state == State.RUNNING else None
            if child and _is_subflow(runner, st, tr.task_id):
                waiting[child] = (st.execution.id, tr.id)
    if not candidates and not waiting:
        return
    with store.read_engine.begin() as conn:
        if candidates:
            for r in conn.execute(select(executions.c.id, executions.c.owner).where(executions.c.id.in_(candidates))):
                if r.owner is not None and r.owner != runner.leases.owner:
                    runner._states.pop(r.id, None)
        ended = []
        if waiting:
            q = select(executions.c.id).where(executions.c.id.in_(list(waiting)), executions.c.state.in_(TERMINAL_NAMES))
            ended = [r.id for r in conn.execute(q)]
    for child_id in ended:
        summary = store.summary(child_id)
        if summary is not None:
            parent_id, tr_id = waiting[child_id]
            runner._events.put(("subflow_end", parent_id, tr_id, summary))


def _is_subflow(runner: Any, st: Any, task_id: str) -> bool:
    try:
        task = runner._executor(st.execution).index.get(task_id)
    except Exception:  # noqa: BLE001 - flow revision gone: nothing to wait for
        return False
    return getattr(task, "canonical", None) == "subflow"
