"""Start ``lanner server local`` on a free 127.0.0.1 port for a benchmark, and stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import free_port


class Server:
    """``lanner server local`` with its own home and flows directory (``--no-ui`` unless ``ui``).

    The webhook rate limit (LANNER_WEBHOOK_RATE, a defence against key
    guessing) is off: the benchmark calls one webhook as fast as it can.
    """

    def __init__(self, home: Path, flows: Path, *, workers: int | None = None, ui: bool = False):
        self.home, self.flows, self.workers, self.ui = home, flows, workers, ui
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        lanner = Path(sys.executable).with_name("lanner")
        cmd = [str(lanner), "server", "local", "--host", "127.0.0.1", "--port", str(self.port), "--home", str(self.home),
               "--flows", str(self.flows), "--ui" if self.ui else "--no-ui", "--no-watch", "--log-level", "warning"]
        if self.workers:
            cmd += ["--workers", str(self.workers)]
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = open(self.home / "server.log", "wb")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "LANNER_HOME": str(self.home), "LANNER_WEBHOOK_RATE": "0"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lanner server local exited {self.proc.returncode}: {(self.home / 'server.log').read_text()[-1500:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("lanner server local did not answer /health within 90 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
