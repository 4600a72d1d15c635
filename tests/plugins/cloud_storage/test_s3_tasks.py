"""Kestra's S3 tasks against moto's S3 server on 127.0.0.1, in flows run by a real runner."""

from __future__ import annotations

import json
from typing import Any

from tests.plugins.cloud_storage.helpers import S3Server, free_port, run_flow, stored, task_run

DEFAULTS = """
pluginDefaults:
  - type: io.kestra.plugin.aws.s3.
    values:
      endpointOverride: "{{ inputs.endpoint }}"
      region: us-east-1
      accessKeyId: "{{ secret('AWS_ACCESS_KEY_ID') }}"
      secretKeyId: "{{ secret('AWS_SECRET_KEY_ID') }}"
inputs:
  - id: endpoint
    type: STRING
  - id: bucket
    type: STRING
"""

ROUND_TRIP = """
id: s3-round-trip
namespace: tests.s3
""" + DEFAULTS + """
tasks:
  - id: make
    type: shell
    commands:
      - printf 'region,amount\\nnorth,10\\nsouth,32\\n' > sales.csv
      - printf 'first' > a.txt
      - printf 'second' > b.txt
    outputFiles: [sales.csv, a.txt, b.txt]
  - id: upload
    type: io.kestra.plugin.aws.s3.Upload
    bucket: "{{ inputs.bucket }}"
    key: incoming/sales.csv
    from: "{{ outputs.make.outputFiles['sales.csv'] }}"
    contentType: text/csv
    metadata:
      source: "{{ flow.id }}"
  - id: upload_many
    type: io.kestra.plugin.aws.s3.Upload
    bucket: "{{ inputs.bucket }}"
    key: notes
    from:
      - "{{ outputs.make.outputFiles['a.txt'] }}"
      - "{{ outputs.make.outputFiles['b.txt'] }}"
  - id: list
    type: io.kestra.plugin.aws.s3.List
    bucket: "{{ inputs.bucket }}"
    prefix: notes/
    regexp: .*a\\.txt
  - id: download
    type: io.kestra.plugin.aws.s3.Download
    bucket: "{{ inputs.bucket }}"
    key: incoming/sales.csv
  - id: download_many
    type: io.kestra.plugin.aws.s3.Download
    bucket: "{{ inputs.bucket }}"
    prefix: notes/
  - id: archive
    type: io.kestra.plugin.aws.s3.Copy
    from:
      bucket: "{{ inputs.bucket }}"
      key: incoming/sales.csv
    to:
      key: archive/sales.csv
    delete: true
  - id: delete
    type: io.kestra.plugin.aws.s3.Delete
    bucket: "{{ inputs.bucket }}"
    key: notes/b.txt
  - id: delete_rest
    type: io.kestra.plugin.aws.s3.DeleteList
    bucket: "{{ inputs.bucket }}"
    prefix: notes/
"""


def test_upload_list_download_copy_and_delete_round_trip(s3_server: S3Server, s3_runner: Any) -> None:
    bucket = s3_server.bucket(**{"notes__old.txt": b"old"})
    summary = run_flow(s3_runner, ROUND_TRIP, {"endpoint": s3_server.endpoint, "bucket": bucket})
    assert summary["state"] == "SUCCESS", json.dumps(summary["taskRuns"], indent=1)[-3000:]

    upload = task_run(summary, "upload")["outputs"]
    assert upload["bucket"] == bucket and upload["key"] == "incoming/sales.csv" and upload["eTag"].startswith('"')
    many = task_run(summary, "upload_many")["outputs"]
    assert sorted(many["files"]) == ["a.txt", "b.txt"] and many["files"]["a.txt"]["contentLength"] == 5

    listed = task_run(summary, "list")["outputs"]["objects"]
    assert [o["key"] for o in listed] == ["notes/a.txt"] and listed[0]["size"] == 5 and listed[0]["lastModified"]

    download = task_run(summary, "download")["outputs"]
    assert stored(s3_runner, download["uri"], "tests.s3") == b"region,amount\nnorth,10\nsouth,32\n"
    assert download["contentType"] == "text/csv" and download["metadata"] == {"source": "s3-round-trip"}
    assert download["contentLength"] == 32 and download["eTag"] == upload["eTag"]

    files = task_run(summary, "download_many")["outputs"]["files"]
    assert sorted(files) == ["notes/a.txt", "notes/b.txt", "notes/old.txt"]
    assert stored(s3_runner, files["notes/b.txt"]["uri"], "tests.s3") == b"second"

    assert task_run(summary, "archive")["outputs"]["key"] == "archive/sales.csv"
    assert task_run(summary, "delete_rest")["outputs"] == {"count": 2, "size": 8}  # a.txt and old.txt
    assert s3_server.keys(bucket) == ["archive/sales.csv"]  # copied then deleted, notes deleted
    assert s3_server.read(bucket, "archive/sales.csv").startswith(b"region,amount")


