"""Real GCS and Azure Blob servers on 127.0.0.1 for the cloud storage tests, each a subprocess on a free port.

* GCS: ``gcp-storage-emulator`` (PyPI), which speaks the JSON API gcsfs uses. It
  checks no credentials, so the "wrong service account" case goes through a
  local OAuth token endpoint (the key's ``token_uri``) that refuses the signed
  JWT exactly as Google's does (HTTP 400 ``invalid_grant``).
* Azure Blob: Azurite (npm, installed by ``make install-test`` from the committed
  lock), with an account of its own whose key is made per test session: Azurite
  checks SharedKey signatures, so a wrong key is refused as Azure refuses it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.cloud_storage.helpers import free_port

AZURITE = Path(__file__).parent / "azurite" / "node_modules" / ".bin" / "azurite-blob"


class Process:
    """A server subprocess whose output goes to a log file, ready once ``probe`` answers."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                         cwd=log.parent)

    def wait_ready(self, probe: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not probe():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not start:\n{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _answers(url: str) -> bool:
    import httpx

    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.HTTPError:
        return False


# -- GCS --

@dataclass
class GcsServer:
    endpoint: str

    def fs(self) -> Any:
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem(endpoint_url=self.endpoint, token="anon", project="tests", skip_instance_cache=True,
                             use_listings_cache=False)

    def bucket(self, **objects: bytes) -> str:
        """A new bucket holding ``objects`` (name -> bytes; ``__`` in a name stands for ``/``)."""
        name = f"lanner-{uuid.uuid4().hex[:12]}"
        fs = self.fs()
        fs.mkdir(name)
        for key, body in objects.items():
            fs.pipe(f"{name}/{key.replace('__', '/')}", body)
        return name

    def keys(self, bucket: str) -> list[str]:
        return sorted(p.split("/", 1)[1] for p in self.fs().find(bucket))

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(self.fs().cat(f"{bucket}/{key}"))


def start_gcs(folder: Path) -> Process:
    port = free_port()
    proc = Process("gcp-storage-emulator", [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
                                            "--port", str(port), "--in-memory", "--quiet"], folder / "gcs.log")
    proc.endpoint = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return proc


class TokenRefuser(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint answering a service account whose key it does not know."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def refusing_token_server() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenRefuser)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/token"


def service_account_key(token_uri: str) -> dict[str, str]:
    """A service account key (a real RSA key, made now) whose tokens come from ``token_uri``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {"type": "service_account", "project_id": "lanner-tests", "private_key_id": secrets.token_hex(20),
            "private_key": pem.decode(), "client_email": "flows@lanner-tests.iam.gserviceaccount.com",
            "client_id": "1234567890", "token_uri": token_uri}


# -- Azure Blob --

@dataclass
class AzuriteServer:
    endpoint: str
    account: str
    key: str

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
                f"BlobEndpoint={self.endpoint};")

    def fs(self) -> Any:
        from adlfs import AzureBlobFileSystem

        return AzureBlobFileSystem(connection_string=self.connection_string, skip_instance_cache=True)

    def container(self, **blobs: bytes) -> str:
        name = f"lanner-{uuid.uuid4().hex[:12]}"
        fs = self.fs()
        fs.mkdir(name)
        for key, body in blobs.items():
            fs.pipe(f"{name}/{key.replace('__', '/')}", body)
        return name

    def keys(self, container: str) -> list[str]:
        return sorted(p.split("/", 1)[1] for p in self.fs().find(container))

    def read(self, container: str, name: str) -> bytes:
        return bytes(self.fs().cat(f"{container}/{name}"))


def start_azurite(folder: Path) -> tuple[Process, AzuriteServer]:
    if not AZURITE.exists() or shutil.which("node") is None:
        pytest.fail("Azurite is not installed: run `make install-test` (npm ci in tests/plugins/cloud_storage/azurite)")
    port = free_port()
    account, key = "lannertests", base64.b64encode(secrets.token_bytes(64)).decode()
    proc = Process("Azurite", [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
                               "--skipApiVersionCheck", "--disableProductStyleUrl", "--silent"],
                   folder / "azurite.log", env={"AZURITE_ACCOUNTS": f"{account}:{key}"})
    return proc, AzuriteServer(f"http://127.0.0.1:{port}/{account}", account, key)


def probe(endpoint: str) -> Callable[[], bool]:
    return lambda: _answers(endpoint)
