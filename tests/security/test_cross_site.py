"""A web page the user opens cannot use the server through the browser (issue 19, item 3).

Against the shared server (auth on, so each request carries the credentials a
browser would attach by itself):

* content types: a flow sent as ``text/plain``, inputs as a URL-encoded form,
  multipart where no file is uploaded: 415, nothing created or started;
* a foreign ``Origin`` (or ``Referer``, ``Origin: null``,
  ``Sec-Fetch-Site: cross-site``) on POST/PUT/DELETE: 403, nothing changed;
  the server's own origins (same host and port, loopback aliases, the
  configured name) are accepted;
* a ``Host`` the server does not answer to (DNS rebinding): 403 on the API,
  the UI pages and the UI's websocket; the configured name and the loopback
  names are answered;
* the UI's websocket (a real Bokeh session) opens from the server's own
  origin and is refused from another site's;
* webhooks stay callable from anywhere, with any body.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
from textwrap import dedent

import pytest

from tests.security.conftest import ALLOWED_HOST, PASSWORD, USER, WEBHOOK_KEY, Server, basic, json_body

YAML = {"Content-Type": "application/x-yaml"}
JSON = {"Content-Type": "application/json"}


def _flow(flow_id: str) -> bytes:
    return dedent(f"""
        id: {flow_id}
        namespace: sec.csrf
        tasks:
          - id: shell
            type: log
            message: would run a shell task
    """).encode()


def _exists(server: Server, flow_id: str) -> bool:
    status, _, _ = server.request("GET", f"/api/v1/flows/sec.csrf/{flow_id}")
    return status == 200


def _executions(server: Server, flow_id: str) -> int:
    status, _, raw = server.request("GET", f"/api/v1/executions/search?namespace=sec.api&flowId={flow_id}&size=500")
    assert status == 200, raw[:200]
    return int(json_body(raw)["total"])


def _multipart(fields: dict[str, tuple[str | None, bytes]]) -> tuple[bytes, dict[str, str]]:
    boundary = "lanner-test-boundary-7c1f"
    parts = []
    for name, (filename, content) in fields.items():
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


# --- content types -------------------------------------------------------------------------------------


def test_a_flow_sent_as_text_plain_is_refused_even_from_the_same_origin(server: Server):
    for path in ("/api/v1/flows", "/api/v1/flows/validate"):
        status, _, raw = server.request("POST", path, body=_flow("plain"), headers={"Content-Type": "text/plain"})
        assert status == 415, (path, status, raw[:200])
        assert "application/x-yaml" in json_body(raw)["message"]
    status, _, raw = server.request("PUT", "/api/v1/flows/sec.csrf/plain", body=_flow("plain"), headers={"Content-Type": "text/plain"})
    assert status == 415, raw[:200]
    assert not _exists(server, "plain")
    # The real types are accepted.
    status, _, raw = server.request("POST", "/api/v1/flows", body=_flow("typed"), headers=YAML)
    assert status == 200, raw[:300]
    status, _, raw = server.request("POST", "/api/v1/flows/validate", body=json.dumps(
        {"id": "j", "namespace": "sec.csrf", "tasks": [{"id": "a", "type": "log", "message": "x"}]}).encode(), headers=JSON)
    assert status == 200 and json_body(raw)[0]["valid"], raw[:300]


def test_inputs_as_a_url_encoded_form_or_text_are_refused(server: Server):
    before = _executions(server, "echo")
    for ctype, body in (("application/x-www-form-urlencoded", b"x=hello"), ("text/plain", b'{"x": "hello"}')):
        status, _, raw = server.request("POST", "/api/v1/executions/sec.api/echo", body=body, headers={"Content-Type": ctype})
        assert status == 415, (ctype, status, raw[:200])
    assert _executions(server, "echo") == before
    status, _, raw = server.request("POST", "/api/v1/executions/sec.api/echo", body=b'{"x": "hello"}', headers=JSON)
    assert status == 200, raw[:300]


def test_multipart_is_taken_only_where_files_are_uploaded(server: Server):
    body, headers = _multipart({"x": (None, b"hello")})
    status, _, raw = server.request("POST", "/api/v1/flows", body=body, headers=headers)
    assert status == 415, raw[:200]
    status, _, raw = server.request("POST", "/api/v1/executions/nonexistent0000000000/kill", body=body, headers=headers)
    assert status == 415, raw[:200]
    # Starting an execution with a file: accepted.
    body, headers = _multipart({"f": ("data.csv", b"a,b\n1,2\n")})
    status, _, raw = server.request("POST", "/api/v1/executions/sec.api/upload?wait=true", body=body, headers=headers)
    assert status == 200, raw[:300]
    assert json_body(raw)["state"] == "SUCCESS"


# --- Origin ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},  # this machine, another port: another site
    {"Referer": "http://evil.example/page.html"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:1"},
], ids=["origin", "null-origin", "other-port", "referer", "sec-fetch-cross", "sec-fetch-same-site"])
def test_a_foreign_origin_cannot_change_anything(server: Server, headers: dict[str, str]):
    name = "foreign" + re.sub(r"\W", "", json.dumps(headers))[-12:].lower()
    status, _, raw = server.request("POST", "/api/v1/flows", body=_flow(name), headers={**YAML, **headers})
    assert status == 403, (headers, status, raw[:200])
    assert "cross-site" in json_body(raw)["message"]
    assert not _exists(server, name)
    before = _executions(server, "echo")
    status, _, raw = server.request("POST", "/api/v1/executions/sec.api/echo", body=b'{"x": "y"}', headers={**JSON, **headers})
    assert status == 403, raw[:200]
    assert _executions(server, "echo") == before
    # PUT and DELETE of an existing flow are refused too, and it is left as it was.
    assert server.request("POST", "/api/v1/flows", body=_flow("victim"), headers=YAML)[0] in (200, 409)
    assert server.request("PUT", "/api/v1/flows/sec.csrf/victim", body=_flow("victim"), headers={**YAML, **headers})[0] == 403
    assert server.request("DELETE", "/api/v1/flows/sec.csrf/victim", headers=headers)[0] == 403
    assert _exists(server, "victim")


@pytest.mark.parametrize("origin", ["same", "localhost", "configured"])
def test_the_servers_own_origins_are_accepted(server: Server, origin: str):
    value = {"same": f"http://127.0.0.1:{server.port}", "localhost": f"http://localhost:{server.port}",
             "configured": f"https://{ALLOWED_HOST}"}[origin]
    headers = {**YAML, "Origin": value, **({"Sec-Fetch-Site": "same-origin"} if origin == "same" else {})}
    status, _, raw = server.request("POST", "/api/v1/flows/validate", body=_flow("own"), headers=headers)
    assert status == 200, (value, status, raw[:200])


def test_webhooks_stay_callable_from_any_site_with_any_body(server: Server):
    status, _, raw = server.request("POST", f"/api/v1/executions/webhook/sec.api/hook/{WEBHOOK_KEY}", body=b"hello",
                                    headers={"Content-Type": "text/plain", "Origin": "http://evil.example",
                                             "Sec-Fetch-Site": "cross-site"}, auth=False)
    assert status == 200, raw[:300]


# --- Host (DNS rebinding) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/flows/search", "/ui/flows", "/api/v1/openapi.json", "/health"])
def test_a_host_name_the_server_does_not_answer_to_is_refused(server: Server, path: str):
    for host in ("evil.example", f"evil.example:{server.port}", f"127.0.0.1.evil.example:{server.port}", "localhost.evil"):
        status, _, raw = server.request("GET", path, headers={"Host": host})
        assert status == 403, (path, host, status, raw[:200])
        assert b"allowed-hosts" in raw
    answered = [f"127.0.0.1:{server.port}", f"localhost:{server.port}", ALLOWED_HOST, f"{ALLOWED_HOST.upper()}.:{server.port}"]
    if not path.startswith("/ui"):  # Panel itself cannot parse an IPv6 Host (panel.io.location), whatever we allow
        answered.append(f"[::1]:{server.port}")
    for host in answered:
        status, _, raw = server.request("GET", path, headers={"Host": host})
        assert status == 200, (path, host, status, raw[:200])


def _ui_token(server: Server) -> str:
    status, _, raw = server.request("GET", "/ui/flows")
    assert status == 200, raw[:200]
    match = re.search(rb'"token":"([^"]+)"', raw)
    assert match, "the UI page carries no Bokeh session token"
    return match.group(1).decode()


def _websocket_status(server: Server, token: str, host: str, origin: str) -> int:
    """Open the UI's websocket with a hand-written handshake (any Host, any Origin); return the HTTP status."""
    request = (
        "GET /ui/flows/ws HTTP/1.1\r\n"
        f"Host: {host}\r\nOrigin: {origin}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        f"Sec-WebSocket-Protocol: bokeh, {token}\r\n"
        f"Authorization: {basic(USER, PASSWORD)}\r\n\r\n"
    )
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(request.encode())
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