DOWNLOADS = """
id: s3-downloads
namespace: tests.s3
""" + DEFAULTS + """
  - id: archive_bucket
    type: STRING
tasks:
  - id: take
    type: io.kestra.plugin.aws.s3.Downloads
    bucket: "{{ inputs.bucket }}"
    prefix: in/
    regexp: .*\\.csv
    action: MOVE
    moveTo:
      bucket: "{{ inputs.archive_bucket }}"
      key: done/
  - id: purge
    type: io.kestra.plugin.aws.s3.Downloads
    bucket: "{{ inputs.bucket }}"
    prefix: tmp/
    action: DELETE
"""


def test_downloads_moves_or_deletes_what_it_downloaded(s3_server: S3Server, s3_runner: Any) -> None:
    bucket = s3_server.bucket(**{"in__a.csv": b"a", "in__b.csv": b"bb", "in__skip.txt": b"s", "tmp__x.log": b"x"})
    archive = s3_server.bucket()
    summary = run_flow(s3_runner, DOWNLOADS, {"endpoint": s3_server.endpoint, "bucket": bucket, "archive_bucket": archive})
    assert summary["state"] == "SUCCESS", json.dumps(summary["taskRuns"], indent=1)[-3000:]
    took = task_run(summary, "take")["outputs"]
    assert [o["key"] for o in took["objects"]] == ["in/a.csv", "in/b.csv"]
    assert stored(s3_runner, took["outputFiles"]["in/b.csv"], "tests.s3") == b"bb"
    assert s3_server.keys(archive) == ["done/a.csv", "done/b.csv"]
    assert s3_server.keys(bucket) == ["in/skip.txt"]  # moved, and tmp/ deleted by the second task


FAILING = """
id: s3-failing
namespace: tests.s3
inputs:
  - id: endpoint
    type: STRING
  - id: bucket
    type: STRING
tasks:
  - id: listing
    type: io.kestra.plugin.aws.s3.List
    endpointOverride: "{{ inputs.endpoint }}"
    region: us-east-1
    accessKeyId: "{{ secret('AWS_ACCESS_KEY_ID') }}"
    secretKeyId: "SECRET_KEY"
    bucket: "{{ inputs.bucket }}"
    retry:
      type: constant
      interval: PT0.2S
      maxAttempts: 2
"""


def _failure(summary: dict[str, Any]) -> tuple[dict[str, Any], str]:
    run = task_run(summary, "listing")
    return run, run["attempts"][-1].get("message") or ""


def test_a_wrong_secret_key_fails_each_attempt_with_one_sentence_and_is_retried(s3_server: S3Server, s3_runner: Any) -> None:
    wrong = "wR0ng-s3cret-Key-Value-123"
    bucket = s3_server.bucket()
    summary = run_flow(s3_runner, FAILING.replace("SECRET_KEY", wrong), {"endpoint": s3_server.endpoint, "bucket": bucket})
    assert summary["state"] == "FAILED"
    run, message = _failure(summary)
    assert len(run["attempts"]) == 2 and all(a["state"] == "FAILED" for a in run["attempts"])
    assert message.startswith(f"listing: S3 at {s3_server.endpoint} refused the credentials while listing s3://{bucket}")
    assert "SignatureDoesNotMatch" in message and "check accessKeyId, secretKeyId and sessionToken" in message
    assert message.count(". ") == 0 and "Traceback" not in message, message
    everything = json.dumps(summary) + "\n".join(line["message"] for line in s3_runner.logs(summary["id"]))
    assert wrong not in everything and s3_server.secret_key not in everything


def test_an_unreachable_endpoint_fails_each_attempt_with_one_sentence_and_is_retried(s3_server: S3Server, s3_runner: Any) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    summary = run_flow(s3_runner, FAILING.replace("SECRET_KEY", "{{ secret('AWS_SECRET_KEY_ID') }}"),
                       {"endpoint": endpoint, "bucket": "sales"})
    assert summary["state"] == "FAILED"
    run, message = _failure(summary)
    assert len(run["attempts"]) == 2
    assert message.startswith(f"listing: cannot reach the S3 endpoint {endpoint} while listing s3://sales"), message
    assert "check endpointOverride, region and the network" in message


def test_a_missing_object_and_a_link_local_endpoint_are_refused_in_one_sentence(s3_server: S3Server, s3_runner: Any) -> None:
    bucket = s3_server.bucket()
    flow = """
id: s3-missing
namespace: tests.s3
""" + DEFAULTS + """
tasks:
  - id: get
    type: io.kestra.plugin.aws.s3.Download
    bucket: "{{ inputs.bucket }}"
    key: nothing/here.csv
    allowFailure: true
  - id: metadata
    type: io.kestra.plugin.aws.s3.List
    bucket: "{{ inputs.bucket }}"
    endpointOverride: http://169.254.169.254
"""
    summary = run_flow(s3_runner, flow, {"endpoint": s3_server.endpoint, "bucket": bucket})
    got = task_run(summary, "get")["attempts"][-1]["message"]
    assert got.startswith(f"get: s3://{bucket}/nothing/here.csv does not exist"), got
    refused = task_run(summary, "metadata")["attempts"][-1]["message"]
    assert "points to a link-local address (169.254.169.254)" in refused, refused
