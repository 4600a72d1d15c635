"""The few store queries the API needs that the runner's store does not offer."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update

from engine.store.tables import executions, task_runs


def set_labels(store: Any, execution_id: str, labels: dict[str, str]) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(executions).where(executions.c.id == execution_id).values(labels=json.dumps(labels, separators=(",", ":"))))


def count_by_state(store: Any) -> dict[str, int]:
    with store.read_engine.begin() as conn:
        return {r[0]: int(r[1]) for r in conn.execute(select(executions.c.state, func.count()).group_by(executions.c.state))}


def task_run_states(store: Any, execution_id: str) -> list[tuple[str, str, str]]:
    """(task run id, task id, state) of an execution, cheap enough to poll."""
    with store.read_engine.begin() as conn:
        rows = conn.execute(
            select(task_runs.c.id, task_runs.c.task_id, task_runs.c.state).where(task_runs.c.execution_id == execution_id).order_by(task_runs.c.seq)
        )
        return [(r[0], r[1], r[2]) for r in rows]
