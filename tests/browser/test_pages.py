"""Builder pages in a real browser against the real ``lanner server local``.

Editor: inline errors block save, reorder by drag, drop into a Parallel, YAML
typed by hand redraws the canvas, revisions diff and restore. Execute: the typed
input form refuses a bad value inline and uploads a FILE input. Execution: kill,
restart and replay from the buttons. Flows, dashboard and triggers show what the
store holds. Data is arranged through the server's REST API; the checks read
the page and, for what the page saved, the REST API again. The ``page``
fixture fails any test whose page made a request that left 127.0.0.1 or logged
a console error.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from builder.yaml_sync import parse
from engine.runtime.masking import MASK
from tests.browser.conftest import wait_until
from tests.browser.conftest_pages import (
    fill,
    open_page,
    screenshot,
    wait_canvas,
    yaml_focus_end,
    yaml_text,
)
from tests.unit.test_yaml_roundtrip import TEXT as COMMENTED

pytestmark = pytest.mark.browser

FLOW = """id: nightly
namespace: acme.ops
labels:
  team: ops
triggers:
  - id: every_night
    type: schedule
    cron: "0 2 * * *"
    timezone: Europe/Paris
tasks:
  - id: hello
    type: log
    message: nightly run
"""

EDIT = """id: {id}
namespace: acme.edit
description: kept as written
tasks:
  - id: a
    type: log
    message: first
  - id: b
    type: log
    message: second
  - id: par
    type: parallel
    tasks:
      - id: p1
        type: log
        message: in parallel
"""

SLOW = """id: slow
namespace: acme.ops
tasks:
  - id: nap
    type: sleep
    duration: PT60S
"""

TYPED = """id: typed
namespace: acme.forms
inputs:
  - id: count
    type: INT
    min: 1
    max: 10
    defaults: 3
  - id: doc
    type: FILE
  - id: pin
    type: SECRET
    required: false
tasks:
  - id: show
    type: log
    message: "count={{ inputs.count }}"
"""
PIN = "browser-pin-5e1d"


def tab(page: Any, title: str) -> Any:
    return page.locator(".bk-tab").filter(has_text=re.compile(f"^{title}$")).first


def node(page: Any, task_id: str) -> Any:
    return page.locator(f'.lc-node[data-id="{task_id}"]')


def task_ids(tasks: list[dict[str, Any]]) -> list[str]:
    return [t["id"] for t in tasks]


def open_editor(page: Any, server: Any, namespace: str, flow_id: str) -> None:
    open_page(page, server.page_url("editor", namespace=namespace, id=flow_id))
    wait_canvas(page)


def shown_data(page: Any) -> dict[str, Any]:
    """The flow data of the YAML editor's text ({} until it shows a valid flow)."""
    data, err = parse(yaml_text(page))
    return {} if err else data


def save(page: Any, revision: int) -> None:
    page.locator(".ln-save button").click()
    page.locator(".ln-saved", has_text=f"Saved revision {revision}").wait_for()


# --- editor ------------------------------------------------------------------------------------------


def test_an_invalid_property_shows_an_inline_error_and_blocks_save(page, builder_server):
    builder_server.deploy(FLOW)
    open_editor(page, builder_server, "acme.ops", "nightly")
    node(page, "hello").click()
    page.locator(".lf-field-message input").first.wait_for()
    fill(page, ".lf-field-id", "bad id!")
    page.locator(".lf-error-text").first.wait_for()
    assert "id" in page.locator(".lf-error-text").first.inner_text()
    page.locator('.lc-node.lc-invalid[data-id="bad id!"] .lc-badge').wait_for()  # a red badge on the canvas
    page.locator(".ln-save button").click()
    page.locator(".ln-status", has_text="Not saved").wait_for()
    assert builder_server.revisions("acme.ops", "nightly") == [1]


def test_reorder_by_drag_in_the_editor_moves_the_yaml_too(page, builder_server):
    builder_server.deploy(EDIT.format(id="reorder"))
    open_editor(page, builder_server, "acme.edit", "reorder")

    node(page, "b").drag_to(page.locator(".lc-slot[data-list='[\"tasks\"]']").first)

    tab(page, "YAML").click()
    wait_until(lambda: task_ids(shown_data(page).get("tasks", [])) == ["b", "a", "par"])
    save(page, 2)
    data, _ = parse(builder_server.flow_source("acme.edit", "reorder"))
    assert task_ids(data["tasks"]) == ["b", "a", "par"]
    assert data["description"] == "kept as written"
    assert data["tasks"][0] == {"id": "b", "type": "log", "message": "second"}


