"""Property-based API testing with schemathesis against the OpenAPI spec of a real server.

Every operation of /api/v1/openapi.json gets generated requests (fuzzed data,
a fixed seed, at most ten per operation); the server
must never answer 500, and every answer must match the documented status
codes, content types and response schemas.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server_process import ServerProcess

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

SEED_FLOW = """
id: fuzzed
namespace: fuzz
inputs:
  - id: n
    type: INT
    defaults: 1
tasks:
  - id: t
    type: log
    message: "{{ inputs.n }}"
triggers:
  - id: hook
    type: webhook
    key: fuzz-webhook-key-0123456789
  - id: sched
    type: schedule
    cron: "0 0 * * *"
    disabled: true
"""


def schemathesis_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "schemathesis"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("schemathesis")
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("schemathesis")
    root = tmp_path_factory.mktemp("schemathesis")
    srv = ServerProcess(root)
    (srv.flows / "fuzzed.yaml").write_text(SEED_FLOW)
    srv.start()
    yield srv
    srv.stop()


def test_openapi_spec_holds_for_generated_requests(server: ServerProcess, tmp_path: Path) -> None:
    cmd = [
        *schemathesis_cmd(), "run", f"{server.base}/api/v1/openapi.json",
        "--url", server.base,
        "--checks", CHECKS,
        "--phases", "fuzzing",
        "--max-examples", "10",  # about 400 requests in all
        "--seed", "20240331",
        "--generation-database", "none",
        "--workers", "2",
        "--request-timeout", "20",
        "--no-color",
    ]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=170)
    report = out.stdout[-6000:] + out.stderr[-2000:]
    assert out.returncode == 0, report
    assert "Traceback" not in server.log(), server.log()[-4000:]
    assert "API Operations" in out.stdout
