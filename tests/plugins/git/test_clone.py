"""``git_clone`` (Kestra's io.kestra.plugin.git.Clone) against a repository on 127.0.0.1 (smart HTTP, with a login)."""

from __future__ import annotations

from typing import Any

from tests.plugins.flow_runs import free_port, logs_of, run_flow
from tests.plugins.git.conftest import TOKEN, USER, GitRemote


def test_clone_a_branch_with_a_token_into_the_working_directory(git_runner: Any, git_remote: GitRemote) -> None:
    source = f"""
id: clone_and_run
namespace: tests.git
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: {git_remote.http_url}
        branch: next
        directory: repo
        username: {USER}
        password: "{{{{ secret('GIT_TOKEN') }}}}"
      - id: read
        type: shell
        commands:
          - |
            printf '::{{"outputs": {{"readme": "%s", "sql": "%s"}}}}::\\n' "$(cat repo/README.md)" "$(cat repo/_files/queries/sales.sql)"
"""
    summary = run_flow(git_runner, source)
    assert summary["state"] == "SUCCESS", logs_of(git_runner, summary)
    runs = {tr["taskId"]: tr for tr in summary["taskRuns"]}
    assert runs["clone"]["outputs"]["directory"].endswith("/repo")
    assert runs["read"]["outputs"]["vars"] == {
        "readme": "version 2", "sql": "select region, sum(amount) as total from sales group by region;"}
    assert TOKEN not in logs_of(git_runner, summary)


def test_clone_a_commit_or_a_tag_by_path(git_runner: Any, git_remote: GitRemote) -> None:
    source = f"""
id: clone_revisions
namespace: tests.git
tasks:
  - id: wdir
    type: working_directory
    tasks:
      - {{id: by_commit, type: git_clone, url: "{git_remote.path}", commit: "{git_remote.first_commit[:10]}", directory: c}}
      - {{id: by_tag, type: git_clone, url: "{git_remote.path}", tag: v1, directory: t}}
      - {{id: shallow, type: git_clone, url: "{git_remote.path}", directory: s}}
      - id: read
        type: shell
        commands:
          - |
            printf '::{{"outputs": {{"c": "%s", "t": "%s", "s": "%s", "shallow": "%s"}}}}::\\n' "$(cat c/README.md)" "$(cat t/README.md)" "$(cat s/README.md)" "$(grep -c {git_remote.main_commit} s/.git/shallow)"
"""
    summary = run_flow(git_runner, source)
    assert summary["state"] == "SUCCESS", logs_of(git_runner, summary)
    read = next(tr for tr in summary["taskRuns"] if tr["taskId"] == "read")
    assert read["outputs"]["vars"] == {"c": "version 1", "t": "version 1", "s": "version 2", "shallow": "1"}


def test_a_wrong_token_fails_with_one_masked_sentence_and_is_retried(git_runner: Any, git_remote: GitRemote) -> None:
    wrong = "ghp_Wr0ngT0kenValue99"
    source = f"""
id: wrong_token
namespace: tests.git
tasks:
  - id: clone
    type: git_clone
    url: {git_remote.http_url}
    username: {USER}
    password: {wrong}
    retry: {{type: constant, maxAttempts: 2, interval: PT0.05S}}
"""
    summary = run_flow(git_runner, source)
    (run,) = summary["taskRuns"]
    assert run["state"] == "FAILED" and len(run["attempts"]) == 2
    logs = logs_of(git_runner, summary)
    assert (f"The git server refused the credentials for {git_remote.http_url}: check username and password (token)"
            in logs)
    assert wrong not in logs and wrong not in str(summary)


def test_an_unreachable_server_or_a_missing_branch_fails_with_one_sentence(git_runner: Any, git_remote: GitRemote) -> None:
    port = free_port()
    source = f"""
id: unreachable
namespace: tests.git
tasks:
  - id: down
    type: git_clone
    url: http://127.0.0.1:{port}/company.git
    allowFailure: true
    retry: {{type: constant, maxAttempts: 2, interval: PT0.05S}}
  - {{id: nobranch, type: git_clone, url: "{git_remote.path}", branch: nope}}
"""
    summary = run_flow(git_runner, source)
    runs = {tr["taskId"]: tr for tr in summary["taskRuns"]}
    assert len(runs["down"]["attempts"]) == 2 and runs["nobranch"]["state"] == "FAILED"
    logs = logs_of(git_runner, summary)
    assert f"Could not reach the git server of http://127.0.0.1:{port}/company.git: connection refused" in logs
    assert f"Branch or tag 'nope' does not exist in {git_remote.path}" in logs