def test_drop_a_palette_task_into_a_parallel_in_the_editor(page, builder_server):
    builder_server.deploy(EDIT.format(id="branch"))
    open_editor(page, builder_server, "acme.edit", "branch")

    page.locator('.lc-item[data-type="log"]').drag_to(page.locator(".lc-slot[data-list='[\"tasks\",2,\"tasks\"]']").last)

    node(page, "log_1").wait_for()
    tab(page, "YAML").click()
    wait_until(lambda: len(shown_data(page).get("tasks", [])) == 3
               and task_ids(shown_data(page)["tasks"][2]["tasks"]) == ["p1", "log_1"])
    assert task_ids(shown_data(page)["tasks"]) == ["a", "b", "par"]
    save(page, 2)
    data, _ = parse(builder_server.flow_source("acme.edit", "branch"))
    assert task_ids(data["tasks"][2]["tasks"]) == ["p1", "log_1"]


def test_yaml_typed_by_hand_redraws_the_canvas(page, builder_server):
    builder_server.deploy(EDIT.format(id="typed_yaml"))
    open_editor(page, builder_server, "acme.edit", "typed_yaml")
    tab(page, "YAML").click()
    yaml_focus_end(page)
    page.keyboard.insert_text("  - id: added\n    type: log\n    message: typed by hand\n")

    node(page, "added").wait_for()
    # a, b, par, added: four tasks at flow level (paths ["tasks", i])
    assert page.locator(".lc-node").evaluate_all("els => els.filter(e => JSON.parse(e.dataset.path).length === 2).length") == 4
    # A syntax error is reported and leaves the canvas as it was.
    page.keyboard.insert_text("  - id: [broken\n")
    page.locator(".ln-errors", has_text="YAML").wait_for()
    assert node(page, "added").count() == 1
    # Remove the broken line again (Backspace, not Ctrl+Z: CodeMirror joins edits made within half a second
    # into one undo step, so an undo may take back the added task too).
    for _ in "  - id: [broken\n":
        page.keyboard.press("Backspace")
    page.locator(".ln-errors .ln-ok", has_text="valid").wait_for()  # the repaired text is valid again
    page.locator(".ln-dirty", has_text="Unsaved changes").wait_for()
    save(page, 2)
    data, _ = parse(builder_server.flow_source("acme.edit", "typed_yaml"))
    assert data["tasks"][-1] == {"id": "added", "type": "log", "message": "typed by hand"}


def test_revisions_diff_and_restore(page, builder_server):
    first = EDIT.format(id="revised")
    builder_server.deploy(first)
    builder_server.deploy(first.replace("message: second", "message: changed"))
    open_editor(page, builder_server, "acme.edit", "revised")
    tab(page, "Revisions").click()

    diff = page.locator(".ln-diff")
    diff.locator(".ln-diff-del", has_text="message: second").wait_for()
    diff.locator(".ln-diff-add", has_text="message: changed").wait_for()
    assert diff.locator(".ln-diff-del").count() == 2  # "--- revision 1" and the changed line
    # Same revision on both sides: nothing to show.
    page.locator(".ln-rev-to select").select_option("1")
    diff.locator("pre", has_text="No difference.").wait_for()

    page.locator(".ln-restore button").click()
    page.locator(".ln-saved", has_text="Saved revision 3").wait_for()
    assert builder_server.revisions("acme.edit", "revised") == [1, 2, 3]
    assert builder_server.flow_source("acme.edit", "revised") == first
    tab(page, "YAML").click()
    wait_until(lambda: yaml_text(page) == first)
    node(page, "b").wait_for()


# --- execute and execution ---------------------------------------------------------------------------


