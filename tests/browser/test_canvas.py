"""The flow canvas in a real browser against a real Panel server.

Each test acts in the page the way a user would (drag, click, type) and then
reads the component's ``flow`` param on the Python side.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from builder.canvas.bundles import bundle
from builder.canvas.flow_edit import FlowEditError
from tests.browser.conftest import SCREENSHOTS, wait_until

pytestmark = pytest.mark.browser
SCREENSHOT = SCREENSHOTS / "canvas.png"


def log(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "type": "log", "message": f"hello from {task_id}", **extra}


def open_canvas(page: Any, panel_server: Any, **params: Any) -> Any:
    """Serve a FlowCanvas, open it, and return the component of that browser session."""
    import panel as pn

    from builder.canvas import FlowCanvas

    made: list[Any] = []

    def app() -> Any:
        canvas = FlowCanvas(**copy.deepcopy(params))
        made.append(canvas)
        return pn.Column(canvas, sizing_mode="stretch_width")

    page.goto(panel_server(app))
    root = page.locator(".lc-root")
    root.wait_for()
    # Drag targets are measured on screen: wait for the CSS and the first layout so that nothing moves mid-drag.
    wait_until(lambda: root.evaluate("e => getComputedStyle(e).display") == "flex")
    wait_until(lambda: root.get_attribute("data-version"))
    return made[0]


def list_slots(page: Any, list_path: list[Any]) -> Any:
    """The drop slots of one task list, in order (``list_path`` as in flow_edit: ``["tasks", 1, "then"]``)."""
    return page.locator(f".lc-slot[data-list='{json.dumps(list_path, separators=(',', ':'))}']")


def lane_slots(page: Any, lane: str) -> Any:
    return list_slots(page, [lane])


def node(page: Any, task_id: str) -> Any:
    return page.locator(f'.lc-node[data-id="{task_id}"]')


def ids(tasks: list[dict[str, Any]]) -> list[str]:
    return [t["id"] for t in tasks]



def test_drag_a_log_task_from_the_palette_onto_an_empty_canvas(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "company.team", "tasks": []})
    assert lane_slots(page, "tasks").and_(page.locator(".lc-slot-empty")).count() == 1

    page.locator('.lc-item[data-type="log"]').drag_to(lane_slots(page, "tasks").first)

    tasks = wait_until(lambda: canvas.flow.get("tasks"))
    assert len(tasks) == 1 and tasks[0]["type"] == "log" and tasks[0]["id"] == "log_1"
    assert "message" in tasks[0]
    assert list(canvas.flow) == ["id", "namespace", "tasks"]
    wait_until(lambda: canvas.selected == "log_1")  # the selection reaches Python after the flow
    wait_until(lambda: node(page, "log_1").locator(".lc-type").inner_text() != "")  # drawn once laid out


def test_reorder_by_drag_keeps_every_other_key_and_its_order(page, panel_server):
    flow = {
        "id": "demo", "namespace": "company.team", "description": "kept",
        "x-unknown": {"2": "two", "1": "one", "b": [1.0, 2]},
        "tasks": [
            log("a", retry={"type": "constant", "maxAttempts": 2, "interval": "PT1S"}),
            log("b"),
            {"id": "sw", "type": "switch", "value": "x", "cases": {"2": [log("c2")], "1": [log("c1")]}},
        ],
        "labels": {"team": "data"},
    }
    canvas = open_canvas(page, panel_server, flow=flow)

    node(page, "b").drag_to(lane_slots(page, "tasks").first)

    wait_until(lambda: ids(canvas.flow["tasks"]) == ["b", "a", "sw"])
    expected = copy.deepcopy(flow)
    expected["tasks"] = [expected["tasks"][1], expected["tasks"][0], expected["tasks"][2]]
    # Lossless: same data, same key order everywhere (integer-like keys included), floats stay floats.
    assert json.dumps(canvas.flow) == json.dumps(expected)
    assert isinstance(canvas.flow["x-unknown"]["b"][0], float)


def test_drop_into_a_parallel_an_else_branch_and_the_errors_lane(page, panel_server):
    flow = {"id": "demo", "namespace": "ns", "tasks": [
        log("a"),
        {"id": "par", "type": "parallel", "tasks": [log("p1")]},
        {"id": "check", "type": "if", "condition": "{{ true }}", "then": [log("t1")]},
    ]}
    canvas = open_canvas(page, panel_server, flow=flow)

    # Move "a" to the end of the parallel's branch.
    node(page, "a").drag_to(list_slots(page, ["tasks", 1, "tasks"]).last)
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["par", "check"])
    assert ids(canvas.flow["tasks"][0]["tasks"]) == ["p1", "a"]

    # A new task into the (absent) else branch creates it.
    else_slot = list_slots(page, ["tasks", 1, "else"])
    page.locator('.lc-item[data-type="log"]').drag_to(else_slot)
    wait_until(lambda: "else" in canvas.flow["tasks"][1])
    assert ids(canvas.flow["tasks"][1]["else"]) == ["log_1"]

    # And one into the flow-level errors lane.
    page.locator('.lc-item[data-type="log"]').drag_to(lane_slots(page, "errors").first)
    wait_until(lambda: canvas.flow.get("errors"))
    assert ids(canvas.flow["errors"]) == ["log_2"]

    # The "+ finally" chip of a container creates its finally branch.
    page.locator('.lc-item[data-type="log"]').drag_to(node(page, "par").locator('.lc-chip[data-list$=\'"finally"]\']'))
    wait_until(lambda: canvas.flow["tasks"][0].get("finally"))
    assert ids(canvas.flow["tasks"][0]["finally"]) == ["log_3"]

    # Containers move by their header, with everything inside them.
    node(page, "check").locator(":scope > .lc-head").drag_to(lane_slots(page, "tasks").first)
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["check", "par"])
    assert ids(canvas.flow["tasks"][0]["else"]) == ["log_1"]

    # Triggers go to the triggers lane only.
    page.locator('.lc-item[data-kind="task"][data-type="log"]').drag_to(lane_slots(page, "triggers").first)
    trigger = page.locator('.lc-item[data-kind="trigger"]').first
    trigger_type = trigger.get_attribute("data-type")
    trigger.drag_to(lane_slots(page, "triggers").first)
    wait_until(lambda: canvas.flow.get("triggers"))
    assert [t["type"] for t in canvas.flow["triggers"]] == [trigger_type]

    # A container cannot be dropped into itself: the flow does not change.
    before = copy.deepcopy(canvas.flow)
    node(page, "par").locator(":scope > .lc-head").drag_to(list_slots(page, ["tasks", 1, "tasks"]).first)
    node(page, "check").locator(":scope > .lc-head").drag_to(list_slots(page, ["tasks", 0, "then"]).first)
    time.sleep(0.3)
    assert canvas.flow == before


def test_delete_duplicate_and_disable_take_one_click(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": [log("a"), log("b")]})

    node(page, "a").locator('[data-action="duplicate"]').click()
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["a", "a_1", "b"])
    assert canvas.flow["tasks"][1] == {**log("a"), "id": "a_1"}

    node(page, "b").locator('[data-action="disable"]').click()
    wait_until(lambda: canvas.flow["tasks"][2].get("disabled") is True)
    assert "lc-disabled" in (node(page, "b").get_attribute("class") or "")
    node(page, "b").locator('[data-action="disable"]').click()
    wait_until(lambda: "disabled" not in canvas.flow["tasks"][2])

    node(page, "a").locator('[data-action="delete"]').click()
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["a_1", "b"])
    assert node(page, "a").count() == 0


def test_undo_and_redo_with_buttons_and_keyboard(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": [log("a"), log("b")]})
    assert page.locator('[data-action="undo"]').is_disabled()

    node(page, "a").locator('[data-action="delete"]').click()
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["b"])

    page.locator('[data-action="undo"]').click()
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["a", "b"])
    page.locator('[data-action="redo"]').click()
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["b"])

    node(page, "b").click()  # focuses the canvas
    page.keyboard.press("Control+z")
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["a", "b"])
    page.keyboard.press("Control+Shift+z")
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["b"])
    page.keyboard.press("Control+z")
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["a", "b"])
    assert page.locator('[data-action="redo"]').is_enabled()

    node(page, "a").click()
    page.keyboard.press("Delete")
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["b"])
    wait_until(lambda: canvas.selected == "")  # the selection reaches Python after the flow


def test_palette_search_filters_items_and_groups(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": []})
    everything = page.locator(".lc-item:visible").count()
    assert everything == len(canvas.palette)

    page.locator(".lc-search").fill("log message")
    wait_until(lambda: page.locator(".lc-item:visible").count() < everything)
    visible = page.locator(".lc-item:visible").evaluate_all("els => els.map(e => e.dataset.type)")
    expected = [i["type"] for i in canvas.palette if all(
        w in " ".join([i["title"], i["summary"], i["type"], i["group"], *i["aliases"]]).lower() for w in ("log", "message"))]
    assert visible == expected and "log" in visible
    assert page.locator(".lc-nomatch").is_hidden()

    page.locator('.lc-item[data-type="log"]').dblclick()  # double-click adds at the end of the flow
    wait_until(lambda: ids(canvas.flow["tasks"]) == ["log_1"])

    page.locator(".lc-search").fill("zzz-no-such-task")
    wait_until(lambda: page.locator(".lc-item:visible").count() == 0)
    assert page.locator(".lc-group:visible").count() == 0
    assert page.locator(".lc-nomatch").is_visible()


def test_dag_edges_are_made_by_connecting_nodes_and_removed_by_clicking(page, panel_server):
    flow = {"id": "demo", "namespace": "ns", "tasks": [{"id": "g", "type": "dag", "tasks": [
        {"task": log("d1")}, {"task": log("d2")}, {"task": log("d3"), "dependsOn": ["d1"]}]}]}
    canvas = open_canvas(page, panel_server, flow=flow)
    assert page.locator('.lc-edge[data-from="d1"][data-to="d3"]').count() == 1

    node(page, "d1").locator(".lc-port").drag_to(node(page, "d2"))
    wait_until(lambda: canvas.flow["tasks"][0]["tasks"][1].get("dependsOn") == ["d1"])
    page.locator('.lc-edge[data-from="d1"][data-to="d2"]').wait_for(state="attached")

    # A cycle is refused with a message and no change.
    node(page, "d2").locator(".lc-port").drag_to(node(page, "d1"))
    page.locator(".lc-hint", has_text="cycle").wait_for()
    assert "dependsOn" not in canvas.flow["tasks"][0]["tasks"][0]

    page.locator('.lc-edge[data-from="d1"][data-to="d3"] .lc-edge-hit').dispatch_event("click")
    wait_until(lambda: "dependsOn" not in canvas.flow["tasks"][0]["tasks"][2])


def test_switch_case_is_added_inline(page, panel_server):
    flow = {"id": "demo", "namespace": "ns", "tasks": [{"id": "sw", "type": "switch", "value": "{{ inputs.x }}"}]}
    canvas = open_canvas(page, panel_server, flow=flow)
    node(page, "sw").locator('[data-action="add-case"]').click()
    page.locator(".lc-case-input").fill("gold")
    page.locator(".lc-case-input").press("Enter")
    wait_until(lambda: canvas.flow["tasks"][0].get("cases") == {"gold": []})
    page.locator('.lc-item[data-type="log"]').drag_to(list_slots(page, ["tasks", 0, "cases", "gold"]).first)
    wait_until(lambda: ids(canvas.flow["tasks"][0]["cases"]["gold"]) == ["log_1"])


def test_click_selects_errors_show_as_badges_and_python_edits_redraw(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": [log("a"), log("b")]},
                         errors={"b": ["message is required", "bad level"], "": ["the flow has no triggers"]})
    badge = node(page, "b").locator(".lc-badge")
    assert badge.inner_text() == "2"
    assert "bad level" in (badge.get_attribute("title") or "")
    assert node(page, "a").locator(".lc-badge").count() == 0
    assert "the flow has no triggers" in page.locator(".lc-banner").inner_text()

    node(page, "a").click()
    wait_until(lambda: canvas.selected == "a")
    assert "lc-selected" in (node(page, "a").get_attribute("class") or "")

    canvas.flow = {**canvas.flow, "tasks": [*canvas.flow["tasks"], log("c")]}
    node(page, "c").wait_for()
    canvas.selected = "c"
    wait_until(lambda: "lc-selected" in (node(page, "c").get_attribute("class") or ""))
    assert "lc-selected" not in (node(page, "a").get_attribute("class") or "")


def test_readonly_canvas_has_no_palette_nor_edit_buttons(page, panel_server):
    open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": [log("a")]}, readonly=True)
    node(page, "a").wait_for()
    assert page.locator(".lc-palette").is_hidden()
    assert page.locator('.lc-node [data-action]').count() == 0
    assert node(page, "a").get_attribute("draggable") is None


def test_a_200_task_flow_renders_quickly(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": []})
    big = {"id": "demo", "namespace": "ns", "tasks": [log(f"t{i}") for i in range(200)]}
    start = time.perf_counter()
    canvas.flow = big
    page.locator('.lc-node[data-id="t199"]').wait_for()
    elapsed = time.perf_counter() - start
    assert page.locator(".lc-node").count() == 200
    render_ms = float(page.locator(".lc-root").get_attribute("data-render-ms") or "nan")
    assert render_ms < 500, f"rendering 200 tasks took {render_ms} ms in the browser"
    assert elapsed < 5, f"200 tasks took {elapsed:.2f}s from Python to the DOM"
    # Still responsive: an edit on the big flow round-trips.
    node(page, "t0").locator('[data-action="delete"]').click()
    wait_until(lambda: len(canvas.flow["tasks"]) == 199)


SAMPLE = {
    "id": "daily_report", "namespace": "company.sales",
    "tasks": [
        {"id": "extract", "type": "python", "script": "print('extract')"},
        {"id": "checks", "type": "parallel", "tasks": [
            log("check_rows"), {"id": "check_schema", "type": "log", "message": "schema ok"}]},
        {"id": "enough_data", "type": "if", "condition": "{{ outputs.extract.vars.rows > 0 }}",
         "then": [{"id": "report", "type": "notebook", "notebook": "notebooks/report.ipynb"}],
         "else": [{"id": "warn", "type": "log", "message": "no data", "disabled": True}]},
        {"id": "publish", "type": "dag", "tasks": [
            {"task": log("upload")}, {"task": log("email")}, {"task": log("archive"), "dependsOn": ["upload"]}]},
    ],
    "errors": [log("alert")],
    "triggers": [{"id": "every_morning", "type": "schedule", "cron": "0 7 * * *"}],
}


def test_screenshot_of_a_sample_flow(page, panel_server):
    page.set_viewport_size({"width": 1760, "height": 760})
    open_canvas(page, panel_server, flow=SAMPLE, errors={"report": ["notebook file not found"]}, selected="extract")
    page.locator('.lc-edge[data-from="upload"][data-to="archive"]').wait_for(state="attached")
    assert page.locator(".lc-node").count() == 13
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.locator(".lc-root").screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


PARITY_JS = """
async ([src, spec, flow, ops]) => {
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  const mod = await import(url);
  const e = mod.makeEdits(spec);
  return ops.map(([name, args]) => {
    try {
      const out = e[name](flow, ...args);
      return { ok: out };
    } catch (err) {
      return { error: err.message };
    }
  });
}
"""


def test_the_javascript_edits_mirror_flow_edit_exactly(page):
    """Same operation, same flow: the canvas's edits.js and flow_edit.py give the same result (or the same error)."""
    from builder.canvas import flow_edit as fe
    from tests.unit.test_flow_edit import sample

    js_names = {
        "insert_task": "insertTask", "delete_task": "deleteTask", "move_task": "moveTask",
        "duplicate_task": "duplicateTask", "toggle_disabled": "toggleDisabled", "connect": "connect",
        "disconnect": "disconnect", "add_case": "addCase", "all_ids": "allIds", "find_task": "findTask",
    }
    ops: list[tuple[str, list[Any]]] = [
        ("insert_task", [["tasks", 2, "else", 0], log("e1")]),
        ("insert_task", [["tasks", 4, "tasks", 1], log("dx")]),
        ("insert_task", [["tasks", 0], log("p1")]),
        ("insert_task", [["tasks", 9], log("zz")]),
        ("move_task", [["tasks", 0], ["tasks", 2]]),
        ("move_task", [["tasks", 0], ["tasks", 1, "tasks", 2]]),
        ("move_task", [["errors", 0], ["tasks", 2, "then", 1]]),
        ("move_task", [["tasks", 4, "tasks", 1, "task"], ["tasks", 4, "tasks", 0]]),
        ("move_task", [["tasks", 4, "tasks", 0, "task"], ["tasks", 0]]),
        ("move_task", [["tasks", 1], ["tasks", 1, "tasks", 0]]),
        ("delete_task", [["tasks", 4, "tasks", 1, "task"]]),
        ("delete_task", [["triggers", 0]]),
        ("duplicate_task", [["tasks", 4]]),
        ("duplicate_task", [["tasks", 4, "tasks", 1, "task"]]),
        ("toggle_disabled", [["tasks", 0]]),
        ("toggle_disabled", [["tasks", 9]]),
        ("toggle_disabled", [["tasks", 3, "cases", "zz", 0]]),
        ("delete_task", [["tasks", 1, "tasks", 5]]),
        ("connect", [["tasks", 4], "d1", "inner"]),
        ("connect", [["tasks", 4], "inner", "d1"]),
        ("connect", [["tasks", 4], "a", "d1"]),
        ("disconnect", [["tasks", 4], "d1", "d2"]),
        ("add_case", [["tasks", 3], "c"]),
        ("add_case", [["tasks", 3], "a"]),
        ("all_ids", []),
        ("find_task", ["s1"]),
        ("find_task", ["daily"]),
    ]
    flow = sample()
    src = bundle("canvas.js").read_text()  # what ships: the edits as bundled with the canvas
    results = page.evaluate(PARITY_JS, [src, fe.container_spec(), flow, [[js_names[n], a] for n, a in ops]])
    for (name, args), got in zip(ops, results, strict=True):
        try:
            expected: dict[str, Any] = {"ok": getattr(fe, name)(flow, *args)}
        except FlowEditError as exc:
            expected = {"error": str(exc)}
        if isinstance(expected.get("ok"), tuple):
            expected["ok"] = list(expected["ok"])
        assert json.dumps(got) == json.dumps(expected), f"{name}{args}"


