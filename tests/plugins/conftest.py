"""Shared by the first-party plugins' tests: run a flow in-process and read what it stored."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest


class FlowRun:
    def __init__(self, runner: Any, home: Path):
        self.runner = runner
        self.home = home

    def __call__(self, yaml_text: str, inputs: dict[str, Any] | None = None, timeout: float = 120) -> dict[str, Any]:
        return self.runner.run(dedent(yaml_text), inputs or {}, timeout=timeout)

    def task(self, summary: dict[str, Any], task_id: str) -> dict[str, Any]:
        (tr,) = [tr for tr in summary["taskRuns"] if tr["taskId"] == task_id]
        return tr

    def file(self, uri: str) -> Path:
        assert uri.startswith("lanner:///"), uri
        return self.home / "storage" / uri[len("lanner:///"):]

    def logs(self, summary: dict[str, Any], task_id: str | None = None) -> list[dict[str, Any]]:
        return [log for log in self.runner.logs(summary["id"]) if task_id is None or log["taskId"] == task_id]


@pytest.fixture
def flow(runner: Any, lanner_home: Path) -> FlowRun:
    return FlowRun(runner, lanner_home)
