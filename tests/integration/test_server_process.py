"""The server process: configuration precedence, --help, auth and body limits, the flow-dir watcher,
the File trigger, and graceful shutdown on SIGTERM with resumption at the next start."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.server.config import ConfigError, load_config
from tests.integration.server_process import ServerProcess, lanner_exe, wait_for, wait_state

YAML = {"Content-Type": "application/x-yaml"}
AUTH = ("admin", "s3cret-pw")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- configuration ------------------------------------------------------------------------------------


def test_config_precedence_flags_env_file(tmp_path: Path) -> None:
    (tmp_path / "lanner.yaml").write_text("server:\n  port: 7000\n  host: 0.0.0.0\n  grace: 5\n  maxBody: 2MiB\n  auth:\n    users: ['file:pw']\n")
    cfg = load_config({}, environ={}, cwd=tmp_path)
    assert (cfg.port, cfg.host, cfg.grace, cfg.max_body, cfg.auth_users) == (7000, "0.0.0.0", 5.0, 2 * 1024 * 1024, {"file": "pw"})
    cfg = load_config({}, environ={"LANNER_PORT": "7100", "LANNER_AUTH_USERS": "env:pw,other:pw2"}, cwd=tmp_path)
    assert cfg.port == 7100 and cfg.auth_users == {"env": "pw", "other": "pw2"} and cfg.grace == 5.0
    cfg = load_config({"port": 7200, "grace": None}, environ={"LANNER_PORT": "7100"}, cwd=tmp_path)
    assert cfg.port == 7200 and cfg.grace == 5.0
    assert load_config({}, environ={}, cwd=tmp_path / "nowhere").host == "127.0.0.1"


def test_docker_as_process_setting_from_file_env_and_flag(tmp_path: Path) -> None:
    assert load_config({}, environ={}, cwd=tmp_path).run_docker_as_process is False
    (tmp_path / "lanner.yaml").write_text("server:\n  runDockerAsProcess: true\n")
    assert load_config({}, environ={}, cwd=tmp_path).run_docker_as_process is True
    assert load_config({"run_docker_as_process": False}, environ={}, cwd=tmp_path).run_docker_as_process is False
    assert load_config({}, environ={"LANNER_RUN_DOCKER_AS_PROCESS": "0"}, cwd=tmp_path).run_docker_as_process is False


def test_config_errors_name_the_setting_and_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LANNER_PORT"):
        load_config({}, environ={"LANNER_PORT": "eighty"}, cwd=tmp_path)
    (tmp_path / "lanner.yaml").write_text("prot: 80\n")
    with pytest.raises(ConfigError, match="prot: unknown setting"):
        load_config({}, environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="user:password"):
        load_config({"auth_users": "nopassword"}, environ={}, cwd=tmp_path / "x")
    with pytest.raises(ConfigError, match="--config"):
        load_config({}, environ={}, config_file=tmp_path / "missing.yaml")


def test_help_documents_every_option() -> None:
    out = subprocess.run([*lanner_exe(), "server", "local", "--help"], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    for option, env in [("--host", "LANNER_HOST"), ("--port", "LANNER_PORT"), ("--flows", "LANNER_FLOWS"), ("--workers", "LANNER_WORKERS"),
                        ("--grace", "LANNER_GRACE"), ("--auth-users", "LANNER_AUTH_USERS"), ("--max-body", "LANNER_MAX_BODY"), ("--config", "lanner.yaml")]:
        assert option in out.stdout and env in out.stdout, option


def test_bad_config_exits_2_with_one_sentence(tmp_path: Path) -> None:
    out = subprocess.run([*lanner_exe(), "server", "local", "--port", "99999"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 2 and "--port" in out.stderr and "Traceback" not in out.stderr


# --- a secured server with a watched flows dir and a File trigger -------------------------------------

WATCHED = """
id: watched
namespace: srv.test
tasks:
  - id: say
    type: log
    message: "{message}"
