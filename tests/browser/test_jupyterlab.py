"""The tutorial notebook in a real JupyterLab, driven by headless Chromium.

JupyterLab runs on 127.0.0.1 with throw-away config, runtime, settings, workspace and
data directories; the venv's kernels and the anywidget lab extension are still found
through sys.prefix. Cells run through ``window.jupyterapp.commands``; the test then
checks that the topology widgets are in the DOM and that their tasks turned SUCCESS.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.jupyter.static import svg_from_html
from builder.topology import STATE_COLOURS
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_topology_widget_js import BROKEN_ARROWS

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
SCREENSHOT = SCREENSHOTS / "jupyter.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(settings: Path) -> None:
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
        # Start the kernel the notebook names without asking; attach every cell (no virtual scrolling).
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True, "windowingMode": "none"},
        "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {"adaptive-theme": False},
        # Saved notebooks carry their widgets' state, so they show without re-running.
        "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
    }
    for rel, content in files.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `make browser-deps` (make test does it)")
    base = tmp_path_factory.mktemp("jupyterlab")
    work = base / "work"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / "tutorial.ipynb", work / "tutorial.ipynb")
    dirs = {name: base / name for name in ("config", "runtime", "settings", "workspaces", "data")}
    for d in dirs.values():
        d.mkdir()
    write_settings(dirs["settings"])
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps({
        "LabApp": {
            "expose_app_in_browser": True,  # window.jupyterapp, to drive commands
            "news_url": None,
            "extension_manager": "readonly",
            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
        },
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "LANNER_NOTEBOOK"))}
    env.update({
        "JUPYTER_CONFIG_DIR": str(dirs["config"]), "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]), "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]), "JUPYTER_PLATFORM_DIRS": "1",
        "LANNER_HOME": str(work / ".lanner"),
    })
    port, token = free_port(), secrets.token_hex(16)
    log = (base / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited: {(base / 'lab.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not start within 90 s")
    yield {"url": url, "token": token, "work": work, "data": dirs["data"]}
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"])


def open_notebook(page, lab, name: str) -> None:
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}&reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext", timeout=90_000)
    page.wait_for_function("""() => {
        const w = window.jupyterapp.shell.currentWidget;
        const k = w.sessionContext.session && w.sessionContext.session.kernel;
        return k && k.status === 'idle';
    }""", timeout=90_000)


def test_tutorial_runs_in_jupyterlab_and_topologies_turn_green(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        open_notebook(page, lab, "tutorial.ipynb")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function("""() => {
            const w = window.jupyterapp.shell.currentWidget;
            const cells = w.content.widgets.filter((c) => c.model.type === 'code');
            const k = w.sessionContext.session.kernel;
            return cells.every((c) => c.model.executionCount !== null) && k.status === 'idle';
        }""", timeout=180_000, polling=500)

        # Every code cell ran (the run did not stop at the cell that fails on purpose).
        errors = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
            .filter((c) => c.model.type === 'code')
            .flatMap((c) => c.model.outputs.toJSON().filter((o) => o.output_type === 'error').map((o) => o.ename))""")
        assert errors == ["FlowInvalid"]

        flows = page.locator(".lanner-flow")
        assert flows.count() >= 6
        # The %flow run cell: the whole tutorial topology, finished green.
        run_widget = page.locator(".lanner-flow", has=page.locator('g.lanner-node[data-node-id="nap"][data-state="SUCCESS"]')).first
        run_widget.wait_for(timeout=30_000)
        for node_id in ("greet", "fan_out", "shout", "nap", "per_city", "postcard", "famous"):
            node = run_widget.locator(f'g.lanner-node[data-node-id="{node_id}"]')
            assert node.get_attribute("data-state") == "SUCCESS", node_id
        stroke = run_widget.locator('g.lanner-node[data-node-id="greet"] rect').first.get_attribute("stroke")
        assert stroke == STATE_COLOURS["SUCCESS"]
        assert run_widget.locator('g.lanner-node[data-node-id="per_city"] g.lanner-chip[data-state="SUCCESS"] text').first.text_content() == "3"

        # Clicking a task shows its logs below the graph.
        run_widget.locator('g.lanner-node[data-node-id="greet"] rect').first.click()
        run_widget.locator(".lanner-details").get_by_text("Hello, Ada!").wait_for(timeout=10_000)

        run_widget.scroll_into_view_if_needed()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        run_widget.screenshot(path=str(SCREENSHOT))
        assert SCREENSHOT.stat().st_size > 10_000

        # Many widgets on one page: opening one's Gantt tab leaves every other's arrowheads in place.
        assert page.locator(".lanner-flow path.lanner-edge").count() > 10
        assert page.evaluate(BROKEN_ARROWS) == []
        run_widget.locator('button.lanner-tab[data-view="gantt"]').click()
        run_widget.locator("g.lanner-gantt-row").first.wait_for(timeout=30_000)
        assert run_widget.locator('g.lanner-gantt-row[data-label="postcard [Lima]"]').count() == 1
        assert page.evaluate(BROKEN_ARROWS) == []

        # Saved after one run (with the Gantt open and every widget's state): small.
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
        saved = json.loads((lab["work"] / "tutorial.ipynb").read_text())
        assert saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        size = (lab["work"] / "tutorial.ipynb").stat().st_size
        assert size < 200_000, f"the saved tutorial is {size} bytes"
        browser.close()


