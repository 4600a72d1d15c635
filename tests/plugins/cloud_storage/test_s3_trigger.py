"""The S3 polling trigger, polled by the real scheduler against moto's S3 server: one execution per object,
never two, and the object moved or deleted once it is in internal storage."""

from __future__ import annotations

from typing import Any

from engine.triggers.scheduler import Scheduler
from tests.plugins.cloud_storage.helpers import S3Server, executions, stored

FLOW = """
id: s3-landing
namespace: tests.s3
tasks:
  - id: show
    type: log
    message: "{{ trigger.key }} {{ trigger.changeType }} {{ trigger.objects | length }} {{ trigger.uri }}"
triggers:
  - id: watch
    type: io.kestra.plugin.aws.s3.Trigger
    interval: PT0S
    endpointOverride: ENDPOINT
    region: us-east-1
    accessKeyId: "{{ secret('AWS_ACCESS_KEY_ID') }}"
    secretKeyId: "{{ secret('AWS_SECRET_KEY_ID') }}"
    bucket: BUCKET
    prefix: incoming/
    regexp: .*\\.csv
"""



def _deploy(runner: Any, server: S3Server, bucket: str, extra: str, flow_id: str) -> None:
    source = FLOW.replace("ENDPOINT", server.endpoint).replace("BUCKET", bucket).replace("s3-landing", flow_id)
    runner.deploy(source + extra)


def test_each_new_object_starts_one_execution_and_is_moved(s3_server: S3Server, s3_runner: Any) -> None:
    bucket = s3_server.bucket(**{"incoming__a.csv": b"a,1\n", "incoming__b.csv": b"b,2\n", "incoming__notes.txt": b"x"})
    _deploy(s3_runner, s3_server, bucket, "    action: MOVE\n    moveTo:\n      key: archive/\n", "landing-move")
    sched = Scheduler(s3_runner)
    sched.run_once()
    sched.run_once()  # the objects are gone from incoming/: nothing more
    s3_server.client().put_object(Bucket=bucket, Key="incoming/c.csv", Body=b"c,3\n")
    sched.run_once()
    sched.run_once()
    runs = executions(s3_runner, "landing-move")
    assert [r["trigger"]["key"] for r in runs] == ["incoming/a.csv", "incoming/b.csv", "incoming/c.csv"]
    for run, body in zip(runs, (b"a,1\n", b"b,2\n", b"c,3\n"), strict=True):
        assert run["state"] == "SUCCESS"
        trigger = run["trigger"]
        assert trigger["changeType"] == "CREATE" and trigger["bucket"] == bucket and trigger["size"] == len(body)
        assert trigger["objects"] == [{k: v for k, v in trigger.items() if k not in ("objects", "bucket", "id", "type", "date")}]
        assert stored(s3_runner, trigger["uri"], "tests.s3") == body
    assert s3_server.keys(bucket) == ["archive/a.csv", "archive/b.csv", "archive/c.csv", "incoming/notes.txt"]


def test_delete_removes_what_fired_and_none_fires_again_only_on_a_change(s3_server: S3Server, s3_runner: Any) -> None:
    gone = s3_server.bucket(**{"incoming__a.csv": b"1"})
    kept = s3_server.bucket(**{"incoming__a.csv": b"1"})
    _deploy(s3_runner, s3_server, gone, "    action: DELETE\n", "landing-delete")
    _deploy(s3_runner, s3_server, kept, "    action: NONE\n", "landing-none")
    sched = Scheduler(s3_runner)
    sched.run_once()
    sched.run_once()
    assert s3_server.keys(gone) == [] and s3_server.keys(kept) == ["incoming/a.csv"]
    s3_server.client().put_object(Bucket=kept, Key="incoming/a.csv", Body=b"22")  # a new ETag: an UPDATE
    sched.run_once()
    sched.run_once()
    assert [r["trigger"]["changeType"] for r in executions(s3_runner, "landing-delete")] == ["CREATE"]
    none = executions(s3_runner, "landing-none")
    assert sorted(r["trigger"]["changeType"] for r in none) == ["CREATE", "UPDATE"]
    assert sorted(stored(s3_runner, r["trigger"]["uri"], "tests.s3") for r in none) == [b"1", b"22"]


def test_a_trigger_with_wrong_credentials_records_one_sentence_and_starts_nothing(s3_server: S3Server, s3_runner: Any) -> None:
    bucket = s3_server.bucket(**{"incoming__a.csv": b"1"})
    source = FLOW.replace("ENDPOINT", s3_server.endpoint).replace("BUCKET", bucket).replace("s3-landing", "landing-refused")
    s3_runner.deploy(source.replace("{{ secret('AWS_SECRET_KEY_ID') }}", "not-the-key") + "    action: DELETE\n")
    sched = Scheduler(s3_runner)
    sched.run_once()
    state = sched.store.get("tests.s3", "landing-refused", "watch")
    assert state is not None and "refused the credentials while listing" in (state.last_error or ""), state
    assert "not-the-key" not in state.last_error
    assert executions(s3_runner, "landing-refused") == [] and s3_server.keys(bucket) == ["incoming/a.csv"]
