"""A webhook receiver on 127.0.0.1 that records every request, and a runner whose HTTP guard lets it through."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


class Receiver:
    """What the webhook server saw, and how it answers (status and body per path, default 200 'ok')."""

    def __init__(self, base: str):
        self.base = base
        self.requests: list[dict[str, Any]] = []
        self.answers: dict[str, tuple[int, str]] = {}
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return self.base + path

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if r["path"] == path]

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r["path"] == path)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            rec = state["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
            path = self.path.split("?", 1)[0]
            with rec.lock:
                rec.requests.append({"path": path, "query": self.path.partition("?")[2], "headers": dict(self.headers), "body": body})
            code, text = rec.answers.get(path, (200, "ok"))
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = Receiver(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state["r"]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard's allow-list opens 127.0.0.1 (the receiver) for this test only."""
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "127.0.0.1")


@pytest.fixture
def notify_runner(tmp_path: Path, allow_local: None) -> Iterator[Any]:
    from engine.runtime.local import LocalRunner

    runner = LocalRunner(tmp_path / "home", workers=4)
    runner.public_url = "https://lanner.example.test"
    yield runner
    runner.close()

