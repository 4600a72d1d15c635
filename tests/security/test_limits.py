"""Oversized requests and hostile YAML are refused fast: 413 for bodies, 422 for documents, < 1 s."""

from __future__ import annotations

import http.client
import time

import pytest

from engine.model.yaml_loader import MAX_ALIAS_NODES, YamlError, load_any_yaml
from tests.security.conftest import MAX_BODY, PASSWORD, USER, Server, basic, json_body

YAML = {"Content-Type": "application/x-yaml"}

BILLION_LAUGHS = """
id: lol
namespace: sec.limits
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
tasks:
  - id: t
    type: log
    message: *i
"""

DEEP = "id: deep\nnamespace: sec.limits\ntasks: " + "[" * 50_000 + "]" * 50_000 + "\n"
DEEP_BLOCK = "id: deep\nnamespace: sec.limits\nx:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 400)) + "tasks: []\n"
WIDE_ALIASES = "id: wide\nnamespace: sec.limits\nbase: &x [" + ",".join(["1"] * 2000) + "]\nmore: [" + ",".join(["*x"] * 500) + "]\n"


def _timed(server: Server, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, float]:
    start = time.perf_counter()
    status, _, raw = server.request(method, path, body=body, headers=headers)
    return status, raw, time.perf_counter() - start


@pytest.mark.parametrize("name, document", [
    ("billion laughs", BILLION_LAUGHS), ("deep flow nesting", DEEP), ("deep block nesting", DEEP_BLOCK),
    ("alias expansion", WIDE_ALIASES),
])
def test_hostile_yaml_is_refused_with_422_in_under_a_second(server: Server, name: str, document: str):
    for path in ("/api/v1/flows", "/api/v1/flows/validate"):
        status, raw, took = _timed(server, "POST", path, document.encode(), YAML)
        assert took < 1.0, f"{name} on {path} took {took:.2f} s"
        if path.endswith("validate"):
            if status == 200:  # validate answers 200 with the errors listed per document
                assert "errors" in raw.decode() and ("alias" in raw.decode() or "nested deeper" in raw.decode()), raw[:300]
                continue
        assert status == 422, (name, path, status, raw[:300])
        message = json_body(raw)["message"]
        assert "alias" in message or "nested deeper" in message, message
    # Nothing was stored.
    status, _, raw = server.request("GET", "/api/v1/flows/search?namespace=sec.limits")
    assert status == 200 and json_body(raw).get("total", 0) == 0, raw[:300]


def test_the_yaml_limits_in_the_loader():
    for document, words in ((BILLION_LAUGHS, "aliases"), (DEEP, "nested deeper"), (WIDE_ALIASES, f"{MAX_ALIAS_NODES:,}")):
        start = time.thread_time()  # CPU time: a busy CI machine stretches wall time, not this
        with pytest.raises(YamlError, match=words):
            load_any_yaml(document)
        assert time.thread_time() - start < 1.0
    with pytest.raises(YamlError, match="more than the limit"):
        load_any_yaml("x: " + "a" * 2_100_000)


def test_a_body_over_the_limit_is_refused_with_413(server: Server):
    big = b"x" * (MAX_BODY + 1)
    for path in ("/api/v1/flows", "/api/v1/executions/sec.api/echo", "/api/v1/namespaces/sec.api/files?path=big.bin",
                 "/api/v1/executions/webhook/sec.api/hook/any-key-at-all-0123456789"):
        status, raw, took = _timed(server, "POST" if "files" not in path else "PUT", path, big, YAML)
        assert status == 413, (path, status, raw[:200])
        assert "LANNER_MAX_BODY" in json_body(raw)["message"]
        assert took < 1.0


def test_a_streamed_body_over_the_limit_is_refused_without_reading_it_all(server: Server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    chunk = b"y" * 65536
    sent = 0
    try:
        conn.putrequest("POST", "/api/v1/flows")
        conn.putheader("Authorization", basic(USER, PASSWORD))
        conn.putheader("Content-Type", "application/x-yaml")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        start = time.perf_counter()
        try:
            while sent < 8 * MAX_BODY:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: that is the point
        resp = conn.getresponse()
        body = resp.read()
        took = time.perf_counter() - start
    finally:
        conn.close()
    assert resp.status == 413, (resp.status, body[:200])
    assert took < 2.0


def test_a_body_under_the_limit_is_accepted(server: Server):
    flow = b"id: fine\nnamespace: sec.small\ntasks:\n  - id: t\n    type: log\n    message: hi\n"
    status, raw, _ = _timed(server, "POST", "/api/v1/flows/validate", flow, YAML)
    assert status == 200, raw[:300]
