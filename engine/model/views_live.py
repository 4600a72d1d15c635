"""The events of a followed execution (``Engine.follow``, the REST API's event stream): typed views.

Apart from :mod:`engine.model.views` because only a follower needs them: a cold ``lanner flow run``
polls the summary and the log lines instead, and building these models cost it time.
"""

from typing import Any, Literal

from pydantic import Field

from engine.model.state import State
from engine.model.views import LogLine, View


class TaskRunState(View):
    """What a follower sees of a task run at each change: cheap to read and compare."""

    id: str
    task_id: str
    value: str | None = None
    state: State


class LogEvent(View):
    """A stored log line, in order."""

    kind: Literal["log"] = Field(default="log", exclude=True)
    line: LogLine

    def to_dict(self) -> dict[str, Any]:
        return self.line.to_dict()


class StateEvent(View):
    """The execution's or a task run's state changed: every task run's state now."""

    kind: Literal["state"] = Field(default="state", exclude=True)
    execution_id: str
    state: State
    task_runs: list[TaskRunState] = []


class EndEvent(View):
    """The execution ended (state None: it was deleted while followed); the last event."""

    kind: Literal["end"] = Field(default="end", exclude=True)
    execution_id: str
    state: State | None = None


ExecutionEvent = LogEvent | StateEvent | EndEvent
