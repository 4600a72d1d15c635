"""Playwright fixtures: Debian chromium, a Panel server on 127.0.0.1, and a page that must stay local.

``page`` records every request (HTTP and websocket) and every console error; at
teardown it asserts that nothing left 127.0.0.1 and that the console stayed clean.
Requests to other hosts are also aborted so that a regression cannot reach the
network even once.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

LOCAL_HOST = "127.0.0.1"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
_LOCAL_SCHEMES = {"data", "blob", "about"}
# Where the browser tests save their pictures: `make screenshots` points this at docs/screenshots; a plain test
# run (make test, CI) leaves the repository's pictures alone.
SCREENSHOTS = Path(os.environ.get("LANNER_SCREENSHOTS") or Path(tempfile.gettempdir()) / "lanner-screenshots")


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine: 127.0.0.1 over http(s)/ws(s), or data:/blob:/about:."""
    parsed = urlparse(url)
    if parsed.scheme in _LOCAL_SCHEMES:
        return True
    return parsed.scheme in {"http", "https", "ws", "wss"} and parsed.hostname == LOCAL_HOST


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL_HOST, 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05,
               why: Callable[[], str] | None = None) -> Any:
    """Poll ``predicate`` until it returns a truthy value; fail the test with a clear message otherwise
    (``why()``, when given, says what the page shows instead)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s" + (f": {why()}" if why is not None else ""))
        time.sleep(interval)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; waits a little in case it is still being installed, skips if absent."""
    deadline = time.monotonic() + 60
    while (path := shutil.which("chromium")) is None and time.monotonic() < deadline:
        time.sleep(2)
    if path is None:
        pytest.fail("chromium is not installed: run `make browser-deps` (make test does it)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """One chromium per test module.

    Module scope on purpose: Playwright's sync API refuses to start while another
    instance is running, and other modules start their own.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def panel_server() -> Iterator[Callable[[Callable[[], Any]], str]]:
    """Factory: serve a Panel app function on a free 127.0.0.1 port and return its URL."""
    import panel as pn

    servers: list[Any] = []

    def serve(app: Callable[[], Any]) -> str:
        port = free_port()
        server = pn.serve({"/": app}, port=port, address=LOCAL_HOST, show=False, threaded=True, start=True,
                          verbose=False)
        servers.append(server)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection((LOCAL_HOST, port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return f"http://{LOCAL_HOST}:{port}/"

    yield serve
    for server in servers:
        server.stop()


def uncaught(url: str, exc: Any) -> str:
    """An uncaught browser error as the test failure shows it: the message, the page it happened on and the top
    of its stack (a BokehJS error names only its minified function otherwise)."""
    stack = [line.strip() for line in (getattr(exc, "stack", "") or "").splitlines()[1:4]]
    where = url.split("/ui/", 1)[-1] if "/ui/" in url else url
    return f"uncaught: {exc} (on {where}; {' / '.join(stack)})" if stack else f"uncaught: {exc} (on {where})"


@pytest.fixture
def page(browser: Any, panel_server: Any) -> Iterator[Any]:
    """A fresh page; fails at teardown on any non-local request or console error.

    It depends on ``panel_server`` so that servers outlive the page (no close-time errors).
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    external: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        if is_local(r.request.url):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.on("request", lambda req: None if is_local(req.url) else external.append(req.url))
    pg.on("websocket", lambda ws: None if is_local(ws.url) else external.append(ws.url))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(uncaught(pg.url, exc)))
    yield pg
    context.close()
    assert not external, f"the page made requests that left {LOCAL_HOST}: {sorted(set(external))}"
    assert not errors, f"the browser console reported errors: {errors}"


# The real server for the builder page tests, shared by every module of this directory (one start per session).
from tests.browser.conftest_pages import builder_server  # noqa: E402, F401
