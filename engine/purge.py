"""Retention: delete old executions with their task runs, logs and files.

``lanner purge --older-than P30D [--keep-failed]`` runs it once; a server with
``LANNER_PURGE_OLDER_THAN`` set runs it on a schedule (:class:`PurgeScheduler`).
Only ended executions are purged, judged by their end date (start date when
they have none), so nothing running ever loses its history. Deletion goes in
small batches so a large purge never holds a long write lock.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select

from engine.model.durations import parse_duration
from engine.model.state import TERMINAL_NAMES, State
from engine.store.commands import delete_for as delete_commands
from engine.store.sql import SqlStore
from engine.store.tables import executions, logs, task_runs

FAILED = [str(s) for s in (State.FAILED, State.KILLED)]
BATCH = 200


@dataclass
class PurgeReport:
    executions: int = 0
    logs: int = 0
    task_runs: int = 0
    files_failed: int = 0


def parse_older_than(value: str) -> timedelta:
    """An ISO-8601 duration such as P30D; a clear error names the option otherwise."""
    try:
        td = parse_duration(value)
    except Exception as exc:  # noqa: BLE001 - one sentence for the user
        raise ValueError(f"--older-than {value!r} is not an ISO-8601 duration such as P30D or PT12H") from exc
    if td <= timedelta(0):
        raise ValueError(f"--older-than {value!r} must be a positive duration")
    return td


def purge(store: SqlStore, storage: Any | None, older_than: timedelta, *, keep_failed: bool = False, now: datetime | None = None) -> PurgeReport:
    """Delete ended executions older than ``older_than`` (and their logs, task runs, files)."""
    cutoff = ((now or datetime.now(UTC)) - older_than).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    states = [s for s in TERMINAL_NAMES if not (keep_failed and s in FAILED)]
    when = func.coalesce(executions.c.end_date, executions.c.start_date)
    q = select(executions.c.id, executions.c.namespace, executions.c.flow_id).where(
        and_(executions.c.state.in_(states), when < cutoff)
    )
    report = PurgeReport()
    while True:
        with store.engine.begin() as conn:
            rows = conn.execute(q.limit(BATCH)).all()
            if not rows:
                break
            ids = [r.id for r in rows]
            report.logs += conn.execute(delete(logs).where(logs.c.execution_id.in_(ids))).rowcount or 0
            report.task_runs += conn.execute(delete(task_runs).where(task_runs.c.execution_id.in_(ids))).rowcount or 0
            report.executions += conn.execute(delete(executions).where(executions.c.id.in_(ids))).rowcount or 0
            delete_commands(conn, ids)
        if storage is not None and hasattr(storage, "delete_execution"):
            for r in rows:
                try:
                    storage.delete_execution(r.namespace, r.flow_id, r.id)
                except Exception:  # noqa: BLE001 - the rows are gone; a leftover file is not worth a failure
                    report.files_failed += 1
        if len(rows) < BATCH:
            break
    return report


class PurgeScheduler:
    """Runs :func:`purge` every ``interval`` seconds in a daemon thread (the server's retention)."""

    def __init__(self, store: SqlStore, storage: Any | None, older_than: timedelta, *, keep_failed: bool = False, interval: float = 3600):
        self.store, self.storage, self.older_than, self.keep_failed, self.interval = store, storage, older_than, keep_failed, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lanner-purge", daemon=True)

    @classmethod
    def from_env(cls, store: SqlStore, storage: Any | None) -> PurgeScheduler | None:
        """Built from LANNER_PURGE_OLDER_THAN (and LANNER_PURGE_KEEP_FAILED, LANNER_PURGE_INTERVAL); None when unset."""
        value = os.environ.get("LANNER_PURGE_OLDER_THAN")
        if not value:
            return None
        keep = os.environ.get("LANNER_PURGE_KEEP_FAILED", "").lower() in ("1", "true", "yes")
        try:
            older_than = parse_older_than(value)
        except ValueError:
            raise ValueError(f"LANNER_PURGE_OLDER_THAN={value!r} is not a positive ISO-8601 duration such as P30D or PT12H") from None
        raw = os.environ.get("LANNER_PURGE_INTERVAL", "3600")
        try:
            interval = float(raw)
        except ValueError:
            interval = -1.0
        if interval <= 0:
            raise ValueError(f"LANNER_PURGE_INTERVAL={raw!r} must be a positive number of seconds")
        return cls(store, storage, older_than, keep_failed=keep, interval=interval)

    def start(self) -> PurgeScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while True:
            try:
                purge(self.store, self.storage, self.older_than, keep_failed=self.keep_failed)
            except Exception as exc:  # noqa: BLE001 - retention must never take the server down
                print(f"lanner: purge failed, retrying later: {exc}", flush=True)
            if self._stop.wait(self.interval):
                return
