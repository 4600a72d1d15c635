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
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.model.services import ExecutionService, FlowService, KvService, TaskServices, TriggerService

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
        self._hidden: list[str] = []  # values this attempt declared sensitive (RunContext.add_secret)

    def hide(self, value: str) -> None:
        """Mask ``value`` in every later line of this attempt too."""
        if value not in self._hidden:
            self._hidden.append(value)
            self._hidden.sort(key=len, reverse=True)

    def redirect(self, sink: LogSink) -> TaskLogger:
        """The same logger (level, masking) writing to ``sink`` instead (a task's ``logToFile``)."""
        other = TaskLogger(sink)
        other._min, other._mask = self._min, self._mask
        return other

    def log(self, level: str, message: str) -> None:
        level = level.upper()
        if level == "WARNING":
            level = "WARN"
        if LEVEL_RANK.get(level, 2) >= self._min:
            text = self._mask(str(message))
            if self._hidden:
                from engine.runtime.masking import mask_text

                text = mask_text(text, self._hidden)
            self._sink(level, text)

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
    """An attribute whose default (a ``threading.Event``) is made on first use.

    Most attempts (every light task the runner runs inline) are never killed and
    never time out; an Event costs more to make than the rest of the context. The
    first read creates it with ``dict.setdefault``, so two threads reading it at
    once (a worker and a kill) still get the same Event.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return None  # read on the class: each instance makes its own on first read
        made = obj.__dict__.get(self._name)
        if made is None:
            made = obj.__dict__.setdefault(self._name, threading.Event())
        return made

    def __set__(self, obj: object, value: threading.Event | None) -> None:
        if value is not None:
            obj.__dict__[self._name] = value


class RunContext:
    """Everything one attempt of a runnable task may use.

    A plain class, not a dataclass: one is made for every attempt, light tasks included, so its
    ``__init__`` is written out and a field left at ``None`` is not stored but read from the
    class; and building a dataclass at import costs a cold run ~0.5 ms.
    """

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
    kill_reason: list[str]
    timeout: float | None = None  # seconds; the worker also enforces it through kill_event
    working_dir: Path | None = None  # shared directory of an enclosing working_directory task
    flow_dir: Path | None = None  # folder of the flow file, for relative paths (notebooks)
    home: Path | None = None  # LANNER_HOME
    #: Renders a value with the expression engine and this context (native types kept).
    renderer: Callable[[Any, Mapping[str, Any]], Any] | None = None
    #: Stores a local file in internal storage and returns its lanner:// URI.
    put_file: Callable[[Path, str], str] | None = None
    #: Secret values to hide from logs and outputs.
    secrets: list[str]
    extra: dict[str, Any]
    #: Looks a secret up by name (``{{ secret('NAME') }}``'s source); raises ValueError naming what to set.
    secret_lookup: Callable[[str], str] | None = None
    #: The key-value store, execution history and triggers, when the runner can offer them (see engine.model.services).
    services: TaskServices | None = None
    #: Metrics the attempt published (``metric()``), kept on its task run.
    metrics: list[dict[str, Any]]

    def __init__(
        self,
        execution_id: str,
        namespace: str,
        flow_id: str,
        task_id: str,
        task_run_id: str,
        attempt: int,
        variables: dict[str, Any],
        logger: TaskLogger,
        kill_event: threading.Event | None = None,
        kill_reason: list[str] | None = None,
        timeout: float | None = None,
        working_dir: Path | None = None,
        flow_dir: Path | None = None,
        home: Path | None = None,
        renderer: Callable[[Any, Mapping[str, Any]], Any] | None = None,
        put_file: Callable[[Path, str], str] | None = None,
        secrets: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        secret_lookup: Callable[[str], str] | None = None,
        services: TaskServices | None = None,
        metrics: list[dict[str, Any]] | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.namespace = namespace
        self.flow_id = flow_id
        self.task_id = task_id
        self.task_run_id = task_run_id
        self.attempt = attempt
        self.variables = variables
        self.logger = logger
        if kill_event is not None:
            self.__dict__["kill_event"] = kill_event  # else made on first read (_CreatedOnUse)
        self.kill_reason = [] if kill_reason is None else kill_reason
        self.secrets = [] if secrets is None else secrets
        self.extra = {} if extra is None else extra
        self.metrics = [] if metrics is None else metrics
        # The rest default to None, the class's value: stored only when given.
        if timeout is not None:
            self.timeout = timeout
        if working_dir is not None:
            self.working_dir = working_dir
        if flow_dir is not None:
            self.flow_dir = flow_dir
        if home is not None:
            self.home = home
        if renderer is not None:
            self.renderer = renderer
        if put_file is not None:
            self.put_file = put_file
        if secret_lookup is not None:
            self.secret_lookup = secret_lookup
        if services is not None:
            self.services = services

    def render(self, value: object, extra: Mapping[str, Any] | None = None) -> Any:
        """Render expressions in ``value`` (recursively) against this attempt's context."""
        if self.renderer is None:
            return value
        ctx: Mapping[str, Any] = self.variables if not extra else {**self.variables, **extra}
        return self.renderer(value, ctx)

    def render_as(self, value: object, kind: Any, field: str) -> Any:
        """Render ``value`` and read it as ``kind`` (``int``, ``bool``, a ``Literal``, ``Duration``...).

        Kestra properties take expressions anywhere (``port: "{{ inputs.port }}"``);
        a task declares such a property as ``int | str`` and reads it here. A value
        that is not a ``kind`` fails the attempt with a sentence naming ``field``.
        """
        from pydantic import TypeAdapter, ValidationError

        from engine.model.task import TaskFailed

        rendered = self.render(value)
        if isinstance(rendered, str):
            rendered = rendered.strip()
        try:
            return TypeAdapter(kind).validate_python(rendered)
        except ValidationError as exc:
            reason = str(exc.errors()[0].get("msg", "invalid value")).removeprefix("Value error, ")
            raise TaskFailed(f"{field}: {rendered!r} is not valid ({reason})") from None

    def add_secret(self, value: object) -> Any:
        """Treat ``value`` (a password, a token, a webhook URL) as a secret for the rest of this attempt.

        It is masked in the attempt's logs, outputs and error message, like a
        ``{{ secret('NAME') }}`` value, also when the flow wrote it in plain text.
        """
        text = str(value) if value is not None else ""
        if len(text) >= 3:
            if text not in self.secrets:
                self.secrets.append(text)
            self.logger.hide(text)
        return value

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

    # --- services ------------------------------------------------------------------------------------

    def _service(self, name: str, what: str) -> Any:
        service = getattr(self.services, name, None) if self.services is not None else None
        if service is None:
            from engine.model.task import TaskFailed

            raise TaskFailed(
                f"{self.task_id}: {what} is not available where this task runs; run it on the server's own workers "
                "(not on a remote worker without the database)"
            )
        return service

    @property
    def kv(self) -> KvService:
        """The key-value store (TaskFailed with a clear sentence when the runner has none)."""
        return self._service("kv", "the key-value store")

    @property
    def executions(self) -> ExecutionService:
        """The execution history: counts, purges, logs, resume."""
        return self._service("executions", "the execution history")

    @property
    def flows(self) -> FlowService:
        """Flows of the instance: list, check, deploy, delete (``git_sync_flows``)."""
        return self._service("flows", "deploying flows")

    @property
    def triggers(self) -> TriggerService:
        """The triggers of deployed flows (enable/disable)."""
        return self._service("triggers", "trigger control")

    def metric(self, kind: str, name: str, value: float, tags: Mapping[str, Any] | None = None) -> None:
        """Publish a metric of this task run: ``kind`` is ``counter``, ``timer`` (seconds) or ``gauge``."""
        self.metrics.append({"type": kind, "name": name, "value": value, "tags": {str(k): str(v) for k, v in (tags or {}).items()}})

    @property
    def storage(self) -> Any:
        """Internal storage (:class:`engine.storage.InternalStorage`) as this attempt sees it."""
        from engine.storage import storage_for_context

        return storage_for_context(self)

    def file_uri(self, name: str) -> str:
        """A new internal-storage URI for a file this task run writes itself (with ``storage.open_write``)."""
        return self.storage.task_uri(self.namespace, self.flow_id, self.execution_id, self.task_id, self.task_run_id, name)

    def output_file(self, path: str | Path, name: str | None = None) -> str:
        """Keep a file the task produced: its ``lanner:///`` URI (a local path when there is no storage)."""
        path = Path(path)
        if self.put_file is None:
            return str(path.resolve())
        return self.put_file(path, name or path.name)
