"""Fixtures of the builder page tests: the real ``lanner server local`` on a free 127.0.0.1 port.

One server subprocess per test session (the same command users run: REST API,
scheduler, workers and the builder mounted at ``/ui`` by ``builder.app.mount``,
served by uvicorn), with its own home and flows directory under pytest's tmp
dir. Tests arrange data through the server's REST API, like any other client,
and check what the pages show in the browser. ``tests/browser/conftest.py``
imports ``builder_server`` so that every module shares the one session server:
executions made by one test are visible to the next (the dashboard test after
the journey relies on it).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from engine.model.state import TERMINAL
from tests.browser.conftest import LOCAL_HOST, SCREENSHOTS, free_port

#: A secret the server knows (name, value): pages may show its name, never its value.
BROWSER_SECRET = ("BROWSER_TOKEN", "browser-secret-value-7f3a")


@dataclass
class BuilderServer:
    """A running server: page URLs for the browser and a REST client for arranging and checking."""

    base: str              # http://127.0.0.1:<port>
    client: Any            # httpx.Client on base
    root: Path             # the server's working directory (home, flows, log)
    log_path: Path

    @property
    def url(self) -> str:
        return f"{self.base}/ui"

    def page_url(self, page: str, **query: str) -> str:
        return f"{self.url}/{page}" + (f"?{urlencode(query)}" if query else "")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # --- REST helpers -----------------------------------------------------------------------------

    def deploy(self, source: str) -> dict[str, Any]:
        """Create the flow, or save a new revision of it when it exists."""
        headers = {"Content-Type": "application/x-yaml"}
        r = self.client.post("/api/v1/flows", content=source, headers=headers)
        if r.status_code == 409:
            import yaml

            data = yaml.safe_load(source)
            r = self.client.put(f"/api/v1/flows/{data['namespace']}/{data['id']}", content=source, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    def flow_source(self, namespace: str, flow_id: str) -> str | None:
        r = self.client.get(f"/api/v1/flows/{namespace}/{flow_id}", params={"source": "true"})
        return r.json()["source"] if r.status_code == 200 else None

    def revisions(self, namespace: str, flow_id: str) -> list[int]:
        r = self.client.get(f"/api/v1/flows/{namespace}/{flow_id}/revisions")
        assert r.status_code == 200, r.text
        return sorted(f["revision"] for f in r.json())

    def start(self, namespace: str, flow_id: str, inputs: dict[str, Any] | None = None) -> str:
        r = self.client.post(f"/api/v1/executions/{namespace}/{flow_id}", json=inputs or {})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def execution(self, execution_id: str) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/executions/{execution_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def executions(self, namespace: str, flow_id: str | None = None) -> list[dict[str, Any]]:
        params = {"namespace": namespace, "size": 100, **({"flowId": flow_id} if flow_id else {})}
        r = self.client.get("/api/v1/executions/search", params=params)
        assert r.status_code == 200, r.text
        return r.json()["results"]

    def wait(self, execution_id: str, states: set[str] | None = None, timeout: float = 30) -> dict[str, Any]:
        """Poll the execution until its state is in ``states`` (default: any end state)."""
        wanted = states or TERMINAL
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.execution(execution_id)
            if body["state"] in wanted:
                return body
            time.sleep(0.1)
        raise AssertionError(f"execution {execution_id} never reached {sorted(wanted)}; last: {body.get('state')}")


def _lanner() -> list[str]:
    exe = Path(sys.executable).parent / "lanner"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]


@pytest.fixture(scope="session")
def builder_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuilderServer]:
    """``lanner server local --port <free> --home <tmp> --flows <tmp>`` with the UI, until the session ends."""
    import httpx

    root = tmp_path_factory.mktemp("lanner-server")
    (root / "flows").mkdir()
    port = free_port()
    log_path = root / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_")}
    env[f"SECRET_{BROWSER_SECRET[0]}"] = base64.b64encode(BROWSER_SECRET[1].encode()).decode()  # Namespace page
    cmd = [*_lanner(), "server", "local", "--host", LOCAL_HOST, "--port", str(port), "--home", str(root / "home"),
           "--flows", str(root / "flows"), "--workers", "4", "--grace", "2", "--ui"]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{LOCAL_HOST}:{port}"
    client = httpx.Client(base_url=base, timeout=30)
    server = BuilderServer(base, client, root, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"lanner server exited with {proc.returncode}:\n{server.log()}")
            try:
                if client.get("/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"lanner server did not answer /health in time:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def screenshot(page: Any, name: str) -> None:
    """Save a viewport screenshot for the docs (<LANNER_SCREENSHOTS>/<name>.png; `make screenshots`)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def fill(page: Any, selector: str, text: str) -> None:
    """Type into the text box inside the widget with CSS class ``selector`` and commit with Enter."""
    box = page.locator(f"{selector} input").first
    box.fill(text)
    box.press("Enter")


_IDLE = "() => !!(window.Bokeh && Bokeh.documents.length && Bokeh.documents.every(d => d.is_idle))"


def open_page(page: Any, url: str, ready: str | None = None) -> None:
    """Go to a builder page and wait until its Bokeh document is idle (session open, models rendered)."""
    from tests.browser.conftest import wait_until

    page.goto(url)
    if ready:
        page.locator(ready).first.wait_for()
    wait_until(lambda: page.evaluate(_IDLE), timeout=30)


def wait_canvas(page: Any) -> None:
    """Wait until the canvas is drawn with its CSS (drag targets are measured on screen)."""
    from tests.browser.conftest import wait_until

    root = page.locator(".lc-root")
    root.wait_for()
    wait_until(lambda: root.evaluate("e => getComputedStyle(e).display") == "flex", timeout=30)
    wait_until(lambda: page.evaluate(_IDLE), timeout=30)


# The YAML editor (CodeMirror 6) lives in a Panel shadow root; its element carries the editor view as cmView.
CM_FIND = """
let view = null;
const walk = (root) => {
  for (const el of root.querySelectorAll('*')) {
    if (!view && el.cmView) view = el.cmView;
    if (el.shadowRoot) walk(el.shadowRoot);
  }
};
walk(document);
"""


def yaml_text(page: Any) -> str:
    """The text of the editor page's YAML editor ("" until it is rendered)."""
    return page.evaluate("() => {" + CM_FIND + " return view ? view.state.doc.toString() : ''; }")


def yaml_focus_end(page: Any) -> None:
    """Click into the YAML editor and put the cursor at the end of the text."""
    page.locator(".ln-yaml .cm-content").first.click()
    page.keyboard.press("Control+End")


def new_flow(page: Any, server: Any, namespace: str, flow_id: str) -> None:
    """Create an empty flow from the Flows page and wait for its editor's canvas."""
    open_page(page, server.page_url("flows"), ".ln-create button")
    fill(page, ".ln-new-namespace", namespace)
    fill(page, ".ln-new-id", flow_id)
    page.locator(".ln-create button").click()
    page.wait_for_url("**/ui/editor?*")
    wait_canvas(page)
