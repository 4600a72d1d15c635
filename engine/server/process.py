"""One server process: store + executor loop + worker pool + scheduler + flow watcher + HTTP API.

Shutdown on SIGTERM (or Ctrl-C) is graceful:

1. the HTTP server stops accepting requests;
2. the scheduler and the flow watcher stop, and the worker pool stops taking
   new attempts (a task run that was about to start stays CREATED);
3. running attempts get ``grace`` seconds to finish; their results are stored;
4. whatever still runs then is abandoned *without* recording a result: its task
   run stays RUNNING in the store, and the next start (which recovers
   unfinished executions) starts a new attempt of it.

A second signal during the grace period skips the rest of the wait.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.server.config import ServerConfig

if TYPE_CHECKING:
    import uvicorn

    from engine.runtime.worker import Job

log = logging.getLogger("lanner.server")


class GracefulPool:
    """Wraps the runner's worker pool so a shutdown can stop new work and drop late results."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.draining = False  # no new attempts
        self.frozen = False  # results no longer reported: the task runs stay RUNNING for the next start
        self.size = getattr(inner, "size", 0)

    def submit(self, job: Job, on_started: Callable[[str], None], on_done: Callable[[Any], None]) -> None:
        if self.draining:
            return
        self.inner.submit(
            job,
            on_started=lambda d: None if self.frozen else on_started(d),
            on_done=lambda o: None if self.frozen else on_done(o),
        )

    def kill(self, task_run_id: str) -> bool:
        return self.inner.kill(task_run_id)

    def running(self) -> int:
        return self.inner.running()

    def shutdown(self, *, kill: bool = False) -> None:
        self.inner.shutdown(kill=kill)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LannerServer:
    """Builds the components from a :class:`ServerConfig` and serves until a signal."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.runner: Any = None
        self.scheduler: Any = None
        self.engine: Any = None
        self.watcher: Any = None
        self.app: Any = None
        self.purge: Any = None
        self._signals = 0
        self._stopping = threading.Event()

    def build(self) -> None:
        from engine.api.app import create_app
        from engine.local_engine import LocalEngine
        from engine.runtime.local import LocalRunner
        from engine.server.watcher import FlowWatcher
        from engine.triggers.scheduler import Scheduler

        cfg = self.config
        from engine.purge import PurgeScheduler

        try:
            # A bad LANNER_PURGE_* setting stops the start before anything runs; the scheduler built is dropped unstarted.
            PurgeScheduler.from_env(None, None)  # type: ignore[arg-type]
        except ValueError as exc:
            raise SystemExit(f"lanner server local: {exc}") from None
        pool = None
        if cfg.dask:
            from engine.runtime.dask_pool import DaskWorkerPool

            try:
                pool = DaskWorkerPool(cfg.dask)  # task attempts run on the Dask cluster (engine/store/README_SNIPPET.md)
            except (OSError, ValueError) as exc:
                raise SystemExit(f"lanner server local: cannot reach the Dask scheduler at {cfg.dask} (--dask / LANNER_DASK_ADDRESS): {exc}") from None
        from engine.store.sql import StoreOpenError

        try:
            self.runner = LocalRunner(cfg.home, database_url=cfg.database_url, workers=cfg.workers, recover=True, pool=pool, node_id=node_id(cfg))
        except StoreOpenError as exc:
            raise SystemExit(f"lanner server local: {exc}") from None
        self.runner.pool = GracefulPool(self.runner.pool)
        self.runner.public_url = cfg.public_url()  # links to execution pages (notifications)
        self.scheduler = Scheduler(self.runner)
        self.engine = LocalEngine(self.runner, scheduler=self.scheduler)
        self.watcher = FlowWatcher(self.engine, cfg.flows)
        deployed = self.watcher.scan()
        log.info("flows directory %s: %d flow(s) deployed", cfg.flows, len(deployed))
        self.app = create_app(self.engine, users=cfg.auth_users, max_body=cfg.max_body, ui=cfg.ui,
                              allowed_hosts=cfg.allowed_hosts, bind_host=cfg.host)
        self.scheduler.start()
        if cfg.watch:
            self.watcher.start()
        self.purge = PurgeScheduler.from_env(self.runner.store, self.runner.storage)  # LANNER_PURGE_OLDER_THAN
        if self.purge is not None:
            self.purge.start()

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signals += 1
        self._stopping.set()

    def serve(self) -> int:
        import uvicorn

        from engine.server.http_protocol import protocol_with_header_timeout

        if self.app is None:
            self.build()
        cfg = self.config
        # Our handlers are what uvicorn restores and re-raises after its own shutdown:
        # they only take note, so the graceful part below runs instead of a hard exit.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=cfg.host,
                port=cfg.port,
                log_level=cfg.log_level,
                access_log=cfg.log_level == "debug",
                timeout_graceful_shutdown=3,
                lifespan="on",
                http=protocol_with_header_timeout(cfg.header_timeout),
            )
        )
        print(f"lanner: API on http://{cfg.host}:{cfg.port}/api/v1 (UI: /ui, health: /health)", file=sys.stderr, flush=True)
        threading.Thread(target=_report_when_started, args=(server,), name="lanner-plugin-report", daemon=True).start()
        try:
            server.run()
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        """Stop taking work, give running attempts the grace period, leave the rest for the next start."""
        if self.runner is None:
            return
        if self.watcher is not None:
            self.watcher.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.purge is not None:
            self.purge.stop()
        pool = self.runner.pool
        if isinstance(pool, GracefulPool):
            pool.draining = True
        deadline = time.monotonic() + self.config.grace
        first = self._signals
        while pool.running() and time.monotonic() < deadline and self._signals <= max(first, 1):
            time.sleep(0.1)
        self.runner.sync(5)
        left = pool.running()
        if left:
            log.warning("%d task attempt(s) still running after the %.0fs grace period; they resume at the next start", left, self.config.grace)
        if isinstance(pool, GracefulPool):
            pool.frozen = True
        self.runner.close(kill=True)
        self.runner = None
        log.info("lanner server stopped")


def _report_when_started(server: uvicorn.Server) -> None:
    """:func:`report_plugins` once the server answers: importing every plugin took a quarter of the start-up."""
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        report_plugins()


def report_plugins() -> None:
    """Import every plugin now and log, by name, each one that cannot be loaded (the server starts anyway)."""
    from engine.model import registry

    problems = registry.load_all()
    for problem in problems:
        log.warning("%s; its types are unavailable until it is fixed (see lanner plugins list)", problem)
    found = registry.plugins()
    log.info("plugins: %s", ", ".join(f"{p.name} {p.version or ''}".strip() for p in found))


def node_id(config: ServerConfig) -> str:
    """The lease owner id of this server: LANNER_NODE_ID, else this machine's name and the port.

    It stays the same across restarts, so a server restarted after a crash takes
    its unfinished executions back at once instead of waiting for their leases
    to expire (engine/runtime/cluster.py). The bind address is not used: two
    machines both bound to 0.0.0.0:8080 must not share an id. With port 0 (a
    random port) there is nothing stable, so each start gets a fresh id.
    """
    import os
    import socket

    from engine.runtime.cluster import default_node_id

    if os.environ.get("LANNER_NODE_ID") or config.port == 0:
        return default_node_id()
    return f"{socket.gethostname()}:{config.port}"


def run_server(config: ServerConfig) -> int:
    # Read by the script tasks' validation and runs in this process (and the workers it starts);
    # set both ways so --no-run-docker-as-process wins over an inherited environment variable.
    os.environ["LANNER_RUN_DOCKER_AS_PROCESS"] = "1" if config.run_docker_as_process else "0"
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    if config.log_level != "debug":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    server = LannerServer(config)
    server.build()
    return server.serve()
