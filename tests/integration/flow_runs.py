"""Helpers of the integration tests that run flows on a LocalRunner and read their summaries."""

from __future__ import annotations

from textwrap import dedent
from typing import Any


def run(runner: Any, text: str, inputs: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
    """Deploy and run a flow (indented YAML is fine), wait for its end, return the summary."""
    return runner.run(dedent(text), inputs or {}, timeout=timeout)


def runs_of(summary: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [tr for tr in summary["taskRuns"] if tr["taskId"] == task_id]


def only_run(summary: dict[str, Any], task_id: str) -> dict[str, Any]:
    (tr,) = runs_of(summary, task_id)
    return tr


def out(summary: dict[str, Any], task_id: str) -> dict[str, Any]:
    return only_run(summary, task_id)["outputs"]


def state_of(summary: dict[str, Any], task_id: str) -> str:
    return only_run(summary, task_id)["state"]


def error_of(summary: dict[str, Any], task_id: str) -> str:
    """The message of the task run's last attempt (why it failed)."""
    return only_run(summary, task_id)["attempts"][-1].get("message") or ""


def messages(runner: Any, summary: dict[str, Any]) -> list[str]:
    return [line["message"] for line in runner.logs(summary["id"])]