# --- React Flow canvas: keyboard, viewport, layout of wide flows --------------------------------------


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, "element is not on screen"
    return box


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_keyboard_alone_adds_a_task_after_the_selected_one_and_walks_the_flow(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": [log("a"), log("b")]})
    assert page.locator(".lc-item").first.get_attribute("tabindex") == "0"
    assert node(page, "a").get_attribute("tabindex") == "0"

    # Tab from the search box reaches the palette; arrows move between its items; Enter adds.
    page.locator(".lc-search").focus()
    page.keyboard.press("Tab")
    first = page.locator(".lc-item").first.get_attribute("data-type")
    assert page.locator(".lc-item:focus").get_attribute("data-type") == first
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    wait_until(lambda: page.locator(".lc-item:focus").get_attribute("data-type") == first)
    page.keyboard.press("Enter")
    wait_until(lambda: len(canvas.flow["tasks"]) == 3)
    added = canvas.flow["tasks"][2]["id"]
    wait_until(lambda: canvas.selected == added)

    # With "a" selected, the next task added by keyboard goes right after it.
    node(page, "a").focus()
    page.keyboard.press("Enter")
    wait_until(lambda: canvas.selected == "a")
    page.locator(f'.lc-item[data-type="{first}"]').focus()
    page.keyboard.press("Enter")
    wait_until(lambda: len(canvas.flow["tasks"]) == 4)
    assert ids(canvas.flow["tasks"])[0] == "a" and ids(canvas.flow["tasks"])[2] == "b"
    second = canvas.flow["tasks"][1]["id"]
    wait_until(lambda: canvas.selected == second)

    # Arrows on a focused node walk the tasks in order, selecting each.
    node(page, "a").focus()
    page.keyboard.press("ArrowRight")
    wait_until(lambda: canvas.selected == second)
    # The selection goes to the server and back; the focus stays on the selected node meanwhile.
    wait_until(lambda: page.locator(".lc-node:focus").count() == 1
               and page.locator(".lc-node:focus").get_attribute("data-id") == second)
    page.keyboard.press("ArrowRight")
    wait_until(lambda: canvas.selected == "b")
    assert page.locator(".lc-node:focus").get_attribute("data-id") == "b"
    page.keyboard.press("ArrowLeft")
    wait_until(lambda: canvas.selected == second)
    page.keyboard.press("Delete")
    wait_until(lambda: second not in ids(canvas.flow["tasks"]))


def test_a_wide_flow_wraps_and_has_zoom_fit_and_a_minimap(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": []})
    canvas.flow = {"id": "demo", "namespace": "ns", "tasks": [log(f"t{i}") for i in range(150)]}
    node(page, "t149").wait_for(state="attached")
    # 150 tasks are several rows, not one 31,000 px line.
    lane = page.locator(".react-flow__node-lane").nth(1)
    width = lane.evaluate("e => parseFloat(e.style.width)")
    height = lane.evaluate("e => parseFloat(e.style.height)")
    assert width < 3200 and height > 5 * 64, (width, height)
    assert page.locator(".react-flow__minimap").is_visible()
    assert page.locator(".react-flow__controls").is_visible()

    root = page.locator(".lc-root")
    board = _box(page.locator(".lc-board"))
    root.evaluate("e => e.lannerViewport.fit()")
    wait_until(lambda: all(_overlap(_box(node(page, t)), board) for t in ("t0", "t149")))
    fitted = root.evaluate("e => e.lannerViewport.viewport().zoom")
    page.locator(".react-flow__controls-zoomin").click()
    wait_until(lambda: root.evaluate("e => e.lannerViewport.viewport().zoom") > fitted)
    page.locator('[data-action="fit"]').click()
    wait_until(lambda: abs(root.evaluate("e => e.lannerViewport.viewport().zoom") - fitted) < 1e-6)


def test_the_hover_toolbar_leaves_the_title_readable_and_errors_do_not_move_the_board(page, panel_server):
    canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": [
        log("a_task_with_a_long_name"), {"id": "par", "type": "parallel", "tasks": [log("p1")]}]})
    for task_id in ("a_task_with_a_long_name", "par"):
        node(page, task_id).locator(":scope > .lc-head").hover()
        actions = node(page, task_id).locator(":scope > .lc-actions")
        wait_until(lambda actions=actions: actions.evaluate("e => getComputedStyle(e).opacity") == "1")
        title = node(page, task_id).locator(".lc-id")
        assert not _overlap(_box(actions), _box(title)), f"the toolbar covers the title of {task_id}"

    before = _box(node(page, "p1"))
    canvas.errors = {"": ["the flow has no trigger", "another flow-level problem"]}
    page.locator(".lc-banner", has_text="another flow-level problem").wait_for()
    assert _box(node(page, "p1")) == before
    canvas.errors = {}
    page.locator(".lc-banner").wait_for(state="hidden")
    assert _box(node(page, "p1")) == before