def test_saved_notebook_shows_coloured_topologies_without_running(lab):
    """A saved notebook draws its executions again without re-running anything.

    Untrusted (as a notebook someone sent you): JupyterLab does not run widget code,
    and the static SVG fallback shows. Trusted: the widget comes back from the widget
    state saved in the notebook.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary
    from playwright.sync_api import sync_playwright

    nb = nbformat.read(ROOT / "notebooks" / "tutorial.ipynb", as_version=4)
    mp = pytest.MonkeyPatch()
    mp.setenv("LANNER_HOME", str(lab["work"] / ".lanner-saved"))
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(lab["work"])}}).execute()
    finally:
        mp.undo()
    nbformat.write(nb, lab["work"] / "untrusted.ipynb")
    # Trust is per content: sign a copy that differs, or the untrusted one would match it.
    nb.metadata["lanner"] = {"copy": "trusted"}
    NotebookNotary(data_dir=str(lab["data"])).sign(nb)
    nbformat.write(nb, lab["work"] / "trusted.ipynb")

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        open_notebook(page, lab, "untrusted.ipynb")
        image = page.locator('.lanner-topology-static img[alt*="tutorial, execution"]').first
        image.wait_for(timeout=30_000)
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        svg = svg_from_html(image.evaluate("img => img.outerHTML").replace("&amp;", "&"))
        assert re.search(r'data-node-id="postcard" data-kind="task" data-state="SUCCESS"', svg)
        assert page.locator(".lanner-flow").count() == 0

        open_notebook(page, lab, "trusted.ipynb")
        counts = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
            .filter((c) => c.model.type === 'code').map((c) => c.model.executionCount)""")
        assert all(c is not None for c in counts)  # as saved: nothing re-ran in this kernel
        node = page.locator('.lanner-flow g.lanner-node[data-node-id="postcard"][data-state="SUCCESS"]').first
        node.wait_for(timeout=30_000)
        assert node.locator("rect").first.get_attribute("stroke") == STATE_COLOURS["SUCCESS"]
        browser.close()


def test_flow_edit_puts_the_builder_canvas_in_a_cell_and_saves_yaml_back(lab):
    """`%flow edit PATH`: drag a task from the palette, press Save, and the file on disk has it."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    from playwright.sync_api import sync_playwright

    flow_file = lab["work"] / "edit_me.yaml"
    flow_file.write_text("id: edit-me\nnamespace: demo.edit\ntasks:\n  - id: first\n    type: log\n    message: hi\n")
    nb = new_notebook(cells=[new_code_cell("%load_ext builder.jupyter"), new_code_cell("%flow edit edit_me.yaml")],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, lab["work"] / "edit.ipynb")

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        open_notebook(page, lab, "edit.ipynb")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        root = page.locator(".lanner-edit-canvas .lc-root")
        root.wait_for(timeout=60_000)
        page.wait_for_function(
            "() => { const h = document.querySelector('.lanner-edit-canvas');"
            " const r = h && h.shadowRoot && h.shadowRoot.querySelector('.lc-root');"
            " return r && getComputedStyle(r).display === 'flex'; }", timeout=30_000)
        assert page.locator('.lanner-edit-canvas .lc-node[data-id="first"]').count() == 1
        status = page.locator(".lanner-edit-status")
        assert status.inner_text() == "saved"

        slots = page.locator(""".lanner-edit-canvas .lc-slot[data-list='["tasks"]']""")
        page.locator('.lanner-edit-canvas .lc-node[data-id="first"] .lc-type').wait_for(timeout=30_000)  # laid out
        page.locator('.lanner-edit-canvas .lc-item[data-type="log"]').drag_to(slots.last)
        page.locator('.lanner-edit-canvas .lc-node[data-id="log_1"]').wait_for(timeout=30_000)
        page.wait_for_function("() => document.querySelector('.lanner-edit-status').dataset.state === 'unsaved'",
                               timeout=30_000)
        page.locator("button.lanner-edit-save").click()
        page.wait_for_function("() => document.querySelector('.lanner-edit-status').dataset.state === 'saved'",
                               timeout=30_000)
        assert status.inner_text() == "saved to edit_me.yaml"
        browser.close()

    import yaml

    saved = yaml.safe_load(flow_file.read_text())
    assert [t["id"] for t in saved["tasks"]] == ["first", "log_1"]
    assert saved["tasks"][1]["type"] == "log" and "message" in saved["tasks"][1]
