"""Trigger bookkeeping in the store: state per trigger, firings, backfills, seen files.

The firing table is the scheduler's lock: a row is unique per (trigger,
source, date), and it is inserted in its own transaction *before* the
execution starts. A second scheduler, or the same one after a crash, that
tries to fire the same tick gets an integrity error and moves on, so a tick
never fires twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from engine.model.ids import new_id, now_iso
from engine.store.sql import SqlStore
from engine.store.tables import executions, trigger_backfills, trigger_firings, trigger_states

BACKFILL_STATES = ("RUNNING", "PAUSED", "CANCELLED", "SUCCESS")


@dataclass
class TriggerState:
    namespace: str
    flow_id: str
    trigger_id: str
    disabled: bool = False
    next_date: str | None = None
    signature: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None


@dataclass
class Firing:
    namespace: str
    flow_id: str
    trigger_id: str
    source: str
    date: str
    execution_id: str | None
    created: str


@dataclass
class Backfill:
    id: str
    namespace: str
    flow_id: str
    trigger_id: str
    start: str
    end: str
    cursor: str | None
    inputs: dict[str, Any]
    labels: dict[str, str]
    state: str
    total: int
    done: int
    created: str
    updated: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "triggerId": self.trigger_id,
            "start": self.start,
            "end": self.end,
            "currentDate": self.cursor,
            "inputs": self.inputs,
            "labels": self.labels,
            "state": self.state,
            "total": self.total,
            "done": self.done,
            "paused": self.state == "PAUSED",
            "created": self.created,
            "updated": self.updated,
        }


def _dumps(value: object) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)


class TriggerStore:
    """Reads and writes the trigger tables through the shared :class:`SqlStore` engines."""

    def __init__(self, store: SqlStore):
        self.store = store

    # --- firings (the dedupe lock) ----------------------------------------------------------------

    def claim(
        self, namespace: str, flow_id: str, trigger_id: str, date: str, source: str = "schedule", execution_id: str | None = None
    ) -> bool:
        """Record a firing before its execution starts; False if it was already recorded.

        ``execution_id`` is the id the execution *will* have: a firing whose
        execution never reached the store (the process died in between) is an
        orphan that :meth:`take_orphan` lets exactly one scheduler start again.
        """
        try:
            with self.store.engine.begin() as conn:
                conn.execute(
                    insert(trigger_firings).values(
                        namespace=namespace,
                        flow_id=flow_id,
                        trigger_id=trigger_id,
                        source=source,
                        date=date,
                        execution_id=execution_id,
                        created=now_iso(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def orphans(self, *, min_age: float = 10.0, max_age: float = 300.0, source: str = "schedule") -> list[Firing]:
        """Recent firings whose execution never reached the store (the firing process died).

        Only firings between ``min_age`` and ``max_age`` seconds old are looked
        at: younger ones may still be starting, older ones are history (their
        execution may have been purged or deleted on purpose).
        """
        now = datetime.now(UTC)
        newest = (now - timedelta(seconds=min_age)).isoformat()
        oldest = (now - timedelta(seconds=max_age)).isoformat()
        q = (
            select(trigger_firings)
            .outerjoin(executions, executions.c.id == trigger_firings.c.execution_id)
            .where(
                trigger_firings.c.source == source,
                trigger_firings.c.execution_id.is_not(None),
                trigger_firings.c.created <= newest,
                trigger_firings.c.created >= oldest,
                executions.c.id.is_(None),
            )
            .order_by(trigger_firings.c.id)
            .limit(100)
        )
        with self.store.read_engine.begin() as conn:
            return [
                Firing(r.namespace, r.flow_id, r.trigger_id, r.source, r.date, r.execution_id, r.created) for r in conn.execute(q)
            ]

    def take_orphan(self, firing: Firing, new_execution_id: str) -> bool:
        """Atomically give an orphan firing a new execution id; True for the one scheduler that wins.

        ``created`` is moved to now as well, so the firing is not seen as an
        orphan again while the winner's execution is still on its way to the store.
        """
        with self.store.engine.begin() as conn:
            n = conn.execute(
                update(trigger_firings)
                .where(
                    trigger_firings.c.namespace == firing.namespace,
                    trigger_firings.c.flow_id == firing.flow_id,
                    trigger_firings.c.trigger_id == firing.trigger_id,
                    trigger_firings.c.source == firing.source,
                    trigger_firings.c.date == firing.date,
                    trigger_firings.c.execution_id == firing.execution_id,
                )
                .values(execution_id=new_execution_id, created=now_iso())
            ).rowcount
        return n == 1

    def set_execution(self, namespace: str, flow_id: str, trigger_id: str, date: str, execution_id: str | None, source: str = "schedule") -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(trigger_firings)
                .where(
                    trigger_firings.c.namespace == namespace,
                    trigger_firings.c.flow_id == flow_id,
                    trigger_firings.c.trigger_id == trigger_id,
                    trigger_firings.c.source == source,
                    trigger_firings.c.date == date,
                )
                .values(execution_id=execution_id)
            )

    def last_firing(self, namespace: str, flow_id: str, trigger_id: str) -> Firing | None:
        q = (
            select(trigger_firings)
            .where(trigger_firings.c.namespace == namespace, trigger_firings.c.flow_id == flow_id, trigger_firings.c.trigger_id == trigger_id)
            .order_by(trigger_firings.c.id.desc())
            .limit(1)
        )
        with self.store.read_engine.begin() as conn:
            r = conn.execute(q).first()
        return Firing(r.namespace, r.flow_id, r.trigger_id, r.source, r.date, r.execution_id, r.created) if r else None

    def firings(self, namespace: str, flow_id: str, trigger_id: str, source: str | None = None) -> list[Firing]:
        q = select(trigger_firings).where(
            trigger_firings.c.namespace == namespace, trigger_firings.c.flow_id == flow_id, trigger_firings.c.trigger_id == trigger_id
        )
        if source is not None:
            q = q.where(trigger_firings.c.source == source)
        with self.store.read_engine.begin() as conn:
            return [Firing(r.namespace, r.flow_id, r.trigger_id, r.source, r.date, r.execution_id, r.created) for r in conn.execute(q.order_by(trigger_firings.c.id))]

    # --- per-trigger state -------------------------------------------------------------------------

    def get(self, namespace: str, flow_id: str, trigger_id: str) -> TriggerState | None:
        with self.store.read_engine.begin() as conn:
            r = conn.execute(
                select(trigger_states).where(
                    trigger_states.c.namespace == namespace, trigger_states.c.flow_id == flow_id, trigger_states.c.trigger_id == trigger_id
                )
            ).first()
        return self._state(r) if r else None

    def all(self) -> dict[tuple[str, str, str], TriggerState]:
        with self.store.read_engine.begin() as conn:
            return {(r.namespace, r.flow_id, r.trigger_id): self._state(r) for r in conn.execute(select(trigger_states))}

    @staticmethod
    def _state(r: Row[Any]) -> TriggerState:
        return TriggerState(r.namespace, r.flow_id, r.trigger_id, bool(r.disabled), r.next_date, r.signature, json.loads(r.progress) if r.progress else {}, r.last_error)

    def save(self, state: TriggerState) -> None:
        values = {
            "disabled": state.disabled,
            "next_date": state.next_date,
            "signature": state.signature,
            "progress": _dumps(state.progress) if state.progress else None,
            "last_error": state.last_error,
            "updated": now_iso(),
        }
        key = (
            trigger_states.c.namespace == state.namespace,
            trigger_states.c.flow_id == state.flow_id,
            trigger_states.c.trigger_id == state.trigger_id,
        )
        for _ in range(2):
            try:
                with self.store.engine.begin() as conn:
                    if not conn.execute(update(trigger_states).where(*key).values(**values)).rowcount:
                        conn.execute(insert(trigger_states).values(namespace=state.namespace, flow_id=state.flow_id, trigger_id=state.trigger_id, **values))
                return
            except IntegrityError:  # a concurrent insert of the same key: update it instead
                continue

    def set_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> TriggerState:
        state = self.get(namespace, flow_id, trigger_id) or TriggerState(namespace, flow_id, trigger_id)
        state.disabled = disabled
        if disabled:
            state.next_date = None  # re-enabling computes the next tick from then: no catch-up
        self.save(state)
        return state

    # --- backfills ---------------------------------------------------------------------------------

    def create_backfill(
        self, namespace: str, flow_id: str, trigger_id: str, start: str, end: str, total: int, inputs: dict[str, Any] | None, labels: dict[str, str] | None
    ) -> Backfill:
        now = now_iso()
        bf = Backfill(new_id(), namespace, flow_id, trigger_id, start, end, None, inputs or {}, labels or {}, "RUNNING" if total else "SUCCESS", total, 0, now, now)
        with self.store.engine.begin() as conn:
            conn.execute(
                insert(trigger_backfills).values(
                    id=bf.id, namespace=namespace, flow_id=flow_id, trigger_id=trigger_id, start=start, end=end, cursor=None,
                    inputs=_dumps(bf.inputs), labels=_dumps(bf.labels), state=bf.state, total=total, done=0, created=now, updated=now,
                )
            )
        return bf

    @staticmethod
    def _backfill(r: Row[Any]) -> Backfill:
        return Backfill(
            r.id, r.namespace, r.flow_id, r.trigger_id, r.start, r.end, r.cursor,
            json.loads(r.inputs) if r.inputs else {}, json.loads(r.labels) if r.labels else {},
            r.state, r.total, r.done, r.created, r.updated,
        )

    def get_backfill(self, backfill_id: str) -> Backfill | None:
        with self.store.read_engine.begin() as conn:
            r = conn.execute(select(trigger_backfills).where(trigger_backfills.c.id == backfill_id)).first()
        return self._backfill(r) if r else None

    def backfills(self, *, state: str | None = None, namespace: str | None = None, flow_id: str | None = None, trigger_id: str | None = None) -> list[Backfill]:
        q = select(trigger_backfills)
        if state:
            q = q.where(trigger_backfills.c.state == state)
        if namespace:
            q = q.where(trigger_backfills.c.namespace == namespace)
        if flow_id:
            q = q.where(trigger_backfills.c.flow_id == flow_id)
        if trigger_id:
            q = q.where(trigger_backfills.c.trigger_id == trigger_id)
        with self.store.read_engine.begin() as conn:
            return [self._backfill(r) for r in conn.execute(q.order_by(trigger_backfills.c.created))]

    def advance_backfill(self, backfill_id: str, cursor: str, done: int, state: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(trigger_backfills)
                .where(trigger_backfills.c.id == backfill_id, trigger_backfills.c.state == "RUNNING")
                .values(cursor=cursor, done=done, state=state, updated=now_iso())
            )

    def set_backfill_state(self, backfill_id: str, state: str, *, only_from: tuple[str, ...]) -> Backfill | None:
        """Pause, unpause or cancel; a no-op when the backfill is not in one of ``only_from``."""
        with self.store.engine.begin() as conn:
            conn.execute(
                update(trigger_backfills).where(trigger_backfills.c.id == backfill_id, trigger_backfills.c.state.in_(only_from)).values(state=state, updated=now_iso())
            )
        return self.get_backfill(backfill_id)

    def forget_flow(self, namespace: str, flow_id: str) -> None:
        """Drop the state rows of a deleted flow (firings stay: they are history and the dedupe lock)."""
        with self.store.engine.begin() as conn:
            conn.execute(delete(trigger_states).where(trigger_states.c.namespace == namespace, trigger_states.c.flow_id == flow_id))
