"""The editor page's YAML tab on CodeMirror 6, against the real ``lanner server local``.

A Save clicked right after typing keeps what was typed; completion offers task
types, properties and ``outputs.<task>`` of the flow itself; the task type under
the cursor is documented on hover.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import wait_until
from tests.browser.conftest_pages import open_page, screenshot, wait_canvas, yaml_text

pytestmark = pytest.mark.browser

FLOW = """id: {id}
namespace: acme.yaml
tasks:
  - id: fetch
    type: log
    message: first
  - id: report
    type: log
    message: done
"""


def tab(page: Any, title: str) -> Any:
    return page.locator(".bk-tab").filter(has_text=re.compile(f"^{title}$")).first


def open_yaml_tab(page: Any, server: Any, flow_id: str) -> Any:
    server.deploy(FLOW.format(id=flow_id))
    open_page(page, server.page_url("editor", namespace="acme.yaml", id=flow_id))
    wait_canvas(page)
    tab(page, "YAML").click()
    content = page.locator(".ln-yaml .cm-content").first
    content.wait_for()
    wait_until(lambda: "namespace: acme.yaml" in yaml_text(page))
    return content


def cursor_to(page: Any, text: str, end: bool = True) -> None:
    """Put the editor's cursor just after (or before) the first occurrence of ``text``."""
    page.evaluate("""([text, end]) => {
      const find = (root) => { for (const el of root.querySelectorAll('*')) { if (el.cmView) return el.cmView;
        if (el.shadowRoot) { const v = find(el.shadowRoot); if (v) return v } } return null };
      const view = find(document);
      const at = view.state.doc.toString().indexOf(text) + (end ? text.length : 0);
      view.focus();
      view.dispatch({selection: {anchor: at}});
    }""", [text, end])


def test_a_save_right_after_typing_keeps_the_typed_text(page, builder_server):
    open_yaml_tab(page, builder_server, "typed_then_saved")
    cursor_to(page, "message: done")
    page.keyboard.type(" and typed")
    page.locator(".ln-save button").click()  # no pause: the editor's text must reach the server first
    page.locator(".ln-saved", has_text="Saved revision 2").wait_for()
    assert "message: done and typed\n" in builder_server.flow_source("acme.yaml", "typed_then_saved")


def edit(page: Any, insert: str, at_end_of: str | None = None) -> None:
    """Insert ``insert`` after ``at_end_of`` (or at the end of the text) and put the cursor after it."""
    page.evaluate("""([insert, after]) => {
      const find = (root) => { for (const el of root.querySelectorAll('*')) { if (el.cmView) return el.cmView;
        if (el.shadowRoot) { const v = find(el.shadowRoot); if (v) return v } } return null };
      const view = find(document);
      const text = view.state.doc.toString();
      const at = after === null ? text.length : text.indexOf(after) + after.length;
      view.focus();
      view.dispatch({changes: {from: at, insert}, selection: {anchor: at + insert.length}});
    }""", [insert, at_end_of])


def options(page: Any) -> list[str]:
    """The labels of the open completion list (waits for it)."""
    items = page.locator(".cm-tooltip-autocomplete li")
    items.first.wait_for()
    return items.evaluate_all("els => els.map(e => e.querySelector('.cm-completionLabel').textContent)")


def test_completion_offers_types_properties_and_the_flows_outputs_and_documents_the_task(page, builder_server):
    open_yaml_tab(page, builder_server, "assisted")
    doc = page.locator(".ln-doc")

    # A task type, from the schema's type names; Enter takes the highlighted one.
    edit(page, "  - id: third\n    type: ")
    page.keyboard.type("pyth")
    assert options(page)[0] == "python", options(page)  # Lanner's own name first, Kestra's names after
    page.keyboard.press("Enter")
    wait_until(lambda: "    type: python" in yaml_text(page), why=lambda: yaml_text(page))
    # The documentation panel follows the cursor: it describes the task the cursor is in.
    wait_until(lambda: doc.get_attribute("data-type") == "python", why=lambda: doc.inner_text())
    assert "Python script" in doc.inner_text() and "script" in doc.inner_text()

    # A property of that type.
    edit(page, "\n    scri")
    page.keyboard.type("p")
    assert "script" in options(page)
    page.locator(".cm-tooltip-autocomplete li", has_text="script").first.click()
    wait_until(lambda: re.search(r"\n    script: *\S*", yaml_text(page)), why=lambda: yaml_text(page))
    edit(page, "print('third')")

    # Inside {{ }}: the flow's own task ids under outputs., the Log task documented with its required message.
    edit(page, "", at_end_of="message: done")
    wait_until(lambda: doc.get_attribute("data-type") == "log", why=lambda: doc.inner_text())
    assert "message (required)" in doc.inner_text()
    page.keyboard.type(" {{ outputs.")
    offered = options(page)
    assert {"outputs.fetch", "outputs.report", "outputs.third", "outputs.third.vars"} <= set(offered), offered
    screenshot(page, "yaml-editor")  # the README's picture: completion open, the task documented below
    page.keyboard.type("thi")
    wait_until(lambda: options(page)[0] == "outputs.third", why=lambda: str(options(page)))
    page.keyboard.press("Enter")
    wait_until(lambda: "message: done {{ outputs.third}}" in yaml_text(page), why=lambda: yaml_text(page))
