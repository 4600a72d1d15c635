"""Kestra's Azure Blob tasks and trigger against Azurite on 127.0.0.1 (real HTTP, SharedKey signatures checked),
in flows run by a real runner and polled by the real scheduler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.cloud_storage.emulators import AzuriteServer
from tests.plugins.cloud_storage.helpers import (
    assert_fired,
    b64,
    free_port,
    poll_twice,
    run_flow,
    stored,
    task_run,
)
from tests.plugins.flow_runs import runner_with_secrets

NS = "tests.azure"


@pytest.fixture
def az_runner(azurite: AzuriteServer, tmp_path: Path) -> Iterator[Any]:
    """A LocalRunner whose secret AZURE_STORAGE_KEY is the Azurite account's key."""
    runner = runner_with_secrets(tmp_path / "home", AZURE_STORAGE_KEY=azurite.key,
                                 AZURE_CONNECTION_STRING=azurite.connection_string)
    yield runner
    runner.close()


DEFAULTS = """
pluginDefaults:
  - type: io.kestra.plugin.azure.storage.blob.
    values:
      endpoint: "{{ inputs.endpoint }}"
      sharedKeyAccountName: lannertests
      sharedKeyAccountAccessKey: "{{ secret('AZURE_STORAGE_KEY') }}"
inputs:
  - id: endpoint
    type: STRING
  - id: container
    type: STRING
"""

ROUND_TRIP = """
id: azure-round-trip
namespace: tests.azure
""" + DEFAULTS + """
tasks:
  - id: make
    type: shell
    commands:
      - printf 'region,amount\\nnorth,10\\nsouth,32\\n' > sales.csv
    outputFiles: [sales.csv]
  - id: upload
    type: io.kestra.plugin.azure.storage.blob.Upload
    container: "{{ inputs.container }}"
    name: incoming/sales.csv
    from: "{{ outputs.make.outputFiles['sales.csv'] }}"
  - id: tagged
    type: io.kestra.plugin.azure.storage.blob.Upload
    container: "{{ inputs.container }}"
    name: kept/sales.csv
    from: "{{ outputs.make.outputFiles['sales.csv'] }}"
    metadata: {source: "{{ flow.id }}"}
    tags: {team: sales}
  - id: list
    type: io.kestra.plugin.azure.storage.blob.List
    connectionString: "{{ secret('AZURE_CONNECTION_STRING') }}"
    container: "{{ inputs.container }}"
    prefix: notes/
    regexp: .*a\\.txt
  - id: download
    type: io.kestra.plugin.azure.storage.blob.Download
    container: "{{ inputs.container }}"
    name: incoming/sales.csv
  - id: downloads
    type: io.kestra.plugin.azure.storage.blob.Downloads
    container: "{{ inputs.container }}"
    prefix: notes/
    action: MOVE
    moveTo:
      name: done/
  - id: archive
    type: io.kestra.plugin.azure.storage.blob.Copy
    from:
      container: "{{ inputs.container }}"
      name: incoming/sales.csv
    to:
      name: archive/sales.csv
    delete: true
  - id: delete
    type: io.kestra.plugin.azure.storage.blob.Delete
    container: "{{ inputs.container }}"
    name: tmp/a.log
  - id: purge
    type: io.kestra.plugin.azure.storage.blob.DeleteList
    container: "{{ inputs.container }}"
    prefix: tmp/
"""


def test_every_blob_task_round_trips_through_azurite(azurite: AzuriteServer, az_runner: Any) -> None:
    container = azurite.container(**{"notes__a.txt": b"first", "notes__b.txt": b"second", "tmp__a.log": b"x", "tmp__b.log": b"yy"})
    summary = run_flow(az_runner, ROUND_TRIP, {"endpoint": azurite.endpoint, "container": container})
    assert summary["state"] == "SUCCESS", json.dumps(summary["taskRuns"], indent=1)[-3000:]

    upload = task_run(summary, "upload")["outputs"]
    assert upload["blob"]["container"] == container and upload["blob"]["name"] == "incoming/sales.csv"
    assert upload["blob"]["size"] == 32 and upload["blob"]["eTag"] and upload["blobs"] == [upload["blob"]]
    (listed,) = task_run(summary, "list")["outputs"]["blobs"]
    assert listed["name"] == "notes/a.txt" and listed["size"] == 5 and listed["lastModified"]

    download = task_run(summary, "download")["outputs"]["blob"]
    assert stored(az_runner, download["uri"], NS) == b"region,amount\nnorth,10\nsouth,32\n"
    assert download["eTag"] == upload["blob"]["eTag"]
    downloads = task_run(summary, "downloads")["outputs"]
    assert sorted(downloads["outputFiles"]) == ["notes/a.txt", "notes/b.txt"]
    assert stored(az_runner, downloads["outputFiles"]["notes/b.txt"], NS) == b"second"

    assert task_run(summary, "archive")["outputs"]["blob"]["name"] == "archive/sales.csv"
    deleted = task_run(summary, "delete")["outputs"]["blob"]
    assert deleted["container"] == container and deleted["name"] == "tmp/a.log" and deleted["size"] == 1
    assert task_run(summary, "purge")["outputs"] == {"count": 1, "size": 2}
    assert azurite.keys(container) == ["archive/sales.csv", "done/a.txt", "done/b.txt", "kept/sales.csv"]
    from fsspec.asyn import sync

    fs = azurite.fs()
    blob = fs.service_client.get_blob_client(container, "kept/sales.csv")
    assert sync(fs.loop, blob.get_blob_properties).metadata == {"source": "azure-round-trip"}
    assert sync(fs.loop, blob.get_blob_tags) == {"team": "sales"}

