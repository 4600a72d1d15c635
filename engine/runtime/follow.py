"""Following an execution: its new log lines and state changes, read from the store.

A :class:`Follower` is polled; each poll returns what happened since the last one
(log lines in order, then one StateEvent when a state changed) and, once the
execution has ended, its last log lines and an EndEvent. It reads the store, which
is the truth whatever process writes it, so a follower sees exactly what a reader
of the logs would. ``Engine.follow`` polls it with sleeps in between; the REST
API's event stream polls it between its own asynchronous sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.model.state import State
from engine.model.views import LogLine
from engine.model.views_live import EndEvent, ExecutionEvent, LogEvent, StateEvent, TaskRunState

if TYPE_CHECKING:
    from engine.store.sql import SqlStore

#: Log lines read per poll at most (the next poll reads on).
BATCH = 5000


class Follower:
    def __init__(self, store: SqlStore, sync: Callable[[float], None], mask: Callable[[Any], Any], execution_id: str,
                 task_id: str | None = None, min_level: str | None = None):
        self.store = store
        self.sync = sync  # waits until the runner's loop committed what it holds (the last log lines)
        self.mask = mask
        self.execution_id = execution_id
        self.task_id = task_id
        self.min_level = min_level
        self.last_log = 0
        self.finished = False
        self._last_state: Any = None

    def _lines(self) -> list[ExecutionEvent]:
        rows = self.store.get_logs(self.execution_id, after_id=self.last_log, task_id=self.task_id,
                                   min_level=self.min_level, limit=BATCH)
        if rows:
            self.last_log = rows[-1]["id"]
        return [LogEvent(line=LogLine.model_validate(self.mask(row))) for row in rows]

    def poll(self) -> list[ExecutionEvent]:
        """What happened since the last poll; ends with an EndEvent once the execution has ended."""
        if self.finished:
            return []
        ex = self.store.get_execution(self.execution_id)
        if ex is None:  # deleted while followed
            self.finished = True
            return [EndEvent(execution_id=self.execution_id, state=None)]
        runs = self.store.task_run_states(self.execution_id)
        events = self._lines()
        state = (ex.state, runs)
        if state != self._last_state:
            self._last_state = state
            events.append(StateEvent(execution_id=self.execution_id, state=ex.state, task_runs=[
                TaskRunState(id=i, task_id=t, value=v, state=State(s)) for i, t, v, s in runs]))
        if ex.state.terminal:
            self.sync(2)  # log lines written just before the end
            while more := self._lines():
                events.extend(more)
            events.append(EndEvent(execution_id=self.execution_id, state=ex.state))
            self.finished = True
        return events
