"""Templates gallery, Namespace page, "Test this task" and expression preview (issue 17), on the real server.

Each test arranges its own namespace through the REST API and checks what the pages show and what
the server stored: a template opened, saved and run; namespace files uploaded, edited and deleted,
KV entries set with an expiry and deleted, secret names shown without their values; one task run
alone with pinned outputs and sample inputs; a field's expression previewed as a value and as an error.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import wait_until
from tests.browser.conftest_pages import BROWSER_SECRET, fill, open_page, wait_canvas

pytestmark = pytest.mark.browser

# Ace editors live in Panel's shadow roots: set the text of the one with the given CSS class.
ACE_SET = """([cls, text]) => {
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.classList && el.classList.contains(cls)) {
        const found = el.shadowRoot && el.shadowRoot.querySelector('.ace_editor');
        if (found && found.env) { found.env.editor.setValue(text, 1); found.env.editor.blur(); return true; }
      }
      if (el.shadowRoot && walk(el.shadowRoot)) return true;
    }
    return false;
  };
  return walk(document);
}"""

FLOW = """id: greet
namespace: {ns}
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: extract
    type: return
    format: "hello {{{{ inputs.name }}}}"
  - id: shout
    type: return
    format: "{{{{ outputs.extract.value | upper }}}} {{{{ inputs.name }}}}"
  - id: say
    type: log
    message: "said {{{{ outputs.extract.value }}}}"
