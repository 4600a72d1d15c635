"""The summary of an ended execution, made when someone first asks for it.

The runner's loop ends an execution and moves on; building the summary (a dict per
task run, 1,000 of them for a ForEach over 1,000 values) on that thread cost about as
much as 5 % of running the execution. Most ends have nobody waiting (a scheduled run),
and who waits (``LocalRunner.wait``) can build it on its own thread. An ended
execution's in-memory state is no longer changed by the loop (a later event about it
loads it again from the store), so building it later gives the same summary.
"""

from __future__ import annotations

import threading
from typing import Any

from engine.model.execution import ExecutionState


class EndSummary:
    """The summary of one ended execution: :meth:`get` builds it once, from any thread."""

    __slots__ = ("_state", "_summary", "_lock", "task_runs")

    def __init__(self, state: ExecutionState):
        self._state: ExecutionState | None = state
        self._summary: dict[str, Any] | None = None
        self._lock = threading.Lock()
        #: How many task runs it holds (what the runner's cache of ended summaries is bounded by).
        self.task_runs = len(state.task_runs)

    def get(self) -> dict[str, Any]:
        summary = self._summary
        if summary is None:
            with self._lock:
                if self._summary is None:
                    assert self._state is not None
                    self._summary = self._state.summary()
                    self._state = None  # let the state go: the summary is all that is kept
                summary = self._summary
        return summary
