"""Server-side request forgery through the ``http`` task of a real flow run.

A flow author may point the task anywhere; what must not happen by default is
a request to this machine, the cloud metadata service or a private network,
however the address is spelled, whatever DNS answers, and after any redirect.
``LANNER_HTTP_ALLOW`` opens destinations on purpose (these tests use it to
reach their own server on 127.0.0.1).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from textwrap import dedent
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest


class _Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        _Handler.hits.append(self.path)
        url = urlparse(self.path)
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(url.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _call(runner: Any, uri: str, flow_id: str = "call") -> tuple[str, str, dict[str, Any]]:
    """Run a one-task flow calling ``uri``; return (state, failure message, outputs)."""
    summary = runner.run(dedent(f"""
        id: {flow_id}
        namespace: sec.http
        tasks:
          - id: req
            type: http
            uri: {json.dumps(uri)}
            options:
              connectTimeout: PT2S
              readTimeout: PT2S
    """), timeout=30)
    (tr,) = summary["taskRuns"]
    return tr["state"], tr["attempts"][-1].get("message", ""), tr["outputs"] or {}


def test_the_allow_list_opens_the_local_test_server(runner, server, monkeypatch):
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "127.0.0.1")
    state, message, outputs = _call(runner, f"{server}/ok")
    assert state == "SUCCESS", message
    assert outputs["body"] == {"ok": True}
    assert _Handler.hits == ["/ok"]


def test_loopback_is_refused_by_default_and_nothing_is_sent(runner, server, monkeypatch):
    monkeypatch.delenv("LANNER_HTTP_ALLOW", raising=False)
    port = server.rsplit(":", 1)[1]
    spellings = [
        f"http://127.0.0.1:{port}/ok",
        f"http://localhost:{port}/ok",
        f"http://127.1:{port}/ok",
        f"http://2130706433:{port}/ok",  # decimal form of 127.0.0.1
        f"http://0x7f000001:{port}/ok",
        f"http://[::1]:{port}/ok",
        f"http://[::ffff:127.0.0.1]:{port}/ok",
        f"http://0.0.0.0:{port}/ok",
    ]
    for i, uri in enumerate(spellings):
        state, message, _ = _call(runner, uri, f"loop{i}")
        assert state == "FAILED", uri
        assert "Refused to connect" in message and "LANNER_HTTP_ALLOW" in message, (uri, message)
    assert _Handler.hits == []


@pytest.mark.parametrize(
    "uri, reason",
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", "link-local"),
        ("http://[::ffff:a9fe:a9fe]/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 form of the metadata address
    ],
)
def test_metadata_and_private_ranges_are_refused(runner, monkeypatch, uri, reason):
    monkeypatch.delenv("LANNER_HTTP_ALLOW", raising=False)
    state, message, _ = _call(runner, uri)
    assert state == "FAILED"
    assert "Refused to connect" in message and reason in message, message


def test_the_check_applies_to_what_dns_answers(runner, monkeypatch):
    """A public-looking name that resolves to the metadata service is refused after resolution."""
    monkeypatch.delenv("LANNER_HTTP_ALLOW", raising=False)
    real = socket.getaddrinfo
    answers = {"metadata.attacker.test": "169.254.169.254", "intranet.attacker.test": "::ffff:10.1.2.3"}

    def fake_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:  # what an attacker's DNS server would answer
            ip = answers[host]
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            addr = (ip, port or 80, 0, 0) if family == socket.AF_INET6 else (ip, port or 80)
            return [(family, socket.SOCK_STREAM, 6, "", addr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    for host, reason in (("metadata.attacker.test", "link-local"), ("intranet.attacker.test", "private")):
        state, message, _ = _call(runner, f"http://{host}/latest/meta-data/", host.split(".")[0])
        assert state == "FAILED"
        assert "Refused to connect" in message and reason in message and host in message, message


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://10.1.2.3/",
        "http://[::1]:{port}/ok",
    ],
)
def test_every_redirect_hop_is_checked(runner, server, monkeypatch, target):
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "127.0.0.1")
    target = target.format(port=server.rsplit(":", 1)[1])
    state, message, _ = _call(runner, f"{server}/redirect?to={target}")
    assert state == "FAILED"
    assert "Refused to connect" in message, message
    assert _Handler.hits == [f"/redirect?to={target}"]


def test_the_allow_list_is_exact(runner, server, monkeypatch):
    """Opening 127.0.0.1 does not open the rest of the loopback range or other private ranges."""
    port = server.rsplit(":", 1)[1]
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "127.0.0.1")
    state, message, _ = _call(runner, f"http://127.0.0.2:{port}/ok")
    assert state == "FAILED" and "Refused" in message
    state, message, _ = _call(runner, "http://169.254.169.254/", "meta")
    assert state == "FAILED" and "Refused" in message
    assert _Handler.hits == []