"""


def greet_flow_run_once(server: Any, ns: str) -> str:
    server.deploy(FLOW.format(ns=ns))
    ex_id = server.start(ns, "greet")
    assert server.wait(ex_id)["state"] == "SUCCESS"
    return ex_id


def select_task(page: Any, task_id: str) -> None:
    page.locator(f'.lc-node[data-id="{task_id}"]').click()
    page.locator(".lf-field-id input").first.wait_for()
    wait_until(lambda: page.locator(".lf-field-id input").first.input_value() == task_id, timeout=15)


def test_a_template_from_the_gallery_opens_saves_and_runs(page, builder_server):
    open_page(page, builder_server.page_url("flows"), ".ln-template-gallery")
    cards = page.locator(".ln-tpl")
    assert cards.count() >= 6
    card = page.locator('.ln-tpl[data-template="scheduled_report"]').first.text_content() or ""
    assert "Python script" in card and "weekday" in card, card
    fill(page, ".ln-new-namespace", "tpl.browser")
    fill(page, ".ln-new-id", "morning_report")
    page.locator(".ln-use-template-scheduled_report button").click()
    page.wait_for_url("**/ui/editor?*template=scheduled_report*")
    wait_canvas(page)
    page.locator('.lc-node[data-id="build_report"]').wait_for()
    page.locator(".ln-title", has_text="tpl.browser.morning_report (new)").wait_for()
    page.locator(".ln-save button").click()
    page.locator(".ln-saved", has_text="Saved revision 1").wait_for()
    stored = builder_server.flow_source("tpl.browser", "morning_report")
    assert stored is not None and "cron: \"0 7 * * 1-5\"" in stored
    summary = builder_server.wait(builder_server.start("tpl.browser", "morning_report", {"day": "2026-02-02"}))
    assert summary["state"] == "SUCCESS" and summary["outputs"] == {"total": 259.75}


def test_namespace_page_files_kv_and_secret_names(page, builder_server):
    ns, client = "nsui.browser", builder_server.client
    open_page(page, builder_server.page_url("namespace", ns=ns), ".ln-ns-tabs")
    # Upload a file into a folder; it is listed and stored.
    page.locator(".ln-ns-upload input[type=file]").set_input_files(
        {"name": "clean.py", "mimeType": "text/x-python", "buffer": b"print('v1')\n"})
    fill(page, ".ln-ns-upload-dir", "scripts")
    page.locator(".ln-ns-upload-button button").click()
    page.locator('.ln-ns-file[data-path="scripts/clean.py"]').wait_for()
    assert client.get(f"/api/v1/namespaces/{ns}/files", params={"path": "scripts/clean.py"}).content == b"print('v1')\n"
    # Open it, edit the text, save: the server has the new text.
    page.locator(".ln-ns-file-row", has=page.locator('[data-path="scripts/clean.py"]')).locator(".ln-ns-open button").click()
    page.locator(".ln-ns-editing", has_text="scripts/clean.py").wait_for()
    wait_until(lambda: page.evaluate(ACE_SET, ["ln-ns-code", "print('v2')\n"]), timeout=15)
    page.locator(".ln-ns-save button").click()
    page.locator(".ln-ns-message", has_text="Saved scripts/clean.py").wait_for()
    assert client.get(f"/api/v1/namespaces/{ns}/files", params={"path": "scripts/clean.py"}).content == b"print('v2')\n"
    # Delete asks first, then the file is gone.
    page.locator(".ln-ns-delete button").first.click()
    page.locator(".ln-ns-delete-confirm button").click()
    page.locator(".ln-ns-message", has_text="Deleted scripts/clean.py").wait_for()
    assert page.locator(".ln-ns-file").count() == 0
    assert client.get(f"/api/v1/namespaces/{ns}/files", params={"path": "scripts/clean.py"}).status_code == 404

    # KV: a NUMBER with an expiry, then deleted.
    page.locator(".bk-tab", has_text="KV store").click()
    fill(page, ".ln-kv-key", "threshold")
    page.locator(".ln-kv-type select").select_option("NUMBER")
    page.locator(".ln-kv-value textarea").fill("42")
    fill(page, ".ln-kv-ttl", "PT1H")
    page.locator(".ln-kv-set button").click()
    row = page.locator('.ln-kv-row[data-key="threshold"]')
    row.wait_for()
    assert "NUMBER" in row.inner_text() and "42" in row.inner_text() and "never" not in row.inner_text()
    stored = client.get(f"/api/v1/namespaces/{ns}/kv/threshold").json()
    assert stored["value"] == 42 and stored["type"] == "NUMBER" and stored["expirationDate"]
    page.locator(".ln-kv-value textarea").fill("not a number")
    page.locator(".ln-kv-set button").click()
    page.locator(".ln-ns-message .ln-error", has_text="is not a number").wait_for()
    page.locator(".ln-kv-delete button").first.click()
    row.wait_for(state="detached")
    assert client.get(f"/api/v1/namespaces/{ns}/kv/threshold").status_code == 404

    # Secrets: the name, never the value.
    page.locator(".bk-tab", has_text="Secrets").click()
    page.locator(".ln-secret-name", has_text=BROWSER_SECRET[0]).wait_for()
    assert BROWSER_SECRET[1] not in page.content()


def test_test_this_task_and_expression_preview_in_the_side_panel(page, builder_server):
    ns = "tasktest.browser"
    pinned = greet_flow_run_once(builder_server, ns)
    open_page(page, builder_server.page_url("editor", namespace=ns, id="greet"))
    wait_canvas(page)

    # Test this task: the earlier task's output pinned from the last execution, the input from the sample.
    select_task(page, "shout")
    page.locator(".ln-task-test-open button").click()
    assert page.locator(".ln-test-pin select").input_value().startswith(pinned[:10])
    assert "name: world" in page.locator(".ln-test-inputs textarea").input_value()
    page.locator(".ln-test-inputs textarea").fill("name: Ada")
    page.locator(".ln-test-run button").click()
    page.locator(".ln-test-state", has_text="SUCCESS").wait_for(timeout=30_000)
    assert '"value": "HELLO WORLD Ada"' in page.locator(".ln-test-outputs").inner_text()
    # A task that logs: its lines show in the panel.
    select_task(page, "say")
    page.locator(".ln-task-test-open button").click()
    page.locator(".ln-test-run button").click()
    page.locator(".ln-test-state", has_text="SUCCESS").wait_for(timeout=30_000)
    assert "said hello world" in page.locator(".ln-test-logs").inner_text()
    # Expression preview: shown when the form opens, then for what is typed (debounced), value or error.
    preview = page.locator(".lf-preview-message")
    preview.locator(".lf-preview-value", has_text="= said hello world").wait_for()
    box = page.locator(".lf-field-message input").first
    box.fill("")
    box.press_sequentially("{{ outputs.extract.value | upper }}!", delay=5)
    preview.locator(".lf-preview-value", has_text="= HELLO WORLD!").wait_for()
    box.fill("")
    box.press_sequentially("{{ outputs.nope.value }}", delay=5)
    preview.locator(".lf-preview-error", has_text="'outputs' has no attribute 'nope'").wait_for()

    tests = [e for e in builder_server.executions(ns) if e["flowId"] == "greet.tasktest"]
    assert len(tests) == 2
    listed = builder_server.client.get("/api/v1/flows/search", params={"namespace": ns}).json()["results"]
    assert [f["id"] for f in listed] == ["greet"]
