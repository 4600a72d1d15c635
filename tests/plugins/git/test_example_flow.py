"""flows/git_sync_and_run.yaml runs green with `lanner flow run` against the test's repository (by path)."""

from __future__ import annotations

from tests.plugins.flow_runs import run_example
from tests.plugins.git.conftest import GitRemote


def test_git_sync_and_run_example(lanner_cmd: list[str], cli_env: dict[str, str], git_remote: GitRemote) -> None:
    summary, stderr = run_example(lanner_cmd, cli_env, "git_sync_and_run", f"repository={git_remote.path}",
                                  "branch=main", "dry_run=false")
    assert summary["state"] == "SUCCESS"
    outputs = {tr["taskId"]: tr["outputs"] for tr in summary["taskRuns"]}
    assert outputs["flows"]["added"] == 2 and outputs["files"]["added"] == 2
    assert "etl" in stderr  # the script cloned from the repository ran
