"""The widget's ES module in a real browser, driven by a stand-in model.

The stand-in implements only the anywidget model contract (get/set/on/off/save_changes),
which is all the JS may rely on so that the web builder can reuse it through Panel. The
module is the shipped topology bundle, loaded from a blob as the notebook's loader does.
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import quote

import pytest

from builder.canvas.bundles import bundle
from builder.jupyter.widget import FlowWidget
from builder.topology import STATE_COLOURS
from tests.unit.test_jupyter_widget import FLOW, LOGS, SUMMARY

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium")
SYNCED = ("topology", "states", "details", "execution", "selected", "view", "gantt", "palette", "files_url")

HARNESS = """
async ([src, css, state, rootId]) => {
  const style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);
  const listeners = {};
  const model = {
    state, saved: [],
    get(k) { return this.state[k]; },
    set(k, v) { this.state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
    send(m) { this.sent = [...(this.sent || []), m]; },
    on(e, f) { (listeners[e] ||= []).push(f); },
    off(e, f) { listeners[e] = (listeners[e] || []).filter((x) => x !== f); },
    save_changes() { this.saved.push(JSON.stringify(this.state.selected) + "|" + this.state.view); },
  };
  window.model = model;
  window.fire = (event, ...args) => (listeners[event] || []).forEach((f) => f(...args));
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  const mod = await import(url);
  const el = document.getElementById(rootId || "root");
  window.cleanup = mod.default.render({ model, el });
  return typeof window.cleanup;
}
"""

#: Edges (visible ones) whose arrowhead marker is not the one in their own, visible, SVG: [marker id].
#: ``url(#id)`` resolves to the first element with that id in the document, so shared ids break
#: as soon as the first widget's SVG is hidden (its Gantt tab) or removed.
BROKEN_ARROWS = """
() => [...document.querySelectorAll("path.lanner-edge")].filter((p) => p.checkVisibility()).map((p) => {
  const id = (p.getAttribute("marker-end") || "").replace(/^url\\(#/, "").replace(/\\)$/, "");
  const marker = document.getElementById(id);
  const ok = marker && marker.ownerSVGElement === p.ownerSVGElement && marker.ownerSVGElement.checkVisibility();
  return ok ? null : id;
}).filter(Boolean)
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
    return page


def test_nodes_edges_and_state_colours_are_drawn(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    page = render(browser, w)
    ids = page.eval_on_selector_all("g.lanner-node", "els => els.map(e => e.dataset.nodeId)")
    assert sorted(ids) == ["each", "greet", "loop"]
    greet = page.locator('g.lanner-node[data-node-id="greet"]')
    assert greet.get_attribute("data-state") == "SUCCESS"
    assert greet.locator("rect.lanner-task").get_attribute("stroke") == STATE_COLOURS["SUCCESS"]
    assert page.locator("path.lanner-edge").count() == 1  # greet -> loop
    assert page.locator('g.lanner-node[data-node-id="loop"] g.lanner-chip[data-state="SUCCESS"] text').text_content() == "2"
    assert page.locator(".lanner-execution-state").inner_text() == "SUCCESS"
    page.close()


def test_clicking_a_node_shows_its_logs_and_outputs(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    page = render(browser, w)
    assert "Click a task" in page.locator(".lanner-details").inner_text()
    page.locator('g.lanner-node[data-node-id="greet"]').click()
    details = page.locator(".lanner-details").inner_text()
    assert "hi there" in details and "out-r1" in details
    assert page.evaluate("window.model.get('selected')") == "greet"
    assert page.evaluate("window.model.saved")[-1] == '"greet"|topology'
    assert page.locator('g.lanner-node[data-node-id="greet"]').get_attribute("class").endswith("lanner-selected")
    page.close()


def test_for_each_iterations_expand(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    page = render(browser, w)
    page.locator('g.lanner-node[data-node-id="loop"] rect.lanner-box-header').click()
    iterations = page.locator("details.lanner-iteration")
    assert iterations.count() == 2
    assert not iterations.nth(1).locator("table").is_visible()
    iterations.nth(1).locator("summary").click()
    assert "out-r4" in iterations.nth(1).locator("table").inner_text()
    page.close()


def test_live_state_updates_recolour_nodes(browser):
    w = FlowWidget.from_flow(FLOW)
    page = render(browser, w)
    assert page.locator('g.lanner-node[data-node-id="greet"]').get_attribute("data-state") == ""
    running = {**SUMMARY, "state": "RUNNING", "taskRuns": [{**SUMMARY["taskRuns"][0], "state": "RUNNING", "endDate": None}]}
    w.show_execution(running)
    page.evaluate("s => window.model.set('states', s)", w.states)
    greet = page.locator('g.lanner-node[data-node-id="greet"]')
    assert greet.get_attribute("data-state") == "RUNNING"
    assert greet.locator("rect.lanner-task").get_attribute("fill") == STATE_COLOURS["RUNNING"]
    page.close()


def test_gantt_tab_asks_the_kernel_and_draws_the_rows(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    page = render(browser, w)
    page.locator('button.lanner-tab[data-view="gantt"]').click()
    assert page.evaluate("window.model.get('view')") == "gantt"
    assert "Building the Gantt chart" in page.locator(".lanner-gantt").inner_text()
    assert not page.locator(".lanner-canvas").is_visible()
    w.show_gantt()
    page.evaluate("g => window.model.set('gantt', g)", w.gantt)
    rows = page.locator("g.lanner-gantt-row")
    assert rows.count() == 4
    assert rows.nth(3).get_attribute("data-label") == "each [b]"
    assert rows.nth(3).locator("rect").get_attribute("fill") == STATE_COLOURS["SUCCESS"]
    bars = page.eval_on_selector_all("g.lanner-gantt-row rect", "els => els.map(e => +e.getAttribute('width'))")
    assert bars[1] > bars[3] > bars[2] > 0  # loop (5 s) > each [b] (2 s) > each [a] (1 s)
    page.locator('button.lanner-tab[data-view="topology"]').click()
    assert page.locator(".lanner-canvas").is_visible()
    page.close()


def test_file_links_download_through_the_kernel_or_point_at_the_server(browser):
    uri = "lanner:///demo.nb/hello/executions/ex42/tasks/greet/r1/report.html"
    summary = {**SUMMARY, "taskRuns": [{**SUMMARY["taskRuns"][0], "outputs": {"report": uri}}, *SUMMARY["taskRuns"][1:]]}
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(summary, LOGS)
    page = render(browser, w)
    page.evaluate("() => { window.model.sent = []; window.model.send = (m) => window.model.sent.push(m); }")
    page.locator('g.lanner-node[data-node-id="greet"]').click()
    link = page.locator(".lanner-files a.lanner-file-link")
    assert link.inner_text() == "HTML report (report.html)"
    link.click()
    assert page.evaluate("window.model.sent") == [{"kind": "download", "uri": uri}]
    with page.expect_download() as info:  # the kernel answers with the bytes: the page saves them
        page.evaluate("""u => window.fire('msg:custom', {kind: 'file', uri: u, name: 'report.html'},
                                         [new DataView(new TextEncoder().encode('<h1>report</h1>').buffer)])""", uri)
    assert info.value.suggested_filename == "report.html"
    page.evaluate("() => window.model.set('files_url', 'http://127.0.0.1:8080/')")
    href = page.locator(".lanner-files a.lanner-file-link").get_attribute("href")
    assert href == f"http://127.0.0.1:8080/api/v1/executions/ex42/file?path={quote(uri, safe='')}"
    page.close()


def test_two_widgets_on_one_page_keep_their_arrowheads(browser):
    w = FlowWidget.from_flow(FLOW)
    w.show_execution(SUMMARY, LOGS)
    state = json.loads(json.dumps(w.get_state(key=list(SYNCED))))
    js, css = bundle("topology.js").read_text(), bundle("topology.css").read_text()
    page = browser.new_page()
    page.set_content('<html><body><div id="one"></div><div id="two"></div></body></html>')
    for root in ("one", "two"):
        page.evaluate(HARNESS, [js, css, state, root])
    assert page.locator("path.lanner-edge").count() == 2
    assert page.evaluate(BROKEN_ARROWS) == []
    page.locator('#one button.lanner-tab[data-view="gantt"]').click()
    assert page.locator("#two .lanner-canvas").is_visible() and not page.locator("#one .lanner-canvas").is_visible()
    assert page.evaluate(BROKEN_ARROWS) == []
    page.close()


def _transform(page, root: str = "") -> str:
    return page.locator(f"{root} g.lanner-viewport").first.get_attribute("transform") or ""


def _scale(page) -> float:
    return page.evaluate("() => { const m = document.querySelector('g.lanner-viewport').transform.baseVal.consolidate();"
                         " return m ? m.matrix.a : 1; }")


def test_a_big_flow_fits_and_zooms_pans_with_a_minimap(browser):
    flow = {"id": "big", "namespace": "demo.nb", "tasks": [{"id": f"t{i}", "type": "log", "message": "x"} for i in range(60)]}
    w = FlowWidget.from_flow(flow)
    page = render(browser, w)
    # Fitted: the whole flow in view, scaled down, and the view is no taller than a screenful.
    fitted = _scale(page)
    assert fitted < 1
    box = page.locator("svg.lanner-svg").bounding_box()
    assert box["height"] <= 460
    for task in ("t0", "t59"):
        node = page.locator(f'g.lanner-node[data-node-id="{task}"]').bounding_box()
        assert box["x"] <= node["x"] and node["x"] + node["width"] <= box["x"] + box["width"] + 1, task
        assert box["y"] <= node["y"] and node["y"] + node["height"] <= box["y"] + box["height"] + 1, task
    assert page.locator("svg.lanner-minimap use").count() == 1
    page.locator('.lanner-zoom button[data-zoom="in"]').click()
    assert _scale(page) > fitted
    # Ctrl + wheel zooms; the wheel alone leaves the page to scroll.
    before = _transform(page)
    page.mouse.move(box["x"] + 100, box["y"] + 50)
    page.mouse.wheel(0, 200)
    assert _transform(page) == before
    page.keyboard.down("Control")
    page.mouse.wheel(0, 200)
    page.keyboard.up("Control")
    assert _transform(page) != before
    # Dragging the background pans; a live update keeps the view; Fit brings the whole flow back.
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] - 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 220, box["y"] + box["height"] - 60, steps=5)
    page.mouse.up()
    moved = _transform(page)
    assert moved != before
    page.evaluate("s => window.model.set('states', s)", {"t0": {"state": "RUNNING", "colour": "#2563eb"}})
    assert _transform(page) == moved
    page.locator('.lanner-zoom button[data-zoom="fit"]').click()
    assert abs(_scale(page) - fitted) < 1e-6
    page.locator('g.lanner-node[data-node-id="t3"]').click()  # nodes still take clicks
    assert page.evaluate("window.model.get('selected')") == "t3"
    page.close()


def test_a_small_flow_is_drawn_at_full_size_without_a_minimap(browser):
    page = render(browser, FlowWidget.from_flow(FLOW))
    assert _scale(page) == 1
    assert page.locator("svg.lanner-minimap").count() == 0
    page.close()
