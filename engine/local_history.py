"""Searching logs across executions and changing a task run's state (a part of LocalEngine).

The global Logs page reads one page of lines at a time from the store
(:mod:`engine.store.log_search`); a change of state, like every change of an
execution, is posted to the runner loop, the only writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.model.state import State
from engine.model.views import ExecutionSummary, LogLine, Page
from engine.service import Conflict, LogLevel, NotFound, invalid

if TYPE_CHECKING:
    from engine.model.execution import Execution
    from engine.runtime.local import LocalRunner
    from engine.store.sql import SqlStore


def stored_time(value: datetime | None) -> str | None:
    """A datetime as the stored timestamp text (UTC, microseconds), for comparisons in SQL."""
    from engine.store.history import stamp  # the store loads with the runner, not with this module

    return None if value is None else stamp(value)


class HistoryOps:
    """What LocalEngine answers about logs across executions, and the change of a task run's state."""

    if TYPE_CHECKING:  # provided by LocalEngine
        @property
        def store(self) -> SqlStore: ...

        @property
        def runner(self) -> LocalRunner: ...

        def mask(self, data: object) -> Any: ...

        def _execution(self, execution_id: str) -> Execution: ...

        def summary_of(self, execution_id: str) -> ExecutionSummary: ...

    def search_logs(self, *, namespace: str | None = None, flow_id: str | None = None,
                    execution_id: str | None = None, min_level: LogLevel | None = None,
                    after: datetime | None = None, before: datetime | None = None, q: str | None = None,
                    page: int = 1, size: int = 50) -> Page[LogLine]:
        from engine.store.log_search import LogQuery, search_logs

        if page < 1 or size < 1:
            raise invalid("page" if page < 1 else "size", "page and size must be at least 1")
        query = LogQuery(namespace or None, flow_id or None, execution_id or None, min_level,
                         stored_time(after), stored_time(before), q or None)
        try:
            rows, total = search_logs(self.store, query, limit=size, offset=(page - 1) * size)
        except ValueError as exc:
            raise invalid("minLevel", str(exc)) from None
        return Page[LogLine](results=[LogLine.model_validate(self.mask(r)) for r in rows], total=total)

    def change_task_run_state(self, execution_id: str, task_run_id: str, state: State) -> ExecutionSummary:
        from engine.runtime.restart import CHANGEABLE_TO

        ex = self._execution(execution_id)
        if not ex.state.terminal or ex.state == State.KILLED:
            raise Conflict(f"execution {execution_id} is {ex.state}; a task run's state can change once the "
                           "execution has ended, and not after a kill")
        if state not in CHANGEABLE_TO:
            raise invalid("state", f"a task run can be set to {', '.join(map(str, CHANGEABLE_TO))}, not {state}")
        found = {tr_id: tr_state for tr_id, _task, _value, tr_state in self.store.task_run_states(execution_id)}
        if task_run_id not in found:
            raise NotFound(f"execution {execution_id} has no task run {task_run_id}")
        if not State(found[task_run_id]).terminal:
            raise Conflict(f"task run {task_run_id} is {found[task_run_id]}; only an ended task run can change state")
        self.runner.change_task_run_state(execution_id, task_run_id, state)
        self.runner.sync()
        return self.summary_of(execution_id)
