"""One real ``lanner server local`` for the security tests that need HTTP: auth, limits, webhooks, load.

It runs as a subprocess on 127.0.0.1 with a free port, basic auth on, a small
body limit, a webhook rate limit, a secret, one extra host name it answers to,
a short deadline for request headers, and the flows below; the session shares
it because starting the server (with its UI) takes seconds.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

USER, PASSWORD = "alice", "correct-horse-battery-staple"
SECRET = "srv-secret-7Hq2Lx9Vb4Nc8Mz1Kd6Wf3Tg5Yp0Rj"
WEBHOOK_KEY = "k3y-0123456789abcdefghijklmnopqrstuv"
WEBHOOK_RATE = 5  # calls per second per key and source
MAX_BODY = 1024 * 1024
ALLOWED_HOST = "lanner.example.test"  # LANNER_ALLOWED_HOSTS: a name the server answers to (a proxy in front, say)
HEADER_TIMEOUT = 2.0  # LANNER_HEADER_TIMEOUT: seconds a client has to send its request headers
COSTLY_HOOK_KEY = "c0stly-hook-0123456789abcdefghijklmn"
BUSY_HOOK_KEY = "busy-hook-0123456789abcdefghijklmnop"

#: Issue 19's expressions that held the interpreter (its payloads, at full size): lists of shared
#: references compared, and printed inside 66 brackets; and many large texts kept at once.
SHARED = "{% set a = [0] * 1000 %}{% set b = [a] * 1000 %}{% set c = [b] * 15000 %}"
SHARED_2 = "{% set a2 = [0] * 1000 %}{% set b2 = [a2] * 1000 %}{% set c2 = [b2] * 15000 %}"
COSTLY = {
    "cost_compare": SHARED + SHARED_2 + "{{ c == c2 }}",
    "cost_json": "{% set a = [0] * 1000 %}{% set b = [a] * 1000 %}{% set c = [b] * 100 %}{{ " + "[" * 66 + "c" + "]" * 66
                 + " | tojson | length }}",
    "cost_memory": "".join(f"{{% set t{i} = ('x' * 9000000) ~ {i} %}}" for i in range(60)) + "{{ t0 | length }}",
}


def _hook_flow(flow_id: str, key: str, inputs_template: str) -> str:
    """A flow whose Webhook trigger renders ``inputs_template`` as its input ``x`` (in the API's request)."""
    return f"""
        id: {flow_id}
        namespace: sec.api
        inputs:
          - id: x
            type: STRING
            required: false
        tasks:
          - id: say
            type: log
            message: "{{{{ inputs.x }}}}"
        triggers:
          - id: wh
            type: io.kestra.plugin.core.trigger.Webhook
            key: {key}
            inputs:
              x: {json.dumps(inputs_template)}
    """


FLOWS = {
    "hook.yaml": f"""
        id: hook
        namespace: sec.api
        tasks:
          - id: say
            type: log
            message: "{{{{ trigger.body }}}}"
          - id: keep
            type: return
            format: "{{{{ trigger.body.text }}}}"
        triggers:
          - id: wh
            type: io.kestra.plugin.core.trigger.Webhook
            key: {WEBHOOK_KEY}
    """,
    "echo.yaml": """
        id: echo
        namespace: sec.api
        inputs:
          - id: x
            type: STRING
        tasks:
          - id: say
            type: log
            message: "{{ inputs.x }}"
          - id: keep
            type: return
            format: "{{ inputs.x }}"
    """,
    "leak.yaml": """
        id: leak
        namespace: sec.api
        tasks:
          - id: say
            type: log
            message: "the token is {{ secret('TOKEN') }}"
          - id: script
            type: python
            script: |
              import base64, os
              s = os.environ["T"]
              print("b64", base64.b64encode(s.encode()).decode())
              print('::{"outputs": {"token": "%s"}}::' % s)
            env:
              T: "{{ secret('TOKEN') }}"
        outputs:
          - id: token
            type: STRING
            value: "{{ outputs.script.vars.token }}"
    """,
    **{f"{flow_id}.yaml": f"""
        id: {flow_id}
        namespace: sec.api
        tasks:
          - id: render
            type: log
            message: {json.dumps(template)}
    """ for flow_id, template in COSTLY.items()},
    "cost_hook.yaml": _hook_flow("cost_hook", COSTLY_HOOK_KEY, COSTLY["cost_compare"]),
    "busy_hook.yaml": _hook_flow("busy_hook", BUSY_HOOK_KEY, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
    "upload.yaml": """
        id: upload
        namespace: sec.api
        inputs:
          - id: f
            type: FILE
        tasks:
          - id: keep
            type: return
            format: "{{ inputs.f }}"
    """,
}


@dataclass
class Server:
    url: str
    host: str
    port: int
    home: Path
    process: subprocess.Popen[bytes]

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
                auth: bool = True, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        """Send ``path`` exactly as given (no normalisation); return (status, headers, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if auth:
                hdrs["Authorization"] = basic(USER, PASSWORD)
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lanner() -> list[str]:
    exe = Path(sys.executable).parent / "lanner"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("secserver")
    flows = base / "flows"
    flows.mkdir()
    for name, text in FLOWS.items():
        (flows / name).write_text(dedent(text))
    home = base / "home"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANNER_", "SECRET_"))}
    env.update({
        "LANNER_HOME": str(home),
        "LANNER_AUTH_USERS": f"{USER}:{PASSWORD}",
        "LANNER_MAX_BODY": str(MAX_BODY),
        "LANNER_WEBHOOK_RATE": str(WEBHOOK_RATE),
        "LANNER_ALLOWED_HOSTS": ALLOWED_HOST,
        "LANNER_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "SECRET_TOKEN": base64.b64encode(SECRET.encode()).decode(),
    })
    log = open(base / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [*_lanner(), "server", "local", "--host", "127.0.0.1", "--port", str(port), "--flows", str(flows),
         "--no-watch", "--workers", "8"],
        cwd=base, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    srv = Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, home, proc)
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            log.close()
            pytest.fail(f"the server exited with {proc.returncode}:\n{(base / 'server.log').read_text()[-3000:]}")
        try:
            if srv.request("GET", "/health", auth=False, timeout=2)[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the server did not answer /health within 90 s")
        time.sleep(0.2)
    yield srv
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()


def server_log(srv: Server) -> str:
    return (srv.home.parent / "server.log").read_text(errors="replace")


def json_body(raw: bytes) -> Any:
    import json

    return json.loads(raw.decode())