def test_palette_shows_a_plugins_types_in_a_section_named_after_it(page, panel_server, tmp_path):
    from builder.canvas.palette import palette_items
    from tests.plugin_fixtures import GOOD_TASK, fake_distribution, on_sys_path

    site = fake_distribution(tmp_path / "site", "demo-plugin", "2.3.4", {"task": {"demo.Echo": "demo_plugin.echo:Echo"}},
                             {"demo_plugin/__init__.py": "", "demo_plugin/echo.py": GOOD_TASK})
    with on_sys_path(site, "demo_plugin"):
        canvas = open_canvas(page, panel_server, flow={"id": "demo", "namespace": "ns", "tasks": []}, palette=palette_items())
        sections = page.locator(".lc-group").evaluate_all("els => els.map(e => [e.dataset.group, e.dataset.plugin || null])")
        assert ["demo-plugin", "demo-plugin"] in sections
        own = [i for i, (_, plugin_name) in enumerate(sections) if plugin_name is None]
        assert max(own) < sections.index(["demo-plugin", "demo-plugin"]), "a plugin's section comes after Lanner's own groups"
        assert ["Basics", None] in sections and ["Triggers", None] in sections
        plugin = page.locator('.lc-group[data-plugin="demo-plugin"]')
        assert plugin.locator("h4").text_content() == "demo-plugin"
        assert plugin.locator("h4").get_attribute("title") == "Plugin demo-plugin 2.3.4"
        assert plugin.locator(".lc-item").evaluate_all("els => els.map(e => e.dataset.type)") == ["demo.Echo"]

        page.locator(".lc-search").fill("demo-plugin")  # the plugin's name finds its types
        wait_until(lambda: page.locator(".lc-item:visible").count() == 1)
        page.locator(".lc-search").fill("")
        plugin.locator('.lc-item[data-type="demo.Echo"]').dblclick()
        wait_until(lambda: canvas.flow["tasks"])
        assert canvas.flow["tasks"] == [{"id": "demo_Echo_1", "type": "demo.Echo", "text": ""}]
