"""Commands for executions owned by another runner process (kill, resume).

With several servers on one database, an execution is run by the process that
holds its lease (:mod:`engine.store.leases`). A kill or resume posted to any
other server's API cannot act on it directly, so that server writes a row here
instead. The owner takes the rows of the executions it holds on every lease
heartbeat (``ttl / 3`` seconds, 1 s with ``LANNER_LEASE_SECONDS=3``) and feeds
them to its executor loop as if they had been posted locally
(:mod:`engine.runtime.cluster` does both sides).

A command for an execution whose owner died waits in the table until another
process claims the execution (lease expiry) and then takes it. Taking deletes
the rows in the same statement (``DELETE ... RETURNING``), so two processes
never both act on one command; a process killed between taking and acting
loses that command (the caller may post it again). Rows of executions that end
before their owner takes them are removed by ``lanner purge``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from engine.model.ids import now_iso

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from engine.store.sql import SqlStore

KINDS = ("kill", "resume")



def post(store: SqlStore, execution_id: str, kind: str, payload: dict[str, Any] | None = None) -> None:
    """Queue ``kind`` for the process that owns ``execution_id``."""
    if kind not in KINDS:
        raise ValueError(f"unknown execution command '{kind}' (use one of {', '.join(KINDS)})")
    from sqlalchemy import insert

    from engine.store.tables import execution_commands

    with store.engine.begin() as conn:
        conn.execute(
            insert(execution_commands).values(
                execution_id=execution_id, kind=kind, payload=json.dumps(payload or {}, default=str), created=now_iso()
            )
        )


class Command(NamedTuple):
    """A kill or resume waiting for the process that owns ``execution_id``."""

    execution_id: str
    kind: str
    payload: dict[str, Any]


def take(store: SqlStore, owner: str) -> list[Command]:
    """Remove and return every command for executions ``owner`` holds, oldest first."""
    if not store.has_commands():
        return []  # the usual case: nothing posted, no write transaction (and no SQLAlchemy on the native store)
    from sqlalchemy import delete, select

    from engine.store.tables import execution_commands, executions

    mine = select(executions.c.id).where(executions.c.owner == owner)
    q = delete(execution_commands).where(execution_commands.c.execution_id.in_(mine)).returning(
        execution_commands.c.id, execution_commands.c.execution_id, execution_commands.c.kind, execution_commands.c.payload
    )
    with store.engine.begin() as conn:
        rows = sorted(conn.execute(q).all(), key=lambda r: r.id)
    return [Command(r.execution_id, r.kind, json.loads(r.payload or "{}")) for r in rows]


def delete_for(conn: Connection, execution_ids: list[str]) -> int:
    """Drop the commands of purged executions (inside the purge's transaction)."""
    from sqlalchemy import delete

    from engine.store.tables import execution_commands

    return conn.execute(delete(execution_commands).where(execution_commands.c.execution_id.in_(execution_ids))).rowcount or 0
