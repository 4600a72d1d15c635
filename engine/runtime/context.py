"""What a runnable task sees while one attempt of it runs.

The worker builds a :class:`RunContext` per attempt. It carries plain data (the
expression context), a logger that streams structured log lines back to the
runner, a kill event set on kill or timeout, and the places files go.
Tasks never touch the store: that is what lets workers be threads, processes
or Dask workers on other machines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}

#: Signature of the sink log lines go to: (level, message).
LogSink = Callable[[str, str], None]


class TaskLogger:
    """Structured logger of one attempt. Masks secrets before anything leaves."""

    def __init__(self, sink: LogSink, min_level: str = "TRACE", mask: Callable[[str], str] | None = None):
        self._sink = sink
        self._min = LEVEL_RANK.get(min_level, 0)
        self._mask = mask or (lambda s: s)

    def log(self, level: str, message: str) -> None:
        level = level.upper()
        if level == "WARNING":
            level = "WARN"
        if LEVEL_RANK.get(level, 2) >= self._min:
            self._sink(level, self._mask(str(message)))

    def trace(self, message: str) -> None:
        self.log("TRACE", message)

    def debug(self, message: str) -> None:
        self.log("DEBUG", message)

    def info(self, message: str) -> None:
        self.log("INFO", message)

    def warn(self, message: str) -> None:
        self.log("WARN", message)

    def error(self, message: str) -> None:
        self.log("ERROR", message)


class _CreatedOnUse:
    """A dataclass field whose default (a ``threading.Event``) is made on first use.

    Most attempts (every light task the runner runs inline) are never killed and
    never time out; an Event costs more to make than the rest of the context. The
    first read creates it with ``dict.setdefault``, so two threads reading it at
    once (a worker and a kill) still get the same Event.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return None  # the dataclass default: made on first read
        made = obj.__dict__.get(self._name)
        if made is None:
            made = obj.__dict__.setdefault(self._name, threading.Event())
        return made

    def __set__(self, obj: Any, value: threading.Event | None) -> None:
        if value is not None:
            obj.__dict__[self._name] = value


@dataclass
class RunContext:
    """Everything one attempt of a runnable task may use."""

    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    task_run_id: str
    attempt: int  # 0 for the first attempt
    variables: dict[str, Any]  # the expression context: inputs, outputs, vars, taskrun, execution...
    logger: TaskLogger
    kill_event: threading.Event = _CreatedOnUse()  # type: ignore[assignment]
    #: Why kill_event was set: "killed" or "timeout".
    kill_reason: list[str] = field(default_factory=list)
    timeout: float | None = None  # seconds; the worker also enforces it through kill_event
    working_dir: Path | None = None  # shared directory of an enclosing working_directory task
    flow_dir: Path | None = None  # folder of the flow file, for relative paths (notebooks)
    home: Path | None = None  # LANNER_HOME
    #: Renders a value with the expression engine and this context (native types kept).
    renderer: Callable[[Any, Mapping[str, Any]], Any] | None = None
    #: Stores a local file in internal storage and returns its lanner:// URI.
    put_file: Callable[[Path, str], str] | None = None
    #: Secret values to hide from logs and outputs.
    secrets: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Looks a secret up by name (``{{ secret('NAME') }}``'s source); raises ValueError naming what to set.
    secret_lookup: Callable[[str], str] | None = None

    def render(self, value: Any, extra: Mapping[str, Any] | None = None) -> Any:
        """Render expressions in ``value`` (recursively) against this attempt's context."""
        if self.renderer is None:
            return value
        ctx: Mapping[str, Any] = self.variables if not extra else {**self.variables, **extra}
        return self.renderer(value, ctx)

    def mask_file(self, path: Path) -> bool:
        """Mask the secrets in a file the task itself generated (a notebook, a report) before it is stored."""
        from engine.runtime.masking import mask_file

        return mask_file(path, self.secrets)

    @property
    def killed(self) -> bool:
        """The attempt was killed or ran out of time: stop as soon as possible."""
        event = self.__dict__.get("kill_event")  # not made yet: nobody set it
        return event is not None and event.is_set()

    @property
    def timed_out(self) -> bool:
        """The attempt was stopped by the task's ``timeout`` (rather than killed by someone)."""
        return self.killed and self.kill_reason[:1] == ["timeout"]

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as the attempt is killed or times out."""
        return self.kill_event.wait(seconds)

    def raise_if_killed(self) -> None:
        """Stop the attempt here when it was killed or timed out (the state says which)."""
        if self.kill_event.is_set():
            from engine.model.task import TaskFailed

            raise TaskFailed("Timed out" if self.timed_out else "Killed")

    def secret(self, name: str) -> str:
        """The value of secret ``name`` (masked in logs and outputs like ``{{ secret('NAME') }}``)."""
        from engine.model.task import TaskFailed

        if self.secret_lookup is None:
            raise TaskFailed(f"secret '{name}' is not available to this task (no secret store)")
        try:
            value = self.secret_lookup(name)
        except (KeyError, ValueError) as exc:
            raise TaskFailed(str(exc) if isinstance(exc, ValueError) else f"secret '{name}' is not defined") from None
        if len(value) >= 3 and value not in self.secrets:
            self.secrets.append(value)
        return value

    @property
    def storage(self) -> Any:
        """Internal storage (:class:`engine.storage.InternalStorage`) as this attempt sees it."""
        from engine.storage import storage_for_context

        return storage_for_context(self)

    def output_file(self, path: str | Path, name: str | None = None) -> str:
        """Keep a file the task produced: its ``lanner:///`` URI (a local path when there is no storage)."""
        path = Path(path)
        if self.put_file is None:
            return str(path.resolve())
        return self.put_file(path, name or path.name)
