"""A real Dask cluster in subprocesses on 127.0.0.1 (scheduler + named workers), for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.postgres_fixture import free_port

DASK = str(Path(sys.executable).parent / "dask")


class DaskCluster:
    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        # TEST_WORKER_NAME lets a script task say which worker ran it.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TEST_WORKER_NAME": name}
        proc = subprocess.Popen([DASK, *args], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_scheduler(self) -> None:
        self._spawn("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"])

    def start_worker(self, name: str, resources: str | None = None, nthreads: int = 2) -> None:
        args = ["worker", self.address, "--name", name, "--nthreads", str(nthreads), "--nworkers", "1", "--no-dashboard",
                "--host", "127.0.0.1", "--no-nanny"]
        if resources:
            args += ["--resources", resources]
        self._spawn(name, args)

    def wait_workers(self, n: int, timeout: float = 60) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        with Client(self.address, timeout=timeout, set_as_default=False) as c:
            while len(c.scheduler_info()["workers"]) < n:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{n} Dask workers did not join in {timeout}s; see {self.logdir}")
                time.sleep(0.2)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