triggers:
  - id: hook
    type: webhook
    key: server-process-webhook-key
"""

INBOX = """
id: inbox
namespace: srv.test
tasks:
  - id: read
    type: log
    message: "{{{{ trigger.name }}}}: {{{{ read(trigger.uri) }}}}"
triggers:
  - id: files
    type: io.kestra.plugin.fs.local.Trigger
    directory: {directory}
    glob: "*.txt"
    interval: PT0.5S
    action: MOVE
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("secured")
    inbox = root / "inbox"
    inbox.mkdir()
    srv = ServerProcess(root, env={"LANNER_AUTH_USERS": f"{AUTH[0]}:{AUTH[1]}", "LANNER_MAX_BODY": "4KiB"})
    (srv.flows / "watched.yaml").write_text(WATCHED.format(message="v1"))
    (srv.flows / "inbox.yaml").write_text(INBOX.format(directory=inbox))
    srv.inbox = inbox  # type: ignore[attr-defined]
    srv.start()
    yield srv
    srv.stop()


def test_basic_auth_protects_everything_but_health_and_webhooks(secured: ServerProcess) -> None:
    with secured.client() as anon:
        assert anon.get("/health").status_code == 200
        r = anon.get("/api/v1/flows/search")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        for path in ("/metrics", "/api/v1/openapi.json", "/ui", "/health/", "/health/../api/v1/flows/search", "/healthz", "/api/v1/executions/webhook/a/b/c/d"):
            assert anon.get(path).status_code == 401, path
        assert anon.get("/api/v1/flows/search", headers=basic(AUTH[0], "wrong")).status_code == 401
        assert anon.get("/api/v1/flows/search", headers=basic(AUTH[0], AUTH[1])).status_code == 200
        r = anon.post("/api/v1/executions/webhook/srv.test/watched/server-process-webhook-key")
        assert r.status_code == 200, r.text


def test_docker_runner_flow_is_refused_by_a_server_without_the_setting(secured: ServerProcess) -> None:
    flow = ("id: in_docker\nnamespace: srv.test\ntasks:\n  - id: hello\n    type: io.kestra.plugin.scripts.shell.Commands\n"
            "    containerImage: ubuntu:24.04\n    commands: [echo hi]\n")
    with secured.client(headers=basic(*AUTH)) as api:
        r = api.post("/api/v1/flows", content=flow, headers={"Content-Type": "application/x-yaml"})
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["path"] == "tasks[0].containerImage" and error["line"] == 6
    assert "asks for a Docker container" in error["message"] and "--run-docker-as-process" in error["message"]


def test_request_body_limit_is_413(secured: ServerProcess) -> None:
    with secured.client(auth=AUTH) as api:
        big = "x" * 5000
        r = api.put("/api/v1/namespaces/srv.test/kv/big", content=big, headers={"Content-Type": "text/plain"})
        assert r.status_code == 413 and "LANNER_MAX_BODY" in r.json()["message"]

        def chunks() -> Any:
            for _ in range(10):
                yield b"y" * 1000

        r = api.put("/api/v1/namespaces/srv.test/kv/big", content=chunks(), headers={"Content-Type": "text/plain"})
        assert r.status_code == 413
        assert api.put("/api/v1/namespaces/srv.test/kv/small", content="ok", headers={"Content-Type": "text/plain"}).status_code == 200


def test_flow_file_changes_are_redeployed_and_invalid_ones_keep_the_revision(secured: ServerProcess) -> None:
    path = secured.flows / "watched.yaml"
    with secured.client(auth=AUTH) as api:
        assert api.get("/api/v1/flows/srv.test/watched").json()["revision"] == 1
        path.write_text(WATCHED.format(message="v2"))
        wait_for(lambda: api.get("/api/v1/flows/srv.test/watched").json()["revision"] == 2, timeout=15)
        path.write_text(WATCHED.format(message="v3").replace("type: log", "type: lgo"))
        wait_for(lambda: "unknown task type 'lgo'" in secured.log(), timeout=15)
        flow = api.get("/api/v1/flows/srv.test/watched", params={"source": True}).json()
        assert flow["revision"] == 2 and "v2" in flow["source"]
        ex = api.post("/api/v1/executions/srv.test/watched", params={"wait": True}).json()
        assert "v2" in [x["message"] for x in api.get(f"/api/v1/logs/{ex['id']}").json()]


