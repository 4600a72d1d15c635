"""Kestra compatibility suite: flows written the way Kestra's documentation and tests write them, run unchanged.

Each flow of ``kestra_compat/`` (the subflows they call are in ``kestra_compat/subflows/``)
is deployed and started on one runner; all run at once, so the suite costs about
as long as its slowest flow. ``kestra_compat/expected.yaml`` says how each one
ends in Kestra: its end state, task states and outputs, log lines. Every flow
file must have an entry, and there are at least 60 of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.timeout(120)

FLOWS = Path(__file__).with_name("kestra_compat")
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((FLOWS / "expected.yaml").read_text())
FILES = sorted(p.name for p in FLOWS.glob("*.yaml") if p.name != "expected.yaml")


@pytest.fixture(scope="module")
def ended(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]]:
    """Every flow run to its end: file name -> (execution summary, log rows)."""
    from engine.runtime.local import LocalRunner

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SECRET_API_TOKEN", "czNjcjN0LXRva2Vu")  # "s3cr3t-token", read when the runner starts
        mp.setenv("LANNER_RUN_DOCKER_AS_PROCESS", "1")  # Docker-runner flows run as processes
        runner = LocalRunner(tmp_path_factory.mktemp("compat"), workers=8)
        try:
            for sub in sorted((FLOWS / "subflows").glob("*.yaml")):
                runner.deploy(sub.read_text())
            started = {}
            for name in FILES:
                flow = runner.deploy((FLOWS / name).read_text())
                started[name] = runner.start_execution(flow.namespace, flow.id, {})
            yield {name: (runner.wait(ex_id, timeout=60), runner.logs(ex_id)) for name, ex_id in started.items()}
        finally:
            runner.close()


def test_the_suite_has_60_flows_each_with_its_expectation() -> None:
    assert len(FILES) >= 60
    assert sorted(EXPECTED) == FILES


def _text(value: Any) -> Any:
    """Scalars as Kestra prints them (its Return value is always a string); lists and maps compared item by item."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return str(value)


def _subset(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not a map"
        for key, value in expected.items():
            assert key in actual, f"{where}: no {key!r} in {actual!r}"
            _subset(actual[key], value, f"{where}.{key}")
    else:
        assert _text(actual) == _text(expected), f"{where}: {actual!r} != {expected!r}"


@pytest.mark.parametrize("name", FILES)
def test_flow_ends_as_in_kestra(name: str, ended: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
    summary, logs = ended[name]
    want = EXPECTED[name]
    runs: dict[str, list[dict[str, Any]]] = {}
    for tr in summary["taskRuns"]:
        runs.setdefault(tr["taskId"], []).append(tr)
    lines = [f"{row['level']} {row['message']}" for row in logs]
    assert summary["state"] == want["state"], (summary["state"], lines)
    for task_id, state in (want.get("tasks") or {}).items():
        assert runs[task_id][0]["state"] == state, (task_id, lines)
    for task_id, outputs in (want.get("outputs") or {}).items():
        _subset(runs[task_id][0]["outputs"], outputs, f"outputs.{task_id}")
    for task_id, count in (want.get("runs") or {}).items():
        assert len(runs.get(task_id, [])) == count, task_id
    for task_id, count in (want.get("attempts") or {}).items():
        assert len(runs[task_id][0]["attempts"]) == count, task_id
    for task_id, names in (want.get("metrics") or {}).items():
        assert sorted(m["name"] for m in runs[task_id][0].get("metrics") or ()) == sorted(names), task_id
    for task_id, values in (want.get("values") or {}).items():
        assert sorted(str(tr["outputs"]["value"]) for tr in runs[task_id]) == sorted(values)
    _subset(summary.get("outputs") or {}, want.get("flowOutputs") or {}, "flow outputs")
    _subset(summary.get("labels") or {}, want.get("labels") or {}, "labels")
    for line in want.get("logs") or ():
        level, _, text = line.partition(" ")
        assert any(row["level"] == level and text in row["message"] for row in logs), (line, lines)
    for text in want.get("absent") or ():
        assert not any(text in got for got in lines), (text, lines)
