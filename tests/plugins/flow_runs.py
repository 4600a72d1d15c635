"""Helpers the plugin tests share: run a flow on an in-process runner, read its logs."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from pathlib import Path
from typing import Any


def run_flow(runner: Any, source: str, inputs: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
    """Deploy ``source`` and run it to its end; the execution summary."""
    flow = runner.deploy(source)
    return runner.wait(runner.start_execution(flow.namespace, flow.id, inputs or {}), timeout=timeout)


def logs_of(runner: Any, summary: dict[str, Any]) -> str:
    """Every stored log line of the execution, one per line."""
    return "\n".join(line["message"] for line in runner.logs(summary["id"]))


def runner_with_secrets(home: Path, **secrets: str) -> Any:
    """A LocalRunner on ``home`` whose secrets are ``NAME=value`` (what SECRET_<NAME> would hold, base64-encoded here)."""
    from engine.runtime.local import LocalRunner
    from engine.runtime.secrets import SecretStore

    environ = {f"SECRET_{name}": b64(value) for name, value in secrets.items()}
    return LocalRunner(home, workers=4, secrets=SecretStore(environ=environ))


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on (a server to start, or an unreachable destination)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_example(lanner_cmd: list[str], env: dict[str, str], name: str, *inputs: str) -> tuple[dict[str, Any], str]:
    """``lanner flow run flows/<name>.yaml --input K=V... --json`` as a user runs it: (summary, stderr)."""
    root = Path(__file__).resolve().parents[2]
    args = [a for pair in inputs for a in ("--input", pair)]
    res = subprocess.run([*lanner_cmd, "flow", "run", str(root / "flows" / f"{name}.yaml"), *args, "--json"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=root)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return json.loads(res.stdout), res.stderr


def b64(value: str) -> str:
    """How SECRET_<NAME> environment variables hold a value."""
    return base64.b64encode(value.encode()).decode()
