"""A keyboard-only user builds a flow: Tab, Shift+Tab, Enter, arrows and typing, never the mouse.

From a new flow's editor page (real ``lanner server local``), the user tabs to the
palette, walks it with the arrows to the Log task, adds it with Enter, tabs to the
form's message field, types it, tabs to Save and presses Enter; the flow stored
on the server (read through the REST API) is the one typed. Each Tab stop on the
way shows a visible focus ring.
"""

from __future__ import annotations

from typing import Any

import pytest

from builder.yaml_sync import parse
from tests.browser.conftest import wait_until
from tests.browser.conftest_pages import open_page, wait_canvas

pytestmark = pytest.mark.browser

# The element that has the keyboard focus, through Panel's shadow roots, and whether it shows it.
FOCUSED = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none'
    || style.borderColor !== getComputedStyle(el.parentElement || el).borderColor;
  let host = el, classes = [];
  while (host) {
    if (host.classList) classes.push(...host.classList);
    host = host.parentElement || (host.getRootNode() && host.getRootNode().host) || null;
  }
  return {tag: el.tagName.toLowerCase(), type: el.dataset.type || el.type || '', id: el.dataset.id || '',
          text: (el.innerText || el.value || '').slice(0, 30), classes, ring};
}"""


def focused(page: Any) -> dict[str, Any]:
    return page.evaluate(FOCUSED) or {"tag": "", "classes": [], "ring": False, "type": "", "id": "", "text": ""}


def tab_until(page: Any, wanted: Any, limit: int = 25, key: str = "Tab") -> list[dict[str, Any]]:
    """Press Tab (or Shift+Tab) until ``wanted(focused)`` holds; fails after ``limit`` presses. Returns the stops."""
    stops = []
    for _ in range(limit):
        page.keyboard.press(key)
        now = focused(page)
        stops.append(now)
        if wanted(now):
            return stops
    pytest.fail(f"{limit} presses of {key} never reached the wanted element; focus went: "
                + " > ".join(f"{s['tag']}.{'.'.join(c for c in s['classes'][:3])}" for s in stops))


def test_a_keyboard_user_adds_a_task_fills_it_and_saves(page, builder_server):
    open_page(page, builder_server.page_url("editor", namespace="acme.keys", id="by_keyboard"))
    wait_canvas(page)
    page.locator(".ln-start-hint").wait_for()

    # Tab from the top of the page to the palette's search box, then into the palette (one stop for all of it).
    stops = tab_until(page, lambda f: "lc-search" in f["classes"])
    page.keyboard.press("Tab")
    assert "lc-item" in focused(page)["classes"]
    # Arrows walk the palette to the Log task; Enter adds it, selected, its form open.
    for _ in range(60):
        if focused(page)["type"] == "log":
            break
        page.keyboard.press("ArrowDown")
    assert focused(page)["type"] == "log"
    assert focused(page)["ring"], "the focused palette item shows no focus ring"
    page.keyboard.press("Enter")
    page.locator('.lc-node[data-id="log_1"]').wait_for()
    page.locator(".lf-field-message input").first.wait_for()

    # Tab onwards: past the palette and the one task of the board, to the form's message field.
    stops += tab_until(page, lambda f: f["tag"] == "input" and "lf-field-message" in f["classes"])
    assert len([s for s in stops if "lc-item" in s["classes"]]) <= 2, "every palette item is a Tab stop"
    assert any(s["id"] == "log_1" for s in stops), "the added task was not on the way (the board is not reachable)"
    page.keyboard.type("typed with the keyboard alone")
    page.keyboard.press("Enter")
    page.locator(".ln-errors .ln-ok", has_text="valid").wait_for()

    # Back to Save with Shift+Tab; Enter saves.
    back = tab_until(page, lambda f: "ln-save" in f["classes"] and f["tag"] == "button", limit=40, key="Shift+Tab")
    assert all(s["tag"] for s in back), "the focus left the page on the way back (a trap or a lost focus)"
    assert focused(page)["ring"], "the focused Save button shows no focus ring"
    page.keyboard.press("Enter")
    page.locator(".ln-saved", has_text="Saved revision 1").wait_for()

    source = builder_server.flow_source("acme.keys", "by_keyboard")
    assert source is not None, "nothing was saved"
    data, _ = parse(source)
    assert data["tasks"] == [{"id": "log_1", "type": "log", "message": "typed with the keyboard alone"}]
    wait_until(lambda: page.locator(".ln-dirty").count() == 0)