def test_execute_form_refuses_a_bad_int_inline_and_uploads_a_file(page, builder_server, tmp_path):
    builder_server.deploy(TYPED)
    open_page(page, builder_server.page_url("execute", namespace="acme.forms", id="typed"), ".ln-run button")
    count = page.locator(".ln-input-count input").first
    assert count.input_value() == "3"  # the default is prefilled
    upload = tmp_path / "report.csv"
    upload.write_bytes(b"a,b\n1,2\n")
    page.locator(".ln-input-doc input[type=file]").set_input_files(str(upload))
    page.locator(".ln-file-ready", has_text="report.csv").wait_for()

    count.fill("50")
    count.press("Enter")
    page.locator(".ln-run button").click()
    error = page.locator(".ln-input-error-count .ln-error")
    error.wait_for()
    assert "count" in error.inner_text() and "10" in error.inner_text()
    assert page.url.startswith(builder_server.page_url("execute"))
    assert builder_server.executions("acme.forms", "typed") == []
    screenshot(page, "execute")

    count.fill("7")
    count.press("Enter")
    fill(page, ".ln-input-pin", PIN)
    page.locator(".ln-run button").click()
    page.wait_for_url(re.compile(r".*/ui/execution\?id=\w+$"), timeout=15000)
    execution_id = page.url.split("id=")[-1]
    page.locator('.ln-exec-state[data-state="SUCCESS"]').wait_for(timeout=20000)
    summary = builder_server.execution(execution_id)
    assert summary["inputs"]["count"] == 7 and summary["inputs"]["pin"] == MASK  # a SECRET input is never shown
    shown = page.locator(".ln-muted", has_text="inputs:").first.inner_text()
    assert MASK in shown and PIN not in shown
    uri = summary["inputs"]["doc"]
    got = builder_server.client.get(f"/api/v1/executions/{execution_id}/file", params={"path": uri})
    assert got.status_code == 200 and got.content == b"a,b\n1,2\n"
    # The builder's own file route (downloads and reports on the execution page) serves it too.
    mine = builder_server.client.get(f"/ui/files/{execution_id}", params={"uri": uri, "download": "true"})
    assert mine.status_code == 200 and mine.content == b"a,b\n1,2\n"
    assert "report.csv" in mine.headers["content-disposition"]


def test_kill_restart_and_replay_from_the_execution_page(page, builder_server):
    builder_server.deploy(SLOW)
    ex_id = builder_server.start("acme.ops", "slow")
    builder_server.wait(ex_id, {"RUNNING"})
    open_page(page, builder_server.page_url("execution", id=ex_id), '.ln-exec-state[data-state="RUNNING"]')
    page.locator('.lanner-node[data-node-id="nap"][data-state="RUNNING"]').wait_for()
    assert page.locator(".ln-restart button").is_disabled()

    page.locator(".ln-kill button").click()
    page.locator('.ln-exec-state[data-state="KILLED"]').wait_for(timeout=20000)
    assert builder_server.execution(ex_id)["state"] == "KILLED"
    page.locator('.lanner-node[data-node-id="nap"][data-state="KILLED"]').wait_for()

    # Restart: the same execution runs its killed task again, as a second attempt.
    page.locator(".ln-restart button:not([disabled])").click()
    page.locator('.ln-exec-state[data-state="RUNNING"]').wait_for(timeout=20000)
    runs = builder_server.execution(ex_id)["taskRuns"]
    assert len(runs[0]["attempts"]) == 2
    builder_server.client.post(f"/api/v1/executions/{ex_id}/kill")
    page.locator('.ln-exec-state[data-state="KILLED"]').wait_for(timeout=20000)

    # Replay: a new execution of the same flow, and the page follows it.
    page.locator(".ln-replay button:not([disabled])").click()
    page.wait_for_url(re.compile(r".*/ui/execution\?id=(?!" + ex_id + r")\w+$"), timeout=15000)
    new_id = page.url.split("id=")[-1]
    page.locator('.ln-exec-state[data-state="RUNNING"]').wait_for(timeout=20000)
    assert builder_server.execution(new_id)["flowId"] == "slow"
    builder_server.client.post(f"/api/v1/executions/{new_id}/kill")
    builder_server.wait(new_id, {"KILLED"})


NAP = """id: nap
namespace: acme.ops
tasks:
  - id: nap
    type: sleep
    duration: PT5S
"""


