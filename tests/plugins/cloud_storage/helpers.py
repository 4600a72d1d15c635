"""Helpers the cloud storage tests share: run a flow on an in-process runner, read what it stored."""

from __future__ import annotations

import base64
import socket
import uuid
from dataclasses import dataclass
from typing import Any


def run_flow(runner: Any, source: str, inputs: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
    """Deploy ``source``, run it to its end; the execution summary."""
    flow = runner.deploy(source)
    return runner.wait(runner.start_execution(flow.namespace, flow.id, inputs or {}), timeout=timeout)


def task_run(summary: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(t for t in summary["taskRuns"] if t["taskId"] == task_id)


def stored(runner: Any, uri: str, namespace: str) -> bytes:
    """The bytes of a file of the runner's internal storage."""
    return runner.storage.read_bytes(uri, namespace=namespace)


def executions(runner: Any, flow_id: str, by: str = "key") -> list[dict[str, Any]]:
    """The ended executions a trigger started for ``flow_id``, sorted by ``trigger.<by>``."""
    runner.sync()
    found, _ = runner.store.search_executions(flow_id=flow_id, limit=100)
    return sorted((runner.wait(e.id, timeout=60) for e in found), key=lambda s: s["trigger"][by])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def bucket(self, **objects: bytes) -> str:
        """A new bucket holding ``objects`` (name -> bytes; ``__`` in a name stands for ``/``)."""
        name = f"lanner-{uuid.uuid4().hex[:12]}"
        client = self.client()
        client.create_bucket(Bucket=name)
        for key, body in objects.items():
            client.put_object(Bucket=name, Key=key.replace("__", "/"), Body=body)
        return name

    def keys(self, bucket: str) -> list[str]:
        found = self.client().list_objects_v2(Bucket=bucket).get("Contents", [])
        return sorted(o["Key"] for o in found)

    def read(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def b64(value: str) -> str:
    """How SECRET_<NAME> environment variables hold a value."""
    return base64.b64encode(value.encode()).decode()


def aws_secrets(server: S3Server, secret_key: str | None = None) -> dict[str, str]:
    """SECRET_AWS_ACCESS_KEY_ID / SECRET_AWS_SECRET_KEY_ID for the server's user (or a wrong secret key)."""
    return {"SECRET_AWS_ACCESS_KEY_ID": b64(server.access_key),
            "SECRET_AWS_SECRET_KEY_ID": b64(secret_key or server.secret_key)}


def poll_twice(runner: Any, sources: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Deploy each flow (id -> source), let the real scheduler poll twice (the second poll must find nothing new);
    each flow's executions, sorted by ``trigger.name``."""
    from engine.triggers.scheduler import Scheduler

    for source in sources.values():
        runner.deploy(source)
    scheduler = Scheduler(runner)
    scheduler.run_once()
    scheduler.run_once()
    return {flow_id: executions(runner, flow_id, by="name") for flow_id in sources}


def assert_fired(runner: Any, runs: list[dict[str, Any]], bodies: dict[str, bytes], where: tuple[str, str], namespace: str) -> None:
    """One successful CREATE execution per object (name -> bytes), its file in internal storage, Kestra's
    ``trigger.blobs`` holding it, ``where`` = (field, value) naming its bucket or container."""
    assert [r["trigger"]["name"] for r in runs] == sorted(bodies)
    for run in runs:
        trigger = run["trigger"]
        assert run["state"] == "SUCCESS" and trigger["changeType"] == "CREATE" and trigger[where[0]] == where[1]
        assert trigger["size"] == len(bodies[trigger["name"]]) and trigger["blobs"][0]["name"] == trigger["name"]
        assert stored(runner, trigger["uri"], namespace) == bodies[trigger["name"]]
