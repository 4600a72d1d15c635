"""Real servers on 127.0.0.1 for the cloud storage plugin's tests: moto's S3 server mode, and the GCS and
Azure Blob emulators of :mod:`tests.plugins.cloud_storage.emulators` (``gcs_server``, ``azurite``; one each per
session, started at collection time so that they warm up while earlier tests run).

``s3_server`` starts ``moto.server`` once per test session in a subprocess, with
request signing enforced (``INITIAL_NO_AUTH_ACTION_COUNT``): the first three
calls create an IAM user, its policy and its access key; from then on every
request must be signed with that key, so a wrong secret key is refused exactly
as AWS refuses it (``SignatureDoesNotMatch``). Each test uses buckets of its own.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.cloud_storage.emulators import (
    AzuriteServer,
    GcsServer,
    Process,
    probe,
    start_azurite,
    start_gcs,
)
from tests.plugins.cloud_storage.helpers import S3Server, aws_secrets, free_port


class MotoProcess(Process):
    """``python -m moto.server`` on a free port of 127.0.0.1, request signing enforced after 3 calls."""

    def __init__(self, log: Path):
        self.port = free_port()
        super().__init__("moto's S3 server", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                         log, env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
        self.endpoint = f"http://127.0.0.1:{self.port}"


_early: list[MotoProcess] = []
_early_gcs: list[Process] = []
_early_azurite: list[tuple[Process, AzuriteServer]] = []


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the servers as soon as a test that needs them is collected: they warm up while earlier tests run."""
    here = Path(__file__).parent
    ours = [Path(str(item.path)) for item in items if Path(str(item.path)).is_relative_to(here)]
    if not _early and any("gcs" not in p.name and "azure" not in p.name for p in ours):
        _early.append(MotoProcess(Path(tempfile.mkdtemp(prefix="lanner-moto-")) / "moto.log"))
    if not _early_gcs and any("gcs" in p.name for p in ours):
        _early_gcs.append(start_gcs(Path(tempfile.mkdtemp(prefix="lanner-gcs-"))))
    if not _early_azurite and any("azure" in p.name for p in ours):
        _early_azurite.append(start_azurite(Path(tempfile.mkdtemp(prefix="lanner-azurite-"))))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    import boto3

    server = _early.pop() if _early else MotoProcess(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        server.wait_ready(probe(f"{server.endpoint}/moto-api/"), timeout=120)
        iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="lanner-tests")
        iam.put_user_policy(UserName="lanner-tests", PolicyName="everything", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="lanner-tests")["AccessKey"]
        yield S3Server(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        server.stop()


@pytest.fixture
def s3_runner(tmp_path: Path, s3_server: S3Server) -> Iterator[Any]:
    """A LocalRunner whose secrets AWS_ACCESS_KEY_ID / AWS_SECRET_KEY_ID are the server's user."""
    from engine.runtime.local import LocalRunner
    from engine.runtime.secrets import SecretStore

    runner = LocalRunner(tmp_path / "home", workers=4, secrets=SecretStore(environ=aws_secrets(s3_server)))
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsServer]:
    """gcp-storage-emulator on 127.0.0.1, one per session."""
    proc = _early_gcs.pop() if _early_gcs else start_gcs(tmp_path_factory.mktemp("gcs"))
    endpoint = proc.endpoint  # type: ignore[attr-defined]
    try:
        proc.wait_ready(probe(f"{endpoint}/storage/v1/b"))
        yield GcsServer(endpoint)
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    """Azurite's blob service on 127.0.0.1 with an account of its own, one per session."""
    proc, server = _early_azurite.pop() if _early_azurite else start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        proc.wait_ready(probe(server.endpoint.rsplit("/", 1)[0]))
        yield server
    finally:
        proc.stop()
