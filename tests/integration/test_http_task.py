"""The http and http_download tasks against a real HTTP server on 127.0.0.1, and the SSRF guard."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from engine.model import registry
from engine.model.task import TaskFailed
from engine.runtime.context import RunContext, TaskLogger
from engine.runtime.http_client import AllowList, HttpRefused, blocked_reason
from engine.runtime.http_pinned import PinnedTransport
from engine.storage import InternalStorage
from engine.tasks.http import HttpDownload, HttpRequest

NS = "tests.http"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str = "text/plain", extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "path": url.path, "headers": dict(self.headers), "body": body})
        query = parse_qs(url.query)
        if url.path == "/json":
            self._send(200, json.dumps({"hello": "world", "n": 1}).encode(), "application/json", {"X-Multi": "a"})
        elif url.path == "/text":
            self._send(200, "plain text é".encode(), "text/plain; charset=utf-8")
        elif url.path == "/echo":
            self._send(200, json.dumps({
                "method": self.command,
                "contentType": self.headers.get("Content-Type"),
                "auth": self.headers.get("Authorization"),
                "custom": self.headers.get("X-Custom"),
                "body": body.decode("utf-8", "replace"),
            }).encode(), "application/json")
        elif url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[-1])
            self._send(code, json.dumps({"error": code}).encode(), "application/json")
        elif url.path == "/slow":
            time.sleep(float(query.get("s", ["5"])[0]))
            self._send(200, b"late")
        elif url.path == "/redirect":
            self.send_response(int(query.get("code", ["302"])[0]))
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/files/report":
            data = b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000))
            self._send(200, data, "text/csv", {"Content-Disposition": 'attachment; filename="../../report.csv"'})
        elif url.path == "/files/empty":
            self._send(200, b"")
        else:
            self._send(404, b"no such path")

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up on /slow (timeouts, kills) are expected here


@pytest.fixture
def server() -> Iterator[str]:
    Handler.seen = []
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "127.0.0.1")


class Harness:
    def __init__(self, tmp_path: Path, timeout: float | None = None, extra: dict[str, Any] | None = None):
        registry.finalize()
        self.storage = InternalStorage(tmp_path / "storage")
        self.logs: list[tuple[str, str]] = []
        self.ctx = RunContext(
            execution_id="ex1", namespace=NS, flow_id="flow", task_id="req", task_run_id="tr1", attempt=0,
            variables={}, logger=TaskLogger(lambda lv, m: self.logs.append((lv, m))), timeout=timeout,
            extra={"storage": self.storage, **(extra or {})},
        )
        self.ctx.put_file = lambda path, name: self.storage.put_task_file(NS, "flow", "ex1", "req", "tr1", path, name)

    def request(self, **props: Any) -> dict[str, Any]:
        return HttpRequest.model_validate({"id": "req", "type": "http", **props}).run(self.ctx).outputs

    def download(self, **props: Any) -> dict[str, Any]:
        return HttpDownload.model_validate({"id": "req", "type": "http_download", **props}).run(self.ctx).outputs


# --- requests -----------------------------------------------------------------------------------


def test_json_answer_is_parsed(tmp_path: Path, server: str, allow_local: None) -> None:
    out = Harness(tmp_path).request(uri=f"{server}/json")
    assert out["code"] == 200
    assert out["body"] == {"hello": "world", "n": 1}
    assert out["headers"]["content-type"] == ["application/json"]
    assert out["headers"]["x-multi"] == ["a"]
    assert out["uri"] == f"{server}/json"


def test_text_answer_stays_text(tmp_path: Path, server: str, allow_local: None) -> None:
    assert Harness(tmp_path).request(uri=f"{server}/text")["body"] == "plain text é"


def test_kestra_type_names_resolve_to_the_task() -> None:
    registry.finalize()
    for name in ("http", "io.kestra.plugin.core.http.Request", "io.kestra.plugin.fs.http.Request",
                 "io.kestra.core.tasks.http.Request"):
        assert registry.task_class(name) is HttpRequest
    assert registry.task_class("io.kestra.plugin.core.http.Download") is HttpDownload


def test_map_body_is_sent_as_json_with_headers_and_basic_auth(tmp_path: Path, server: str, allow_local: None) -> None:
    out = Harness(tmp_path).request(
        uri=f"{server}/echo", method="POST", body={"a": [1, 2], "b": None}, headers={"X-Custom": "yes"},
        options={"basicAuthUser": "ann", "basicAuthPassword": "pw"},
    )["body"]
    assert out["method"] == "POST"
    assert out["contentType"] == "application/json"
    assert json.loads(out["body"]) == {"a": [1, 2], "b": None}
    assert out["custom"] == "yes"
    assert out["auth"] == "Basic YW5uOnB3"


def test_string_body_with_content_type(tmp_path: Path, server: str, allow_local: None) -> None:
    out = Harness(tmp_path).request(uri=f"{server}/echo", method="PUT", body="raw <xml/>", contentType="application/xml")
    assert out["body"]["contentType"] == "application/xml" and out["body"]["body"] == "raw <xml/>"


def test_form_data_is_url_encoded(tmp_path: Path, server: str, allow_local: None) -> None:
    out = Harness(tmp_path).request(uri=f"{server}/echo", method="POST", formData={"name": "a b", "n": 3})["body"]
    assert out["contentType"] == "application/x-www-form-urlencoded"
    assert parse_qs(out["body"]) == {"name": ["a b"], "n": ["3"]}


def test_multipart_form_sends_a_stored_file(tmp_path: Path, server: str, allow_local: None) -> None:
    h = Harness(tmp_path)
    src = tmp_path / "upload.csv"
    src.write_text("x,y\n1,2\n")
    uri = h.storage.put_input_file(NS, "flow", "ex1", "file", src)
    out = h.request(uri=f"{server}/echo", method="POST", contentType="multipart/form-data",
                    formData={"title": "t", "file": uri})["body"]
    assert out["contentType"].startswith("multipart/form-data; boundary=")
    assert 'filename="upload.csv"' in out["body"] and "x,y\n1,2" in out["body"] and 'name="title"' in out["body"]


def test_error_status_fails_unless_allowed(tmp_path: Path, server: str, allow_local: None) -> None:
    h = Harness(tmp_path)
    with pytest.raises(TaskFailed, match="failed with HTTP 404") as err:
        h.request(uri=f"{server}/status/404")
    assert err.value.outputs["code"] == 404
    with pytest.raises(TaskFailed, match="HTTP 500"):
        h.request(uri=f"{server}/status/500")
    out = h.request(uri=f"{server}/status/503", allowFailed=True)
    assert out["code"] == 503 and out["body"] == {"error": 503}


def test_task_timeout_fails_in_time(tmp_path: Path, server: str, allow_local: None) -> None:
    h = Harness(tmp_path, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(TaskFailed, match="Timed out after PT1S"):
        h.request(uri=f"{server}/slow?s=5")
    assert time.monotonic() - started < 4, "failed at the task's timeout, not when the 5 s answer came"


def test_read_timeout_option(tmp_path: Path, server: str, allow_local: None) -> None:
    started = time.monotonic()
    with pytest.raises(TaskFailed, match="timed out"):
        Harness(tmp_path).request(uri=f"{server}/slow?s=5", options={"readTimeout": "PT0.5S"})
    assert time.monotonic() - started < 4, "failed at the read timeout, not when the 5 s answer came"


def test_kill_answers_at_once(tmp_path: Path, server: str, allow_local: None) -> None:
    h = Harness(tmp_path)
    threading.Timer(0.3, h.ctx.kill_event.set).start()
    started = time.monotonic()
    with pytest.raises(TaskFailed, match="Killed"):
        h.request(uri=f"{server}/slow?s=5")
    assert time.monotonic() - started < 4, "killed when asked, not when the 5 s answer came"


def test_redirects_are_followed_and_each_hop_checked(tmp_path: Path, server: str, allow_local: None) -> None:
    h = Harness(tmp_path)
    out = h.request(uri=f"{server}/redirect?to=/json")
    assert out["code"] == 200 and out["body"]["hello"] == "world" and out["uri"] == f"{server}/json"
    # 307 keeps the method and the body
    echoed = h.request(uri=f"{server}/redirect?code=307&to=/echo", method="POST", body={"k": 1})["body"]
    assert echoed["method"] == "POST" and json.loads(echoed["body"]) == {"k": 1}
    for target in ("http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/", "http://10.1.2.3/"):
        before = len(Handler.seen)
        with pytest.raises(HttpRefused, match="Refused to connect"):
            h.request(uri=f"{server}/redirect?to={target}")
        assert len(Handler.seen) == before + 1  # only the redirecting request reached a server
    with pytest.raises(TaskFailed, match="Too many redirects"):
        h.request(uri=f"{server}/loop")
    not_followed = h.request(uri=f"{server}/redirect?to=/json", options={"followRedirects": False})
    assert not_followed["code"] == 302 and not_followed["headers"]["location"] == ["/json"]


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://localhost:{port}/json",
        "http://127.0.0.1:{port}/json",
        "http://127.1:{port}/json",
        "http://2130706433:{port}/json",
        "http://[::1]:{port}/json",
        "http://0.0.0.0:{port}/json",
        "http://10.0.0.8/",
        "http://192.168.1.1/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://224.0.0.1/",
    ],
)
def test_private_destinations_are_refused_by_default(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    monkeypatch.delenv("LANNER_HTTP_ALLOW", raising=False)
    port = server.rsplit(":", 1)[-1]
    started = time.monotonic()
    with pytest.raises(HttpRefused, match="LANNER_HTTP_ALLOW") as err:
        Harness(tmp_path).request(uri=target.format(port=port))
    assert "address" in err.value.message
    assert Handler.seen == []
    assert time.monotonic() - started < 5, "refused before any connection was tried"


def test_allow_list_from_the_runner(tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANNER_HTTP_ALLOW", raising=False)
    assert Harness(tmp_path, extra={"http_allow": ["127.0.0.0/8"]}).request(uri=f"{server}/json")["code"] == 200
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "localhost")
    port = server.rsplit(":", 1)[-1]
    assert Harness(tmp_path).request(uri=f"http://localhost:{port}/json")["code"] == 200


def test_connections_go_to_the_checked_address_not_a_new_dns_answer(server: str) -> None:
    # "rebinding.invalid" cannot resolve: reaching the server proves the pinned IP was used,
    # while the Host header still names the host from the URL.
    port = server.rsplit(":", 1)[-1]
    with httpx.Client(transport=PinnedTransport("rebinding.invalid", "127.0.0.1", None), trust_env=False) as client:
        response = client.get(f"http://rebinding.invalid:{port}/json")
        assert response.json() == {"hello": "world", "n": 1}
        assert Handler.seen[-1]["headers"]["Host"] == f"rebinding.invalid:{port}"
        with pytest.raises(httpx.ConnectError, match="not checked"):
            client.get(f"http://other.invalid:{port}/json")


def test_non_http_urls_are_refused(tmp_path: Path) -> None:
    for uri in ("file:///etc/passwd", "ftp://example.com/x", "not a url", "http://"):
        with pytest.raises(TaskFailed, match="http:// or https://|not a valid URL"):
            Harness(tmp_path).request(uri=uri)


def test_blocked_reason_and_allow_list() -> None:
    ip = ipaddress.ip_address
    assert blocked_reason(ip("8.8.8.8")) is None
    assert blocked_reason(ip("2606:4700:4700::1111")) is None
    assert "link-local" in blocked_reason(ip("169.254.169.254"))
    assert "embedded in IPv6" in blocked_reason(ip("::ffff:169.254.169.254"))
    assert "embedded in IPv6" in blocked_reason(ip("2002:a9fe:a9fe::1"))  # 6to4
    assert blocked_reason(ip("100.64.0.1"))  # shared address space
    allow = AllowList.parse(["10.0.0.0/8", "*.corp.example", "api.local", " "])
    assert allow.ip_allowed(ip("10.2.3.4")) and allow.ip_allowed(ip("::ffff:10.2.3.4"))
    assert not allow.ip_allowed(ip("11.0.0.1"))
    assert allow.host_allowed("svc.corp.example") and allow.host_allowed("API.local.")
    assert not allow.host_allowed("corp.example.evil")


# --- downloads ----------------------------------------------------------------------------------


def test_download_is_stored_through_put_file(tmp_path: Path, server: str, allow_local: None) -> None:
    h = Harness(tmp_path)
    out = h.download(uri=f"{server}/files/report")
    assert out["code"] == 200
    assert out["uri"].endswith("/report.csv")  # the server's '../../' is dropped
    data = h.storage.read_bytes(out["uri"], namespace=NS)
    assert out["length"] == len(data) > 10000
    assert data.startswith(b"id,value\n0,0\n1,1\n") and data.endswith(b"1999,3996001\n")
    named = h.download(uri=f"{server}/files/report", fileName="squares.csv")
    assert named["uri"].endswith("/squares.csv")


def test_download_failures(tmp_path: Path, server: str, allow_local: None) -> None:
    h = Harness(tmp_path)
    with pytest.raises(TaskFailed, match="empty body"):
        h.download(uri=f"{server}/files/empty")
    assert h.download(uri=f"{server}/files/empty", failOnEmptyResponse=False)["length"] == 0
    with pytest.raises(TaskFailed, match="HTTP 404"):
        h.download(uri=f"{server}/nothing")
    with pytest.raises(TaskFailed, match="maxContentLength"):
        h.download(uri=f"{server}/files/report", options={"maxContentLength": 100})
    with pytest.raises(HttpRefused):
        h.download(uri=f"{server}/redirect?to=http://169.254.169.254/")