def test_the_ui_websocket_opens_from_its_own_pages_only(server: Server):
    token = _ui_token(server)
    own = f"127.0.0.1:{server.port}"
    assert _websocket_status(server, token, own, f"http://{own}") == 101
    assert _websocket_status(server, token, own, "http://evil.example") == 403
    # A rebinding page: its own name as Host and as Origin (same-origin to the browser).
    evil = f"evil.example:{server.port}"
    assert _websocket_status(server, token, evil, f"http://{evil}") == 403


# --- the policy and its settings (no server) -----------------------------------------------------------------


def test_allowed_hosts_come_from_a_flag_the_environment_or_lanner_yaml(tmp_path):
    from engine.server.config import ConfigError, load_config

    (tmp_path / "lanner.yaml").write_text("server:\n  allowedHosts: [lanner.example.com, '*.corp.example']\n  headerTimeout: 4\n")
    cfg = load_config({}, environ={}, cwd=tmp_path)
    assert cfg.allowed_hosts == ["lanner.example.com", "*.corp.example"] and cfg.header_timeout == 4
    cfg = load_config({}, environ={"LANNER_ALLOWED_HOSTS": "A.example., b.example", "LANNER_HEADER_TIMEOUT": "3"}, cwd=tmp_path)
    assert cfg.allowed_hosts == ["a.example", "b.example"] and cfg.header_timeout == 3
    assert load_config({"allowed_hosts": "*"}, environ={}, cwd=tmp_path).allowed_hosts == ["*"]
    with pytest.raises(ConfigError, match="LANNER_ALLOWED_HOSTS: allowed host 'http://x/'"):
        load_config({}, environ={"LANNER_ALLOWED_HOSTS": "http://x/"}, cwd=tmp_path)


