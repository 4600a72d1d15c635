"""The main journey of a new user, in a real browser against the real ``lanner server local``.

Open the UI, create a flow, drag a Log and a Python task from the palette, fill
their forms, add an input, save, execute with an input value, watch the
topology turn green and the log line appear, then check the YAML equals what
the canvas built. The next test (same server, run in order) finds the
executions the journey made on the dashboard. A second journey builds a Switch on an
input (value, a case, a default branch) without YAML, saves it and runs each branch.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from builder.yaml_sync import parse
from tests.browser.conftest import wait_until
from tests.browser.conftest_pages import (
    fill,
    new_flow,
    open_page,
    screenshot,
    wait_canvas,
    yaml_text,
)

pytestmark = pytest.mark.browser


def slots(page: Any) -> Any:
    return page.locator(".lc-slot[data-list='[\"tasks\"]']")


def tab(page: Any, title: str) -> Any:
    return page.locator(".bk-tab").filter(has_text=re.compile(f"^{title}$")).first


def test_create_build_save_run_and_read_back_the_yaml(page, builder_server):
    new_flow(page, builder_server, "acme.sales", "greet")
    assert page.locator(".lc-slot-empty[data-list='[\"tasks\"]']").count() == 1

    # Drag a Log task then a Python task from the palette.
    page.locator('.lc-item[data-type="log"]').drag_to(slots(page).first)
    page.locator('.lc-node[data-id="log_1"]').wait_for()
    page.locator('.lc-item[data-type="python"]').drag_to(slots(page).last)
    page.locator('.lc-node[data-id="python_1"]').wait_for()

    # The Python task is selected: its form is open. Fill the script in the code editor.
    editor = page.locator(".lf-field-script .ace_text-input").first
    editor.wait_for(state="attached")
    page.locator(".lf-field-script .ace_content").first.click()
    page.keyboard.type("print('computed')")
    # Select the Log task and fill its message (expression via the suggestion menu's text).
    page.locator('.lc-node[data-id="log_1"]').click()
    page.locator(".lf-field-message input").first.wait_for()
    fill(page, ".lf-field-message", "Hello {{ inputs.name }}")

    # Add an input on the Flow tab.
    tab(page, "Flow").click()
    fill(page, ".ln-new-input-id", "name")
    page.locator(".ln-add-input button").click()
    page.locator(".ln-input-item button", has_text="name (STRING)").wait_for()

    page.locator(".ln-save button").click()
    page.locator(".ln-saved", has_text="Saved revision 1").wait_for()
    page.locator(".ln-title h2", has_text="acme.sales.greet").wait_for()
    wait_until(lambda: "(new)" not in page.locator(".ln-title h2").inner_text())
    source = builder_server.flow_source("acme.sales", "greet")
    data, err = parse(source)
    assert err is None
    assert data == {
        "id": "greet", "namespace": "acme.sales",
        "tasks": [
            {"id": "log_1", "type": "log", "message": "Hello {{ inputs.name }}"},
            {"id": "python_1", "type": "python", "script": "print('computed')"},
        ],
        "inputs": [{"id": "name", "type": "STRING"}],
    }
    screenshot(page, "editor")

    # Execute with an input value.
    page.locator(".ln-execute-link").click()
    page.wait_for_url("**/ui/execute?*")
    fill(page, ".ln-input-name", "Ada")
    page.locator(".ln-run button").click()
    page.wait_for_url("**/ui/execution?*", timeout=15000)
    page.locator('.lanner-node[data-node-id="log_1"][data-state="SUCCESS"]').wait_for(timeout=20000)
    page.locator('.lanner-node[data-node-id="python_1"][data-state="SUCCESS"]').wait_for(timeout=20000)
    page.locator(".ln-log-line", has_text="Hello Ada").wait_for(timeout=10000)
    page.locator('.ln-exec-state[data-state="SUCCESS"]').wait_for(timeout=10000)
    # INFO is the default level: the runner's DEBUG lines show only when asked for (hiding them also keeps
    # machine paths out of the screenshot).
    level = page.locator(".ln-log-level select")
    assert level.input_value() == "INFO"
    assert page.locator(".ln-log-DEBUG").count() == 0
    level.select_option("DEBUG")
    page.locator(".ln-log-DEBUG").first.wait_for()
    level.select_option("INFO")
    wait_until(lambda: page.locator(".ln-log-DEBUG").count() == 0)
    page.locator(".ln-log-line", has_text="Hello Ada").wait_for()
    screenshot(page, "execution")

    # Back in the editor, the YAML tab shows exactly the flow the canvas built.
    open_page(page, builder_server.page_url("editor", namespace="acme.sales", id="greet"))
    wait_canvas(page)
    tab(page, "YAML").click()
    shown = wait_until(lambda: yaml_text(page) or None)
    assert parse(shown)[0] == data
    assert shown == source



def test_the_dashboard_shows_the_executions_the_journey_created(page, builder_server):
    made = builder_server.executions("acme.sales", "greet")
    assert made, "the journey test above creates an execution of acme.sales.greet"
    open_page(page, builder_server.page_url("dashboard"), ".ln-kpi-total")
    for ex in made:
        row = page.locator(f'.ln-recent-row[data-id="{ex['id']}"]')
        row.wait_for()
        assert "acme.sales" in row.inner_text() and ex["state"] in row.inner_text()
    assert int(page.locator(".ln-kpi-total").inner_text()) >= len(made)
    page.locator(".ln-durations td", has_text="acme.sales.greet").wait_for()  # duration percentiles
    screenshot(page, "dashboard")

    # The namespace filter counts only that namespace's executions.
    page.locator(".ln-dash-namespace select").select_option("acme.sales")
    wait_until(lambda: page.locator(".ln-kpi-total").inner_text() == str(len(made)))
    assert page.locator(".ln-recent-row").count() == len(made)


def form_of(page: Any, task_id: str) -> None:
    """Wait until the side panel shows the form of this (just added, selected) task."""
    page.locator(f'.lc-node[data-id="{task_id}"]').wait_for()
    wait_until(lambda: page.locator(".ln-form-box .lf-field-id input").first.input_value() == task_id, timeout=30)


def run_with(page: Any, server: Any, namespace: str, flow_id: str, region: str) -> None:
    """Execute the flow from its execute page with one input value, and wait for it to end green."""
    open_page(page, server.page_url("execute", namespace=namespace, id=flow_id), ".ln-run button")
    fill(page, ".ln-input-region", region)
    page.locator(".ln-run button").click()
    page.wait_for_url("**/ui/execution?*", timeout=15000)
    page.locator('.ln-exec-state[data-state="SUCCESS"]').wait_for(timeout=20000)


def value_then_case(page: Any, switch: Any) -> Any:
    """Type the Switch's value in its form, then add a "north" case on the canvas; returns the case's slots."""
    # The switch value takes any YAML value (its schema type is any): the expression goes in quotes.
    page.locator(".lf-field-value .ace_content").first.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text('"{{ inputs.region }}"')
    page.keyboard.press("End")  # the code editor hands its value over on key-up
    switch.locator('[data-action="add-case"]').click()
    page.locator(".lc-case-input").fill("north")
    page.locator(".lc-case-input").press("Enter")
    north = page.locator(""".lc-slot[data-list='["tasks",0,"cases","north"]']""")
    north.first.wait_for()
    return north


def test_a_switch_on_an_input_is_built_without_yaml_and_runs_each_branch(page, builder_server):
    """Issue 17: the analyst's first Switch, from the palette to both branches run, never touching YAML."""
    new_flow(page, builder_server, "acme.routing", "route")
    tab(page, "Flow").click()
    fill(page, ".ln-new-input-id", "region")
    page.locator(".ln-add-input button").click()
    page.locator(".ln-input-item button", has_text="region (STRING)").wait_for()

    # The Switch, its value from the input, a "north" case with a Log, and a Log for every other value.
    page.locator('.lc-item[data-type="switch"]').drag_to(slots(page).first)
    switch = page.locator('.lc-node[data-id="switch_1"]')
    switch.wait_for()
    tab(page, "Task").click()
    north = value_then_case(page, switch)
    page.locator('.lc-item[data-type="log"]').drag_to(north.first)
    form_of(page, "log_1")
    fill(page, ".lf-field-message", "Northern route")
    page.locator('.lc-item[data-type="log"]').drag_to(page.locator(""".lc-slot[data-list='["tasks",0,"defaults"]']""").first)
    form_of(page, "log_2")
    fill(page, ".lf-field-message", "Other route for {{ inputs.region }}")
    tab(page, "YAML").click()  # save what the user sees: the YAML has caught up with the forms
    wait_until(lambda: "Other route for" in yaml_text(page) and "Northern route" in yaml_text(page),
               why=lambda: f"the YAML tab shows {yaml_text(page)!r}")
    page.locator(".ln-save button").click()
    page.locator(".ln-saved", has_text="Saved revision 1").wait_for()
    data, err = parse(builder_server.flow_source("acme.routing", "route") or "")
    assert err is None
    assert data["tasks"] == [{
        "id": "switch_1", "type": "switch", "value": "{{ inputs.region }}",
        "cases": {"north": [{"id": "log_1", "type": "log", "message": "Northern route"}]},
        "defaults": [{"id": "log_2", "type": "log", "message": "Other route for {{ inputs.region }}"}],
    }]
    assert data["inputs"] == [{"id": "region", "type": "STRING"}]

    # Each value takes its branch: the other branch's task never runs.
    run_with(page, builder_server, "acme.routing", "route", "north")
    page.locator('.lanner-node[data-node-id="log_1"][data-state="SUCCESS"]').wait_for(timeout=10000)
    assert page.locator('.lanner-node[data-node-id="log_2"]').get_attribute("data-state") == ""
    page.locator(".ln-log-line", has_text="Northern route").wait_for(timeout=10000)
    south = builder_server.wait(builder_server.start("acme.routing", "route", {"region": "south"}))
    assert south["state"] == "SUCCESS"
    assert {t["taskId"] for t in south["taskRuns"]} == {"switch_1", "log_2"}


