"""A real S3-compatible server on 127.0.0.1 for the cloud storage plugin's tests: moto's server mode.

``s3_server`` starts ``moto.server`` once per test session in a subprocess, with
request signing enforced (``INITIAL_NO_AUTH_ACTION_COUNT``): the first three
calls create an IAM user, its policy and its access key; from then on every
request must be signed with that key, so a wrong secret key is refused exactly
as AWS refuses it (``SignatureDoesNotMatch``). Each test uses buckets of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.cloud_storage.helpers import S3Server, aws_secrets, free_port


class MotoProcess:
    """``python -m moto.server`` on a free port of 127.0.0.1, request signing enforced after 3 calls."""

    def __init__(self, log: Path):
        self.port = free_port()
        self.log = log
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
        with log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                         env=env, stdout=out, stderr=subprocess.STDOUT)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto's S3 server did not start:\n{self.log.read_text()[-2000:]}")
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


_early: list[MotoProcess] = []


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the server as soon as a test of this folder is collected: it warms up while earlier tests run."""
    here = Path(__file__).parent
    if not _early and any(Path(str(item.path)).is_relative_to(here) for item in items):
        _early.append(MotoProcess(Path(tempfile.mkdtemp(prefix="lanner-moto-")) / "moto.log"))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    import boto3

    server = _early.pop() if _early else MotoProcess(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        server.wait_ready()
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