def test_the_host_policy():
    from engine.api.request_guard import HostPolicy

    local = HostPolicy([], "127.0.0.1")
    assert all(local.answers_to(h) for h in ("localhost", "127.0.0.1", "127.0.0.2", "::1"))
    assert not any(local.answers_to(h) for h in ("evil.example", "10.0.0.5", "localhost.evil.example", "0.0.0.0"))
    wide = HostPolicy(["*.corp.example", "lanner.example.com"], "0.0.0.0")
    assert wide.answers_to("10.0.0.5") and wide.answers_to("a.corp.example") and wide.answers_to("lanner.example.com")
    assert not wide.answers_to("corp.example.evil") and not wide.answers_to("evil.example")
    assert HostPolicy(["*"]).answers_to("anything.example")
    # Origins: same host and port, a loopback alias on the same port, a configured name on any port.
    assert local.same_server("http://localhost:8080", "127.0.0.1:8080")
    assert not local.same_server("http://localhost:3000", "127.0.0.1:8080")
    assert not local.same_server("http://127.0.0.1:8080.evil.example", "127.0.0.1:8080")
    assert not local.same_server("file://", "127.0.0.1:8080") and not local.same_server("null", "127.0.0.1:8080")
    assert wide.same_server("https://lanner.example.com", "127.0.0.1:8080")