def test_a_typed_value_and_a_case_added_on_the_canvas_crossing_on_the_wire_both_land(page, builder_server):
    """The lost-edit race, made certain: the server's messages are held back while the user types the Switch value
    in the form and adds a case on the canvas, so the canvas makes its edit on a flow without the value."""
    held: list[tuple[Any, Any]] = []
    holding = [False]

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()

        def to_page(message: Any) -> None:
            if holding[0]:
                held.append((ws, message))
            else:
                ws.send(message)

        server.on_message(to_page)

    page.route_web_socket(re.compile(r"/ws(\?.*)?$"), relay)
    new_flow(page, builder_server, "acme.crossing", "route")
    page.locator('.lc-item[data-type="switch"]').drag_to(slots(page).first)
    switch = page.locator('.lc-node[data-id="switch_1"]')
    switch.wait_for()
    tab(page, "Task").click()
    form_of(page, "switch_1")
    value_box = page.locator(".lf-field-value .ace_content").first
    value_box.wait_for()

    holding[0] = True
    north = value_then_case(page, switch)  # the canvas shows its own edit at once

    def merged_sent() -> bool:
        page.wait_for_timeout(50)  # Playwright hands the relay its messages only while the test waits on it
        return any(isinstance(m, str) and "north" in m and "inputs.region" in m for _ws, m in held)

    # The server got the value, then the canvas's edit made without it, and sends back a flow with both.
    wait_until(merged_sent, timeout=20, why=lambda: f"{len(held)} messages held, none with the merged flow")
    holding[0] = False
    for ws, message in held:
        ws.send(message)

    north.first.wait_for()
    tab(page, "YAML").click()
    wait_until(lambda: "north" in yaml_text(page) and "inputs.region" in yaml_text(page),
               why=lambda: f"the YAML tab shows {yaml_text(page)!r}")
    data, err = parse(yaml_text(page))
    assert err is None
    assert data["tasks"] == [{"id": "switch_1", "type": "switch", "value": "{{ inputs.region }}",
                              "cases": {"north": []}}]
