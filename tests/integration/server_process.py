"""Start a real ``lanner server local`` subprocess on a free port (helper for the server tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator

from engine.model.state import TERMINAL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app (the REST API built by engine.api.app.create_app) on a free 127.0.0.1 port; yields its URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the API server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def lanner_exe() -> list[str]:
    exe = Path(sys.executable).parent / "lanner"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]


class ServerProcess:
    """A server subprocess with its own home, flows directory and log file."""

    def __init__(self, root: Path, *, env: dict[str, str] | None = None, args: list[str] | None = None, port: int | None = None):
        self.root = root
        self.home = root / "home"
        self.flows = root / "flows"
        self.flows.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = root / f"server-{self.port}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_")}
        self.env.update({"LANNER_HOME": str(self.home), "LANNER_LEASE_SECONDS": "3"})
        self.env.update(env or {})
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> ServerProcess:
        cmd = [*lanner_exe(), "server", "local", "--port", str(self.port), "--flows", str(self.flows), "--no-ui", *self.args]
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /health in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and not self._log.closed:
            self._log.close()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30, **kwargs)


def wait_state(client: httpx.Client, execution_id: str, states: set[str] | None = None, timeout: float = 30) -> dict[str, Any]:
    """Poll GET /executions/{id} until its state is in ``states`` (default: any end state)."""
    wanted = states or TERMINAL
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = client.get(f"/api/v1/executions/{execution_id}")
        if r.status_code == 200:
            body = r.json()
            if body["state"] in wanted:
                return body
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} never reached {sorted(wanted)}; last: {body.get('state')}")


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
