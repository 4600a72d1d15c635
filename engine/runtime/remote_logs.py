"""The Dask worker's side of one task attempt: rebuild the context, stream logs back, obey kills.

Only plain data crosses the wire (:class:`RemoteSpec`): the task model, the
expression context, secret values, the storage URL. On the worker, log lines
are batched (every 100 ms or 500 lines) into a ``distributed.Queue`` the
dispatching process drains while the task runs, so logs stream live and stay
in order. A ``distributed.Event`` per attempt carries kill requests to the
worker's process; the timeout is enforced locally by :func:`run_attempt`.

A second ``distributed.Event`` marks the attempt as started. When the Dask
worker running it dies, the scheduler re-runs the same Dask task elsewhere;
this function then sees the mark and reports the attempt FAILED ("worker lost")
instead of running it twice, so the task's ``retry`` decides what comes next.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.model.ids import now_iso
from engine.model.state import State
from engine.model.task import RunnableTask
from engine.runtime.context import RunContext, TaskLogger
from engine.runtime.executor import WorkerOutcome
from engine.runtime.secrets import mask_text

if TYPE_CHECKING:
    from distributed import Queue

FLUSH_SECONDS = 0.1
FLUSH_LINES = 500
LOST_MESSAGE = "worker lost: the Dask worker running this attempt died (counted as a failed attempt)"


@dataclass
class RemoteSpec:
    """Everything a Dask worker needs to run one attempt (picklable)."""

    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    task_run_id: str
    attempt: int
    task: RunnableTask
    variables: dict[str, Any]
    log_level: str
    log_queue: str  # name of the distributed.Queue of the dispatching process
    kill_event: str  # name of the distributed.Event that kills this attempt
    started_event: str  # set once the attempt has started on some worker
    secrets: dict[str, str] = field(default_factory=dict)  # what secret() reads: the flow namespace's view
    storage_url: str | None = None
    working_dir: str | None = None
    flow_dir: str | None = None
    home: str | None = None


class _Forwarder:
    """Batches log lines into the dispatcher's queue from a background thread."""

    def __init__(self, queue: Queue, key: tuple[str, str, str, int]):
        self._queue = queue
        self._key = key
        self._lines: list[tuple[str, str, str]] = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="lanner-log-forwarder", daemon=True)
        self._thread.start()

    def sink(self, level: str, message: str) -> None:
        with self._cond:
            # Bounded: a task printing faster than the network waits instead of growing memory.
            while len(self._lines) >= 20 * FLUSH_LINES and not self._done:
                self._cond.wait(1)
            self._lines.append((now_iso(), level, message))
            if len(self._lines) >= FLUSH_LINES:
                self._cond.notify_all()

    def send(self, kind: str, payload: object) -> None:
        self._flush()
        self._queue.put((kind, *self._key, payload))

    def _flush(self) -> None:
        with self._cond:
            lines, self._lines = self._lines, []
            self._cond.notify_all()
        if lines:
            self._queue.put(("logs", *self._key, lines))

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._done:
                    self._cond.wait(FLUSH_SECONDS)
                done = self._done
            self._flush()
            if done:
                return

    def close(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
        self._flush()


def _renderer(spec: RemoteSpec) -> Any:
    from engine import expressions
    from engine.runtime.expression_functions import runtime_functions
    from engine.runtime.secrets import SecretStore
    from engine.storage import InternalStorage

    storage = InternalStorage(spec.storage_url) if spec.storage_url else None
    functions = runtime_functions(spec.namespace, secret=SecretStore.of_values(spec.secrets).function(spec.namespace), storage=storage)

    def render(value: object, ctx: Mapping[str, Any]) -> Any:
        return expressions.render(value, ctx, functions=functions)

    return render


def run_remote(spec: RemoteSpec) -> WorkerOutcome:
    """Entry point on the Dask worker (``client.submit(run_remote, spec)``)."""
    from distributed import Event, Queue

    from engine.model import registry
    from engine.runtime.worker import Job, run_attempt

    registry.finalize()
    started = Event(spec.started_event)
    if started.is_set():
        now = now_iso()
        return WorkerOutcome(State.FAILED, None, LOST_MESSAGE, now, now)
    started.set()
    forwarder = _Forwarder(Queue(spec.log_queue), (spec.execution_id, spec.task_run_id, spec.task_id, spec.attempt))
    secret_values = sorted((v for v in spec.secrets.values() if len(v) >= 3), key=len, reverse=True)
    ctx = RunContext(
        execution_id=spec.execution_id,
        namespace=spec.namespace,
        flow_id=spec.flow_id,
        task_id=spec.task_id,
        task_run_id=spec.task_run_id,
        attempt=spec.attempt,
        variables=spec.variables,
        logger=TaskLogger(forwarder.sink, spec.log_level, lambda text: mask_text(text, secret_values)),
        working_dir=Path(spec.working_dir) if spec.working_dir else None,
        flow_dir=Path(spec.flow_dir) if spec.flow_dir else None,
        home=Path(spec.home) if spec.home else None,
        renderer=_renderer(spec),
        secrets=secret_values,
        secret_lookup=spec.secrets.__getitem__,
    )
    if spec.storage_url:
        from engine.storage import InternalStorage

        storage = InternalStorage(spec.storage_url)
        ctx.put_file = functools.partial(  # put_file(path, name), as the runner's own
            storage.put_task_file, spec.namespace, spec.flow_id, spec.execution_id, spec.task_id, spec.task_run_id
        )
    kill = Event(spec.kill_event)
    stop = threading.Event()

    def watch_kill() -> None:
        while not stop.is_set():
            try:
                if kill.wait(timeout=0.5):
                    ctx.kill_reason.append("killed")
                    ctx.kill_event.set()
                    return
            except Exception:  # noqa: BLE001 - scheduler briefly away: keep watching
                time.sleep(0.5)

    watcher = threading.Thread(target=watch_kill, name="lanner-kill-watch", daemon=True)
    watcher.start()
    try:
        job = Job(spec.execution_id, spec.task_run_id, spec.attempt, spec.task, ctx)
        outcome = run_attempt(job, on_started=lambda at: forwarder.send("started", at))
    finally:
        stop.set()
        forwarder.close()
    return outcome
