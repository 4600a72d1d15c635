"""Helpers the plugin tests share: run a flow on an in-process runner, read its logs."""

from __future__ import annotations

from typing import Any


def run_flow(runner: Any, source: str, inputs: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
    """Deploy ``source`` and run it to its end; the execution summary."""
    flow = runner.deploy(source)
    return runner.wait(runner.start_execution(flow.namespace, flow.id, inputs or {}), timeout=timeout)


def logs_of(runner: Any, summary: dict[str, Any]) -> str:
    """Every stored log line of the execution, one per line."""
    return "\n".join(line["message"] for line in runner.logs(summary["id"]))
