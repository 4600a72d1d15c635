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
