"""Log lines on their way to the store.

Workers append lines from any thread; the runner's loop drains them into each
store transaction (at least every 100 ms). The buffer is bounded: a task that
prints faster than the store can take waits, so memory stays flat.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

from engine.model.ids import now_iso
from engine.store.records import LogRecord

MAX_PENDING = 50_000


class LogBuffer:
    def __init__(self, max_pending: int = MAX_PENDING):
        self._rows: list[LogRecord] = []
        self._cond = threading.Condition()
        self._max = max_pending
        #: The thread that drains the buffer never waits for itself.
        self.drainer_ident: int | None = None

    def add(self, execution_id: str, task_run_id: str | None, task_id: str | None, attempt: int | None, level: str, message: str) -> None:
        row = LogRecord(execution_id, task_run_id, task_id, attempt, level, now_iso(), message)
        with self._cond:
            while len(self._rows) >= self._max and threading.get_ident() != self.drainer_ident:
                if not self._cond.wait(timeout=5):
                    break
            self._rows.append(row)

    def sink(self, execution_id: str, task_run_id: str, task_id: str, attempt: int) -> Callable[[str, str], None]:
        """Where one attempt's lines go: ``(level, message)`` (a partial, made in C: one per task run)."""
        return functools.partial(self.add, execution_id, task_run_id, task_id, attempt)

    def drain(self) -> list[LogRecord]:
        with self._cond:
            rows, self._rows = self._rows, []
            self._cond.notify_all()
        return rows

    def pending(self, execution_id: str, min_level: str = "TRACE") -> list[dict[str, Any]]:
        """Lines of one execution not yet drained, shaped like the store's rows (for ``errorLogs()``)."""
        order = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
        floor = order.index(min_level) if min_level in order else 0
        with self._cond:
            rows = [r for r in self._rows if r.execution_id == execution_id]
        return [
            {"executionId": r.execution_id, "taskRunId": r.task_run_id, "taskId": r.task_id, "attempt": r.attempt,
             "level": r.level, "timestamp": r.timestamp, "message": r.message}
            for r in rows
            if r.level in order and order.index(r.level) >= floor
        ]  # fmt: skip

    def system_error(self, message: str) -> None:
        print(f"lanner: {message}", file=sys.stderr)
