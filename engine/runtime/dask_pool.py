"""Run task attempts on a Dask distributed cluster instead of local threads.

:class:`DaskWorkerPool` has the interface of
:class:`~engine.runtime.worker.ThreadWorkerPool` (``submit``, ``kill``,
``running``, ``shutdown``), so the runner does not know where attempts run.
The worker side needs only ``pip install lanner[dask]`` and ``dask worker
tcp://SCHEDULER:8786``.

* Each attempt is one Dask task running :func:`engine.runtime.remote_logs.run_remote`
  with plain data; its result (a WorkerOutcome) comes back through the future,
  to the process that dispatched it.
* Logs stream back while the task runs through one ``distributed.Queue`` per
  pool, drained by a thread here into the runner's log buffer.
* ``kill`` sets a ``distributed.Event`` the worker watches; timeouts run on the worker.
* ``outputFiles`` are written by the worker into internal storage, which must be
  a location every worker sees (a shared directory or an fsspec URL, ``LANNER_STORAGE``).
* A task's ``workerGroup.key`` becomes a Dask resource requirement ``{key: 1}``:
  start the workers of that group with ``dask worker ... --resources "KEY=N"``
  (N attempts of the group at once on that worker).
* A worker that dies mid-attempt makes the attempt FAILED ("worker lost"); the
  task's ``retry`` then starts a new attempt on another worker.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.model.ids import now_iso
from engine.model.state import State
from engine.runtime.executor import WorkerOutcome
from engine.runtime.remote_logs import LOST_MESSAGE, RemoteSpec, run_remote
from engine.runtime.worker import Job

if TYPE_CHECKING:
    from distributed import Future

    from engine.runtime.local import LocalRunner


class DaskWorkerPool:
    """Sends runnable task attempts to the Dask scheduler at ``address``."""

    def __init__(self, address: str | Any, *, connect_timeout: float | None = None):
        from distributed import Client, Queue

        if connect_timeout is None:
            connect_timeout = float(os.environ.get("LANNER_DASK_CONNECT_TIMEOUT", "30"))
        self.client = address if not isinstance(address, str) else Client(address, timeout=connect_timeout, set_as_default=False)
        if isinstance(address, str):
            self.address = address
        else:
            scheduler = self.client.scheduler
            assert scheduler is not None and scheduler.address is not None  # a connected client knows its scheduler
            self.address = scheduler.address
        self._id = uuid.uuid4().hex[:12]
        self._queue = Queue(f"lanner-logs-{self._id}", client=self.client)
        self._jobs: dict[str, tuple[Job, Any, Callable[[str], None], Any]] = {}
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._stop = threading.Event()
        self.storage_url: str | None = None
        self.secrets: Any = None
        self._drainer = threading.Thread(target=self._drain_loop, name="lanner-dask-logs", daemon=True)
        self._drainer.start()

    def bind(self, runner: LocalRunner) -> None:
        """Learn the runner's storage (shared with the workers) and secrets."""
        storage = getattr(runner, "storage", None)
        if storage is not None:
            self.storage_url = storage.root if storage.is_local else storage.fs.unstrip_protocol(storage.root)
        self.secrets = getattr(runner, "secrets", None)
        add, known = runner.log_buffer.add, self.secrets
        self._sink = add if known is None else (lambda ex, tr, task, att, level, msg: add(ex, tr, task, att, level, known.mask(msg)))

    # --- the ThreadWorkerPool interface --------------------------------------------------------------

    def submit(self, job: Job, on_started: Callable[[str], None], on_done: Callable[[WorkerOutcome], None]) -> None:
        from distributed import Event

        ctx = job.ctx
        key = f"{job.task_run_id}-{job.attempt}-{self._id}"
        # Only the secrets this flow's namespace may read travel to the worker (which masks them);
        # what comes back is masked again here against every secret the server knows.
        secrets = self.secrets.visible(ctx.namespace) if self.secrets is not None else {}
        spec = RemoteSpec(
            execution_id=job.execution_id,
            namespace=ctx.namespace,
            flow_id=ctx.flow_id,
            task_id=ctx.task_id,
            task_run_id=job.task_run_id,
            attempt=job.attempt,
            task=job.task,
            variables=ctx.variables,
            log_level=job.task.log_level or "TRACE",
            log_queue=f"lanner-logs-{self._id}",
            kill_event=f"lanner-kill-{key}",
            started_event=f"lanner-started-{key}",
            secrets=secrets,
            storage_url=self.storage_url,
            working_dir=str(ctx.working_dir) if ctx.working_dir else None,
            flow_dir=str(ctx.flow_dir) if ctx.flow_dir else None,
            home=str(ctx.home) if ctx.home else None,
        )
        resources = {job.task.worker_group.key: 1} if job.task.worker_group else None
        kill_event = Event(spec.kill_event, client=self.client)
        if ctx.kill_event.is_set():
            kill_event.set()
        future = self.client.submit(run_remote, spec, key=f"lanner-{key}", resources=resources, pure=False, retries=0)
        with self._lock:
            self._jobs[job.task_run_id] = (job, future, on_started, kill_event)

        def done(fut: Future) -> None:
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, cancelled, scheduler gone
                now = now_iso()
                name = type(exc).__name__
                msg = LOST_MESSAGE if name == "KilledWorker" else f"the Dask attempt failed: {name}: {exc}"
                outcome = WorkerOutcome(State.FAILED, None, msg, now, now)
            self.drain()  # every log line the worker flushed lands before the result
            if self.secrets is not None:
                outcome.outputs = self.secrets.mask_data(outcome.outputs)
                outcome.message = self.secrets.mask(outcome.message) if outcome.message else outcome.message
            with self._lock:
                self._jobs.pop(job.task_run_id, None)
            on_done(outcome)

        future.add_done_callback(done)

    def kill(self, task_run_id: str) -> bool:
        with self._lock:
            entry = self._jobs.get(task_run_id)
        if entry is None:
            return False
        entry[0].ctx.kill_reason.append("killed")
        entry[0].ctx.kill_event.set()
        try:
            entry[3].set()
        except Exception:  # noqa: BLE001 - scheduler away: the attempt is lost anyway
            return False
        return True

    def running(self) -> int:
        with self._lock:
            return len(self._jobs)

    def shutdown(self, *, kill: bool = False) -> None:
        if kill:
            with self._lock:
                ids = list(self._jobs)
            for tr_id in ids:
                self.kill(tr_id)
        self._stop.set()
        self._drainer.join(timeout=5)
        try:
            self.client.close(timeout=5)
        except Exception:  # noqa: BLE001 - closing a client of a dead scheduler
            pass

    # --- logs and "started" messages from the workers ------------------------------------------------

    def drain(self) -> None:
        """Move every queued message from the workers into the runner (in arrival order)."""
        with self._drain_lock:
            while True:
                try:
                    n = self._queue.qsize()
                except Exception:  # noqa: BLE001 - scheduler away
                    return
                if not n:
                    return
                for item in self._queue.get(batch=n):
                    self._deliver(item)

    def _deliver(self, item: tuple[Any, ...]) -> None:
        kind, ex_id, tr_id, task_id, attempt, payload = item
        if kind == "logs":
            for _ts, level, message in payload:
                self._sink(ex_id, tr_id, task_id, attempt, level, message)
        elif kind == "started":
            with self._lock:
                entry = self._jobs.get(tr_id)
            if entry is not None and entry[0].attempt == attempt:
                entry[2](payload)

    def _drain_loop(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.drain()
            except Exception:  # noqa: BLE001 - keep draining after a hiccup
                pass

    _sink: Callable[..., None] = staticmethod(lambda *a: None)  # replaced by bind()
