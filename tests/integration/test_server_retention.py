"""The server's retention (LANNER_PURGE_OLDER_THAN) and its start-up checks of the scale-out settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.server_process import ServerProcess, lanner_exe, wait_for, wait_state


def test_the_server_purges_ended_executions_on_its_schedule(tmp_path: Path) -> None:
    env = {"LANNER_PURGE_OLDER_THAN": "PT1S", "LANNER_PURGE_INTERVAL": "0.5"}
    server = ServerProcess(tmp_path, env=env).start()
    try:
        with server.client() as c:
            flow = "id: brief\nnamespace: retention\ntasks:\n  - id: t\n    type: log\n    message: hi\n"
            assert c.post("/api/v1/flows", content=flow, headers={"Content-Type": "application/x-yaml"}).status_code == 200
            ex_id = c.post("/api/v1/executions/retention/brief").json()["id"]
            assert wait_state(c, ex_id)["state"] == "SUCCESS"
            wait_for(lambda: c.get(f"/api/v1/executions/{ex_id}").status_code == 404, timeout=20)
            assert c.get(f"/api/v1/logs/{ex_id}").status_code == 404
    finally:
        server.stop()


def test_bad_purge_or_dask_settings_stop_the_start_with_one_sentence(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={"LANNER_PURGE_OLDER_THAN": "thirty days"})
    cmd = [*lanner_exe(), "server", "local", "--port", str(server.port), "--no-ui", "--flows", str(server.flows)]
    out = subprocess.run(cmd, env=server.env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "LANNER_PURGE_OLDER_THAN='thirty days' is not a positive ISO-8601 duration" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    env = {k: v for k, v in server.env.items() if not k.startswith("LANNER_PURGE")}
    env["LANNER_DASK_CONNECT_TIMEOUT"] = "2"
    out = subprocess.run([*cmd, "--dask", "tcp://127.0.0.1:1"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
