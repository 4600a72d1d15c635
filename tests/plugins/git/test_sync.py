"""``git_sync_flows`` and ``git_sync_namespace_files``: a git branch as the source of truth, on a real runner and storage."""

from __future__ import annotations

from typing import Any

from tests.plugins.flow_runs import logs_of, run_flow
from tests.plugins.git.conftest import HELLO_V2, TOKEN, USER, GitRemote


def sync_flows(runner: Any, remote: GitRemote, branch: str, **props: Any) -> dict[str, Any]:
    extra = "".join(f"    {k}: {v}\n" for k, v in props.items())
    source = f"""
id: sync_flows
namespace: company.ops
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncFlows
    url: {remote.http_url}
    username: {USER}
    password: "{{{{ secret('GIT_TOKEN') }}}}"
    branch: {branch}
    targetNamespace: company.team
{extra}"""
    return run_flow(runner, source)


def diff_lines(runner: Any, summary: dict[str, Any], key: str) -> list[str]:
    uri = summary["taskRuns"][-1]["outputs"][key]
    return runner.storage.read_text(uri, namespace=summary["namespace"]).splitlines()


def test_sync_flows_adds_updates_deletes_and_dry_runs(git_runner: Any, git_remote: GitRemote) -> None:
    git_runner.deploy("id: legacy\nnamespace: company.team\ntasks:\n  - {id: a, type: log, message: old}\n")
    git_runner.deploy("id: elsewhere\nnamespace: other.team\ntasks:\n  - {id: a, type: log, message: untouched}\n")

    first = sync_flows(git_runner, git_remote, "main", includeChildNamespaces="true")
    assert first["state"] == "SUCCESS", logs_of(git_runner, first)
    assert diff_lines(git_runner, first, "flows") == [
        '{syncState:"ADDED",gitPath:"_flows/hello.yml",flowId:"hello",namespace:"company.team",revision:1}',
        '{syncState:"ADDED",gitPath:"_flows/team/nested.yaml",flowId:"nested",namespace:"company.team.team",revision:1}',
    ]
    hello = git_runner.store.get_flow("company.team", "hello")
    assert hello.revision == 1 and "namespace: company.team\n" in hello.source  # the file's namespace was rewritten
    nested_run = git_runner.wait(git_runner.start_execution("company.team.team", "nested", {}), timeout=30)
    assert nested_run["state"] == "SUCCESS" and nested_run["taskRuns"][0]["outputs"] == {"value": "nested"}

    again = sync_flows(git_runner, git_remote, "main", includeChildNamespaces="true")
    assert again["taskRuns"][0]["outputs"]["unchanged"] == 2 and again["taskRuns"][0]["outputs"]["added"] == 0

    dry = sync_flows(git_runner, git_remote, "next", includeChildNamespaces="true", delete="true", dryRun="true")
    assert dry["state"] == "SUCCESS", logs_of(git_runner, dry)
    assert diff_lines(git_runner, dry, "flows") == [
        '{syncState:"DELETED",flowId:"legacy",namespace:"company.team",revision:1}',
        '{syncState:"DELETED",flowId:"nested",namespace:"company.team.team",revision:1}',
        '{syncState:"UPDATED",gitPath:"_flows/hello.yml",flowId:"hello",namespace:"company.team",revision:2}',
    ]
    assert git_runner.store.get_flow("company.team", "hello").revision == 1  # a dry run changes nothing
    assert git_runner.store.get_flow("company.team", "legacy") is not None

    real = sync_flows(git_runner, git_remote, "next", includeChildNamespaces="true", delete="true")
    assert real["state"] == "SUCCESS", logs_of(git_runner, real)
    assert git_runner.store.get_flow("company.team", "hello").source == HELLO_V2.replace("somewhere.else", "company.team")
    assert git_runner.store.get_flow("company.team", "legacy") is None
    assert git_runner.store.get_flow("company.team.team", "nested") is None
    assert git_runner.store.get_flow("other.team", "elsewhere") is not None  # outside the target namespace
    assert git_runner.store.get_flow("company.ops", "sync_flows") is not None  # never the flow that syncs
    assert TOKEN not in logs_of(git_runner, real)


def test_an_invalid_flow_in_git_deploys_nothing_unless_ignored(git_runner: Any, git_remote: GitRemote) -> None:
    failed = sync_flows(git_runner, git_remote, "broken")
    assert failed["state"] == "FAILED"
    assert ("Invalid flow imported from git (_flows/invalid.yml): tasks[0].message: is required"
            in logs_of(git_runner, failed))
    assert git_runner.store.get_flow("company.team", "hello") is None

    ignored = sync_flows(git_runner, git_remote, "broken", ignoreInvalidFlows="true")
    assert ignored["state"] == "SUCCESS", logs_of(git_runner, ignored)
    assert git_runner.store.get_flow("company.team", "hello") is not None
    assert git_runner.store.get_flow("company.team", "invalid") is None


def test_sync_namespace_files(git_runner: Any, git_remote: GitRemote) -> None:
    storage = git_runner.storage
    storage.namespace_files_put("company.data", "local_only.txt", b"made in Lanner")

    def sync(branch: str, **props: Any) -> dict[str, Any]:
        extra = "".join(f"    {k}: {v}\n" for k, v in props.items())
        return run_flow(git_runner, f"""
id: sync_files
namespace: company.data
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: "{git_remote.path}"
    branch: {branch}
{extra}""")

    first = sync("main")
    assert first["state"] == "SUCCESS", logs_of(git_runner, first)
    assert storage.namespace_files_list("company.data") == ["local_only.txt", "old.txt", "queries/sales.sql"]
    assert diff_lines(git_runner, first, "files") == [
        '{syncState:"ADDED",gitPath:"_files/old.txt",kestraPath:"/old.txt"}',
        '{syncState:"ADDED",gitPath:"_files/queries/sales.sql",kestraPath:"/queries/sales.sql"}',
    ]

    dry = sync("next", delete="true", dryRun="true")
    assert diff_lines(git_runner, dry, "files") == [
        '{syncState:"DELETED",kestraPath:"/local_only.txt"}',
        '{syncState:"DELETED",kestraPath:"/old.txt"}',
        '{syncState:"OVERWRITTEN",gitPath:"_files/queries/sales.sql",kestraPath:"/queries/sales.sql"}',
    ]
    assert storage.namespace_files_list("company.data") == ["local_only.txt", "old.txt", "queries/sales.sql"]

    real = sync("next", delete="true")
    assert real["state"] == "SUCCESS", logs_of(git_runner, real)
    assert storage.namespace_files_list("company.data") == ["queries/sales.sql"]
    assert storage.namespace_files_get("company.data", "queries/sales.sql").startswith(b"select region, sum(amount) as total")

    missing = sync("main", gitDirectory="nowhere")
    assert missing["state"] == "FAILED"
    assert "gitDirectory 'nowhere' was not found in branch 'main'" in logs_of(git_runner, missing)
