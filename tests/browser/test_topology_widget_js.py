"""The widget's ES module in a real browser, driven by a stand-in model.

The stand-in implements only the anywidget model contract (get/set/on/off/save_changes),
which is all the JS may rely on so that the web builder can reuse it through Panel. The
module is the shipped topology bundle (React Flow), loaded from a blob as anywidget does.
"""

from __future__ import annotations

import json
import shutil

import pytest

from builder.canvas.bundles import bundle
from builder.jupyter.widget import FlowWidget
from builder.topology import STATE_COLOURS
from tests.unit.test_jupyter_widget import FLOW, LOGS, SUMMARY

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium")
SYNCED = ("topology", "states", "details", "execution", "selected", "view", "gantt_html", "palette")

HARNESS = """
async ([src, css, state]) => {
  const style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);
  const listeners = {};
  const model = {
    state, saved: [],
    get(k) { return this.state[k]; },
    set(k, v) { this.state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
    on(e, f) { (listeners[e] ||= []).push(f); },
    off(e, f) { listeners[e] = (listeners[e] || []).filter((x) => x !== f); },
    save_changes() { this.saved.push(JSON.stringify(this.state.selected) + "|" + this.state.view); },
  };
  window.model = model;
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  const mod = await import(url);
  const el = document.getElementById("root");
  window.cleanup = mod.default.render({ model, el });
  return typeof window.cleanup;
}
"""


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `make browser-deps` (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        yield b
        b.close()


def render(browser, widget: FlowWidget):
    page = browser.new_page()
    page.set_content('<html><body><div id="root"></div></body></html>')
    state = json.loads(json.dumps(widget.get_state(key=list(SYNCED))))
    js = bundle("topology.js").read_text()
    css = bundle("topology.css").read_text()
    assert page.evaluate(HARNESS, [js, css, state]) == "function"
    page.locator(".lanner-node").first.wait_for()  # React Flow draws on the next frames
    return page


def test_nodes_edges_and_state_colours_are_drawn(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    page = render(browser, w)
    ids = page.eval_on_selector_all(".lanner-node", "els => els.map(e => e.dataset.nodeId)")
    assert sorted(ids) == ["each", "greet", "loop"]
    greet = page.locator('.lanner-node[data-node-id="greet"]')
    assert greet.get_attribute("data-state") == "SUCCESS"
    assert greet.locator(".lanner-task").get_attribute("data-colour") == STATE_COLOURS["SUCCESS"]
    page.locator(".react-flow__edge.lanner-edge").first.wait_for(state="attached")
    assert page.locator(".react-flow__edge.lanner-edge").count() == 1  # greet -> loop
    assert page.locator('.lanner-node[data-node-id="loop"] .lanner-chip[data-state="SUCCESS"]').text_content() == "2"
    assert page.locator(".lanner-execution-state").inner_text() == "SUCCESS"
    page.close()


def test_clicking_a_node_shows_its_logs_and_outputs(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    page = render(browser, w)
    assert "Click a task" in page.locator(".lanner-details").inner_text()
    page.locator('.lanner-node[data-node-id="greet"]').click()
    details = page.locator(".lanner-details").inner_text()
    assert "hi there" in details and "out-r1" in details
    assert page.evaluate("window.model.get('selected')") == "greet"
    assert page.evaluate("window.model.saved")[-1] == '"greet"|topology'
    page.locator('.lanner-node.lanner-selected[data-node-id="greet"]').wait_for()
    page.close()


def test_for_each_iterations_expand(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    page = render(browser, w)
    page.locator('.lanner-node[data-node-id="loop"] .lanner-box-header').click()
    iterations = page.locator("details.lanner-iteration")
    assert iterations.count() == 2
    assert not iterations.nth(1).locator("table").is_visible()
    iterations.nth(1).locator("summary").click()
    assert "out-r4" in iterations.nth(1).locator("table").inner_text()
    page.close()


def test_live_state_updates_recolour_nodes(browser):
    w = FlowWidget.from_flow(FLOW)
    page = render(browser, w)
    assert page.locator('.lanner-node[data-node-id="greet"]').get_attribute("data-state") == ""
    running = {**SUMMARY, "state": "RUNNING", "taskRuns": [{**SUMMARY["taskRuns"][0], "state": "RUNNING", "endDate": None}]}
    w.show_execution(running)
    page.evaluate("s => window.model.set('states', s)", w.states)
    greet = page.locator('.lanner-node[data-node-id="greet"][data-state="RUNNING"]')
    greet.wait_for()
    assert greet.locator(".lanner-task").get_attribute("data-colour") == STATE_COLOURS["RUNNING"]
    page.close()


def test_gantt_tab_asks_the_kernel_and_shows_the_page(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    page = render(browser, w)
    page.locator('button.lanner-tab[data-view="gantt"]').click()
    assert page.evaluate("window.model.get('view')") == "gantt"
    assert "Building the Gantt chart" in page.locator(".lanner-gantt").inner_text()
    assert not page.locator(".lanner-canvas").is_visible()
    page.evaluate("h => window.model.set('gantt_html', h)", "<html><body><p id='g'>gantt page</p></body></html>")
    frame = page.frame_locator("iframe.lanner-gantt-frame")
    assert frame.locator("#g").inner_text() == "gantt page"
    page.locator('button.lanner-tab[data-view="topology"]').click()
    assert page.locator(".lanner-canvas").is_visible()
    page.close()