def test_an_execution_that_ends_while_its_page_loads_is_drawn_without_errors(page, builder_server):
    """A change the server makes to a page before the browser has drawn it reaches views that Bokeh has built
    but not rendered, and BokehJS throws (a Select's new options, a button's new disabled state). Made certain
    here: from the page's document on, the server's messages are held back while the execution ends, then let
    through in one burst. The page polls only once the browser says it has drawn the page, so no change rides
    behind the document, and the page still catches up."""
    held: list[tuple[Any, Any]] = []
    state = {"holding": False, "released": False}

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()

        def to_page(message: Any) -> None:
            if not state["released"] and isinstance(message, str) and "PULL-DOC-REPLY" in message:
                state["holding"] = True
            if state["holding"]:
                held.append((ws, message))
            else:
                ws.send(message)

        server.on_message(to_page)

    builder_server.deploy(NAP)
    ex_id = builder_server.start("acme.ops", "nap")
    builder_server.wait(ex_id, {"RUNNING"})
    page.route_web_socket(re.compile(r"/ws(\?.*)?$"), relay)
    page.goto(builder_server.page_url("execution", id=ex_id))

    def document_held() -> bool:
        page.wait_for_timeout(50)  # Playwright hands the relay its messages only while the test waits on it
        return state["holding"]

    wait_until(document_held, timeout=20, why=lambda: f"{len(held)} messages held, none with the page")
    document = next(m for _ws, m in held if isinstance(m, str) and m.startswith('{"doc"'))
    assert '["state","RUNNING"]' in document, "the page must be sent while the execution still runs"
    assert builder_server.wait(ex_id)["state"] == "SUCCESS"
    page.wait_for_timeout(1500)  # three of the page's polling periods: a poll started now would have sent changes
    state.update(holding=False, released=True)
    for ws, message in held:
        ws.send(message)

    page.locator('.ln-exec-state[data-state="SUCCESS"]').wait_for(timeout=10000)
    page.locator('.lanner-node[data-node-id="nap"][data-state="SUCCESS"]').wait_for(timeout=10000)
    page.locator(".ln-replay button:not([disabled])").wait_for()  # enabled once the execution no longer runs

# --- flows, dashboard, triggers ----------------------------------------------------------------------


def test_flows_dashboard_and_triggers_show_what_the_store_holds(page, builder_server):
    builder_server.deploy(FLOW)
    ids = [builder_server.start("acme.ops", "nightly") for _ in range(2)]
    for ex_id in ids:
        builder_server.wait(ex_id, timeout=20)

    open_page(page, builder_server.page_url("flows"), '.ln-flow-row[data-flow="acme.ops.nightly"]')
    assert "SUCCESS" in page.locator('.ln-flow-row[data-flow="acme.ops.nightly"]').inner_text()
    screenshot(page, "flows")

    open_page(page, builder_server.page_url("dashboard"), ".ln-kpi-total")
    for ex_id in ids:
        page.locator(f'.ln-recent-row[data-id="{ex_id}"]').wait_for()
    total = int(page.locator(".ln-kpi-total").inner_text())
    assert total >= 2
    page.locator(".ln-failure").first.wait_for()  # the killed executions of the test above
    screenshot(page, "dashboard")

    open_page(page, builder_server.page_url("triggers"), '.ln-trigger-row[data-trigger="every_night"]')
    row = page.locator('.ln-trigger-row[data-trigger="every_night"]')
    assert "+01:00" in row.inner_text() or "+02:00" in row.inner_text()  # next run in Europe/Paris

    # Disable, then enable again.
    toggle = page.locator(".ln-toggle button").first
    toggle.click()
    row.locator(".ln-next-run", has_text="disabled").wait_for()
    page.locator(".ln-toggle button", has_text="Enable").click()
    wait_until(lambda: "disabled" not in row.locator(".ln-next-run").inner_text())

    # A backfill of the last 24 hours: one 02:00 Paris tick, run by the server's scheduler.
    before = len(builder_server.executions("acme.ops", "nightly"))
    page.locator(".ln-backfill-start button").click()
    page.locator(".ln-message", has_text="1 run(s)").wait_for()
    page.locator(".ln-backfills", has_text="1/1").wait_for(timeout=30000)
    wait_until(lambda: len(builder_server.executions("acme.ops", "nightly")) == before + 1, timeout=30)
    screenshot(page, "triggers")


def test_yaml_keeps_its_comments_through_canvas_edits(page, builder_server):
    builder_server.deploy(COMMENTED)
    open_editor(page, builder_server, "acme.sales", "report")
    tab(page, "YAML").click()
    wait_until(lambda: yaml_text(page) == COMMENTED)

    # A canvas edit (a new task dropped at the end) rewrites the YAML with every comment kept.
    page.locator('.lc-item[data-type="log"]').drag_to(page.locator(".lc-slot[data-list='[\"tasks\"]']").last)
    wait_until(lambda: "id: log_1" in yaml_text(page))
    text = yaml_text(page)
    for kept in ("# Nightly sales report: read me first.", "# where the team's flows live", "# Extract the rows",
                 "# quoted on purpose", "'done: {{ outputs.extract.vars }}'", "script: |"):
        assert kept in text, kept
    save(page, 2)
    assert builder_server.flow_source("acme.sales", "report").startswith("# Nightly sales report")
