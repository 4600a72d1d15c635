"""Kestra's GCS tasks and trigger against a GCS emulator on 127.0.0.1 (gcp-storage-emulator, JSON API over real
HTTP), in flows run by a real runner and polled by the real scheduler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.cloud_storage.emulators import GcsServer, refusing_token_server, service_account_key
from tests.plugins.cloud_storage.helpers import (
    assert_fired,
    b64,
    free_port,
    poll_twice,
    run_flow,
    stored,
    task_run,
)

NS = "tests.gcs"
DEFAULTS = """
pluginDefaults:
  - type: io.kestra.plugin.gcp.gcs.
    values:
      endpointOverride: "{{ inputs.endpoint }}"
      projectId: lanner-tests
inputs:
  - id: endpoint
    type: STRING
  - id: bucket
    type: STRING
"""

ROUND_TRIP = """
id: gcs-round-trip
namespace: tests.gcs
""" + DEFAULTS + """
tasks:
  - id: make
    type: shell
    commands:
      - printf 'region,amount\\nnorth,10\\nsouth,32\\n' > sales.csv
    outputFiles: [sales.csv]
  - id: create
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: "{{ inputs.bucket }}-archive"
    location: EU
    labels: {team: sales}
  - id: again
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: "{{ inputs.bucket }}-archive"
    ifExists: SKIP
  - id: upload
    type: io.kestra.plugin.gcp.gcs.Upload
    from: "{{ outputs.make.outputFiles['sales.csv'] }}"
    to: "gs://{{ inputs.bucket }}/incoming/sales.csv"
    contentType: text/csv
  - id: list
    type: io.kestra.plugin.gcp.gcs.List
    from: "gs://{{ inputs.bucket }}/incoming/"
  - id: everything
    type: io.kestra.plugin.gcp.gcs.List
    from: "gs://{{ inputs.bucket }}/"
    listingType: RECURSIVE
    regExp: "gs://.*/notes/.*\\\\.txt"
  - id: download
    type: io.kestra.plugin.gcp.gcs.Download
    from: "{{ outputs.upload.uri }}"
    validateChecksum: true
  - id: downloads
    type: io.kestra.plugin.gcp.gcs.Downloads
    from: "gs://{{ inputs.bucket }}/notes/"
    action: MOVE
    moveDirectory: "gs://{{ inputs.bucket }}-archive/notes/"
  - id: archive
    type: io.kestra.plugin.gcp.gcs.Copy
    from: "{{ outputs.upload.uri }}"
    to: "gs://{{ inputs.bucket }}-archive/sales.csv"
    delete: true
  - id: delete
    type: io.kestra.plugin.gcp.gcs.Delete
    uri: "gs://{{ inputs.bucket }}/tmp/a.log"
  - id: delete_missing
    type: io.kestra.plugin.gcp.gcs.Delete
    uri: "gs://{{ inputs.bucket }}/tmp/none.log"
  - id: purge
    type: io.kestra.plugin.gcp.gcs.DeleteList
    from: "gs://{{ inputs.bucket }}/"
    listingType: RECURSIVE
    regExp: ".*\\\\.log"
"""


def test_every_gcs_task_round_trips_through_the_emulator(gcs_server: GcsServer, runner: Any) -> None:
    bucket = gcs_server.bucket(**{"notes__a.txt": b"first", "notes__b.txt": b"second", "tmp__a.log": b"x", "tmp__b.log": b"yy"})
    summary = run_flow(runner, ROUND_TRIP, {"endpoint": gcs_server.endpoint, "bucket": bucket})
    assert summary["state"] == "SUCCESS", json.dumps(summary["taskRuns"], indent=1)[-3000:]

    created = task_run(summary, "create")["outputs"]
    assert created["created"] is True and created["bucket"]["name"] == f"{bucket}-archive"
    assert created["bucket"]["storageClass"] == "STANDARD"  # the emulator keeps no location nor labels
    assert task_run(summary, "again")["outputs"]["created"] is False
    upload = task_run(summary, "upload")["outputs"]
    assert upload["uri"] == f"gs://{bucket}/incoming/sales.csv" and upload["md5"] and upload["crc32c"]

    (listed,) = task_run(summary, "list")["outputs"]["blobs"]
    assert listed["name"] == "incoming/sales.csv" and listed["size"] == 32 and listed["contentType"] == "text/csv"
    assert listed["uri"] == f"gs://{bucket}/incoming/sales.csv" and listed["md5"] == upload["md5"]
    assert [b["name"] for b in task_run(summary, "everything")["outputs"]["blobs"]] == ["notes/a.txt", "notes/b.txt"]

    download = task_run(summary, "download")["outputs"]
    assert download["bucket"] == bucket and download["path"] == "incoming/sales.csv"
    assert stored(runner, download["uri"], NS) == b"region,amount\nnorth,10\nsouth,32\n"
    downloads = task_run(summary, "downloads")["outputs"]
    assert sorted(downloads["outputFiles"]) == ["notes/a.txt", "notes/b.txt"]
    assert stored(runner, downloads["outputFiles"]["notes/b.txt"], NS) == b"second"

    assert task_run(summary, "archive")["outputs"]["uri"] == f"gs://{bucket}-archive/sales.csv"
    assert task_run(summary, "delete")["outputs"]["deleted"] is True
    assert task_run(summary, "delete_missing")["outputs"]["deleted"] is False
    assert task_run(summary, "purge")["outputs"] == {"count": 1, "size": 2}
    assert gcs_server.keys(bucket) == []
    assert gcs_server.keys(f"{bucket}-archive") == ["notes/a.txt", "notes/b.txt", "sales.csv"]
    assert gcs_server.read(f"{bucket}-archive", "sales.csv").startswith(b"region,amount")


TRIGGER = """
id: FLOW
namespace: tests.gcs
tasks:
  - id: show
    type: log
    message: "{{ trigger.name }} {{ trigger.changeType }} {{ trigger.blobs | length }} {{ trigger.uri }}"