TRIGGER = """
id: FLOW
namespace: tests.azure
tasks:
  - id: show
    type: log
    message: "{{ trigger.name }} {{ trigger.changeType }} {{ trigger.blobs | length }} {{ trigger.uri }}"
triggers:
  - id: watch
    type: io.kestra.plugin.azure.storage.blob.Trigger
    interval: PT0S
    endpoint: ENDPOINT
    sharedKeyAccountName: lannertests
    sharedKeyAccountAccessKey: "{{ secret('AZURE_STORAGE_KEY') }}"
    container: CONTAINER
    prefix: incoming/
    regexp: .*\\.csv
"""


def test_the_trigger_moves_or_deletes_each_new_blob_and_starts_one_execution_for_it(azurite: AzuriteServer, az_runner: Any) -> None:
    moved = azurite.container(**{"incoming__a.csv": b"a,1\n", "incoming__b.csv": b"b,2\n", "incoming__notes.txt": b"x"})
    gone = azurite.container(**{"incoming__c.csv": b"c,3\n"})
    flows = {flow_id: (TRIGGER + extra).replace("FLOW", flow_id).replace("ENDPOINT", azurite.endpoint).replace("CONTAINER", container)
             for flow_id, container, extra in (("azure-move", moved, "    action: MOVE\n    moveTo:\n      name: archive/\n"),
                                               ("azure-delete", gone, "    action: DELETE\n"))}
    runs = poll_twice(az_runner, flows)
    assert_fired(az_runner, runs["azure-move"], {"incoming/a.csv": b"a,1\n", "incoming/b.csv": b"b,2\n"}, ("container", moved), NS)
    assert_fired(az_runner, runs["azure-delete"], {"incoming/c.csv": b"c,3\n"}, ("container", gone), NS)
    assert azurite.keys(moved) == ["archive/a.csv", "archive/b.csv", "incoming/notes.txt"]
    assert azurite.keys(gone) == []


FAILING = """
id: azure-failing
namespace: tests.azure
inputs:
  - id: endpoint
    type: STRING
tasks:
  - id: listing
    type: io.kestra.plugin.azure.storage.blob.List
    endpoint: "{{ inputs.endpoint }}"
    sharedKeyAccountName: lannertests
    sharedKeyAccountAccessKey: KEY
    container: sales
    retry:
      type: constant
      interval: PT0.2S
      maxAttempts: 2
"""


def test_a_wrong_key_or_an_unreachable_endpoint_fails_each_attempt_in_one_masked_sentence(azurite: AzuriteServer, az_runner: Any) -> None:
    wrong = b64("not-the-key-" * 6)
    refused = run_flow(az_runner, FAILING.replace("KEY", wrong), {"endpoint": azurite.endpoint})
    unreachable_at = f"http://127.0.0.1:{free_port()}/lannertests"
    unreachable = run_flow(az_runner, FAILING.replace("KEY", "\"{{ secret('AZURE_STORAGE_KEY') }}\""), {"endpoint": unreachable_at})
    run = task_run(refused, "listing")
    message = run["attempts"][-1]["message"]
    assert refused["state"] == "FAILED" and len(run["attempts"]) == 2, message
    assert message.startswith(f"listing: Azure Blob Storage at {azurite.endpoint} refused the credentials while listing az://sales"), message
    assert "AuthorizationFailure" in message and "check connectionString, sharedKeyAccountName" in message
    assert message.count(". ") == 0 and "Traceback" not in message
    run = task_run(unreachable, "listing")
    message = run["attempts"][-1]["message"]
    assert len(run["attempts"]) == 2 and message.startswith(f"listing: cannot reach the Azure Blob Storage endpoint {unreachable_at}"), message
    assert "check endpoint and the network" in message
    everything = json.dumps([refused, unreachable]) + "\n".join(
        line["message"] for s in (refused, unreachable) for line in az_runner.logs(s["id"]))
    assert wrong not in everything and azurite.key not in everything


def test_a_sas_token_or_a_connection_string_reaches_the_container_and_is_masked(azurite: AzuriteServer, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    sas = generate_account_sas(azurite.account, azurite.key, ResourceTypes(container=True, object=True),
                               AccountSasPermissions(read=True, list=True), datetime.now(UTC) + timedelta(hours=1))
    container = azurite.container(**{"in__a.csv": b"a,1\n"})
    runner = runner_with_secrets(tmp_path / "home", AZURE_SAS=sas, AZURE_CONNECTION_STRING=azurite.connection_string)
    flow = f"""
id: azure-sas
namespace: tests.azure
tasks:
  - id: with_sas
    type: io.kestra.plugin.azure.storage.blob.Download
    endpoint: {azurite.endpoint}
    sasToken: "{{{{ secret('AZURE_SAS') }}}}"
    container: {container}
    name: in/a.csv
  - id: with_connection_string
    type: io.kestra.plugin.azure.storage.blob.List
    connectionString: "{{{{ secret('AZURE_CONNECTION_STRING') }}}}"
    container: {container}
  - id: echo
    type: log
    message: "{{{{ secret('AZURE_SAS') }}}} {{{{ secret('AZURE_CONNECTION_STRING') }}}}"
"""
    try:
        summary = run_flow(runner, flow)
        logs = "\n".join(line["message"] for line in runner.logs(summary["id"]))
    finally:
        runner.close()
    assert summary["state"] == "SUCCESS", json.dumps(summary["taskRuns"], indent=1)[-2000:]
    assert stored(runner, task_run(summary, "with_sas")["outputs"]["blob"]["uri"], NS) == b"a,1\n"
    assert [b["name"] for b in task_run(summary, "with_connection_string")["outputs"]["blobs"]] == ["in/a.csv"]
    everything = json.dumps(summary) + logs
    assert sas not in everything and azurite.key not in everything and "sig=" not in everything