def test_file_trigger_starts_one_execution_per_file(secured: ServerProcess) -> None:
    inbox: Path = secured.inbox  # type: ignore[attr-defined]
    (inbox / "a.txt").write_text("alpha")
    (inbox / "ignored.csv").write_text("no")
    with secured.client(auth=AUTH) as api:
        def found() -> Any:
            page = api.get("/api/v1/executions/search", params={"flowId": "inbox"}).json()
            return page["results"] if page["total"] else None

        [ex] = wait_for(found, timeout=20)
        done = wait_state(api, ex["id"])
        assert done["state"] == "SUCCESS"
        assert done["trigger"]["uri"].startswith(f"lanner:///srv.test/inbox/executions/{ex['id']}/")
        assert done["trigger"]["path"].endswith("a.txt")
        assert "a.txt: alpha" in [x["message"] for x in api.get(f"/api/v1/logs/{ex['id']}").json()]
        assert not (inbox / "a.txt").exists() and (inbox / ".processed" / "a.txt").read_text() == "alpha"
        assert (inbox / "ignored.csv").exists()
        time.sleep(1.5)  # three more polls: never a second execution for the same file
        assert api.get("/api/v1/executions/search", params={"flowId": "inbox"}).json()["total"] == 1


# --- graceful shutdown --------------------------------------------------------------------------------

TWO_STEPS = """
id: two-steps
namespace: srv.grace
tasks:
  - id: short
    type: sleep
    duration: PT1.5S
  - id: next
    type: log
    message: next ran
"""

LONG = """
id: long
namespace: srv.grace
tasks:
  - id: long-sleep
    type: sleep
    duration: PT4S
"""


def test_sigterm_lets_attempts_finish_then_resumes_the_rest_at_next_start(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path, args=["--grace", "2"])
    (srv.flows / "two.yaml").write_text(TWO_STEPS)
    (srv.flows / "long.yaml").write_text(LONG)
    srv.start()
    try:
        with srv.client() as api:
            short = api.post("/api/v1/executions/srv.grace/two-steps").json()
            long = api.post("/api/v1/executions/srv.grace/long").json()
            wait_for(lambda: all(api.get(f"/api/v1/executions/{e['id']}").json()["taskRuns"] for e in (short, long)))
            time.sleep(0.3)
        began = time.monotonic()
        srv.signal()
        assert srv.wait_exit(30) == 0
        assert time.monotonic() - began < 15
    finally:
        srv.stop()
    assert "resume at the next start" in srv.log()
    again = ServerProcess(tmp_path, port=srv.port, args=["--grace", "2"]).start()
    try:
        with again.client() as api:
            s = wait_state(api, short["id"], timeout=30)
            assert s["state"] == "SUCCESS"
            runs = {t["taskId"]: t for t in s["taskRuns"]}
            assert len(runs["short"]["attempts"]) == 1  # finished within the grace period, not re-run
            assert runs["next"]["state"] == "SUCCESS"
            long_done = wait_state(api, long["id"], timeout=30)
            assert long_done["state"] == "SUCCESS"
            assert len(long_done["taskRuns"][0]["attempts"]) == 2  # cut by the shutdown, resumed with a new attempt
    finally:
        again.stop()


def test_unauthenticated_client_error_has_no_traceback(secured: ServerProcess) -> None:
    r = httpx.get(secured.base + "/api/v1/executions/nope")
    assert r.status_code == 401 and "Traceback" not in r.text
    assert "Traceback" not in secured.log()