triggers:
  - id: watch
    type: io.kestra.plugin.gcp.gcs.Trigger
    interval: PT0S
    endpointOverride: ENDPOINT
    from: gs://BUCKET/incoming/
    regExp: ".*\\\\.csv"
"""


def test_the_trigger_moves_or_deletes_each_new_object_and_starts_one_execution_for_it(gcs_server: GcsServer, runner: Any) -> None:
    moved = gcs_server.bucket(**{"incoming__a.csv": b"a,1\n", "incoming__b.csv": b"b,2\n", "incoming__notes.txt": b"x"})
    gone = gcs_server.bucket(**{"incoming__c.csv": b"c,3\n"})
    flows = {flow_id: (TRIGGER + extra).replace("FLOW", flow_id).replace("ENDPOINT", gcs_server.endpoint).replace("BUCKET", bucket)
             for flow_id, bucket, extra in (("gcs-move", moved, "    action: MOVE\n    moveDirectory: gs://BUCKET/archive/\n"),
                                            ("gcs-delete", gone, "    action: DELETE\n"))}
    runs = poll_twice(runner, flows)
    assert_fired(runner, runs["gcs-move"], {"incoming/a.csv": b"a,1\n", "incoming/b.csv": b"b,2\n"}, ("bucket", moved), NS)
    assert_fired(runner, runs["gcs-delete"], {"incoming/c.csv": b"c,3\n"}, ("bucket", gone), NS)
    assert gcs_server.keys(moved) == ["archive/a.csv", "archive/b.csv", "incoming/notes.txt"]
    assert gcs_server.keys(gone) == []


@pytest.fixture
def refused_key() -> Iterator[dict[str, str]]:
    server, token_uri = refusing_token_server()
    yield service_account_key(token_uri)
    server.shutdown()


FAILING = """
id: gcs-failing
namespace: tests.gcs
inputs:
  - id: endpoint
    type: STRING
tasks:
  - id: listing
    type: io.kestra.plugin.gcp.gcs.List
    endpointOverride: "{{ inputs.endpoint }}"
    serviceAccount: "{{ secret('GCP_SERVICE_ACCOUNT') }}"
    from: gs://sales/incoming/
    retry:
      type: constant
      interval: PT0.2S
      maxAttempts: 2
"""


def test_a_refused_service_account_or_an_unreachable_endpoint_fails_each_attempt_in_one_masked_sentence(
        gcs_server: GcsServer, refused_key: dict[str, str], tmp_path: Path) -> None:
    from tests.plugins.flow_runs import runner_with_secrets

    key_text = json.dumps(refused_key)
    runner = runner_with_secrets(tmp_path / "home", GCP_SERVICE_ACCOUNT=key_text)
    try:
        refused = run_flow(runner, FAILING, {"endpoint": gcs_server.endpoint})
        unreachable_at = f"http://127.0.0.1:{free_port()}"
        anonymous = FAILING.replace("""    serviceAccount: "{{ secret('GCP_SERVICE_ACCOUNT') }}"\n""", "")
        unreachable = run_flow(runner, anonymous, {"endpoint": unreachable_at})
        logs = "\n".join(line["message"] for s in (refused, unreachable) for line in runner.logs(s["id"]))
    finally:
        runner.close()
    run = task_run(refused, "listing")
    message = run["attempts"][-1]["message"]
    assert refused["state"] == "FAILED" and len(run["attempts"]) == 2, message
    assert message.startswith(f"listing: GCS at {gcs_server.endpoint} refused the credentials while listing gs://sales/incoming/"), message
    assert "(Invalid Credentials, 401); check serviceAccount, projectId and scopes" in message
    assert message.count(". ") == 0 and "Traceback" not in message
    run = task_run(unreachable, "listing")
    message = run["attempts"][-1]["message"]
    assert len(run["attempts"]) == 2 and message.startswith(f"listing: cannot reach the GCS endpoint {unreachable_at}"), message
    assert "check endpointOverride (or STORAGE_EMULATOR_HOST) and the network" in message
    everything = json.dumps([refused, unreachable]) + logs
    private = refused_key["private_key"].splitlines()[1]
    assert private not in everything and refused_key["private_key_id"] not in everything and b64(key_text) not in everything


def test_a_service_account_that_is_no_key_is_refused_naming_the_field(gcs_server: GcsServer, tmp_path: Path) -> None:
    from tests.plugins.flow_runs import runner_with_secrets

    runner = runner_with_secrets(tmp_path / "home", GCP_SERVICE_ACCOUNT='{"type": "service_account", "private_key": "n0t-a-key"}')
    try:
        summary = run_flow(runner, FAILING, {"endpoint": gcs_server.endpoint})
    finally:
        runner.close()
    message = task_run(summary, "listing")["attempts"][-1]["message"]
    assert message.startswith("listing: serviceAccount is not a service account key"), message
    assert "n0t-a-key" not in json.dumps(summary)
