"""Every example flow in flows/ runs green with `lanner flow run` (as `make run` users will see them)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# notebook_sales is run (with inputs) by the dedicated test below; the plugins' example flows by
# tests/plugins/<plugin>/test_example_flow.py, against the local servers those tests start.
RUN_ELSEWHERE = {"notebook_sales", "sales_announce_slack", "sales_report_email", "git_sync_and_run", "s3_sales_files", "nightly_sales_report",
                 "gcs_sales_files", "azure_blob_sales_files"}
FLOWS = sorted(f for f in (ROOT / "flows").glob("*.yaml") if f.stem not in RUN_ELSEWHERE)


@pytest.mark.parametrize("flow", FLOWS, ids=[f.stem for f in FLOWS])
def test_example_flow_runs_green(flow, lanner_cmd, cli_env):
    res = subprocess.run(
        [*lanner_cmd, "flow", "run", str(flow), "--flows", str(ROOT / "flows"), "--json"],
        env=cli_env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    assert summary["state"] in ("SUCCESS", "WARNING")
    assert summary["taskRuns"], "an example flow must run tasks"


def test_notebook_example_returns_values_and_stores_reports(lanner_cmd, cli_env, lanner_home):
    res = subprocess.run(
        [*lanner_cmd, "flow", "run", str(ROOT / "flows" / "notebook_sales.yaml"), "--input", "region=north", "--input", "min_amount=50", "--json"],
        env=cli_env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    runs = {tr["taskId"]: tr for tr in summary["taskRuns"]}
    outputs = runs["summary"]["outputs"]
    assert isinstance(outputs["vars"]["rows"], int) and outputs["vars"]["rows"] > 0
    for key in ("notebook", "report"):
        uri = outputs[key]
        assert uri.startswith("lanner:///examples.notebooks/notebook_sales/executions/")
        path = lanner_home / "storage" / uri[len("lanner:///"):]
        assert path.is_file() and path.stat().st_size > 0
    assert "[cell" in res.stderr  # cell output streamed to the logs, prefixed by the cell number
