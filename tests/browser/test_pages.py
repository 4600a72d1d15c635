"""Builder pages in a real browser: inline errors block save, the dashboard shows real executions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest_pages import builder_server, screenshot  # noqa: F401 - fixtures

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


def fill(page: Any, selector: str, text: str) -> None:
    box = page.locator(f"{selector} input").first
    box.fill(text)
    box.press("Enter")


def test_an_invalid_property_shows_an_inline_error_and_blocks_save(page, builder_server):  # noqa: F811
    builder_server.deploy(FLOW)
    page.goto(builder_server.page_url("editor", namespace="acme.ops", id="nightly"))
    page.locator('.lc-node[data-id="hello"]').click()
    page.locator(".lf-field-message input").first.wait_for()
    fill(page, ".lf-field-id", "bad id!")
    page.locator(".lf-error-text").first.wait_for()
    assert "id" in page.locator(".lf-error-text").first.inner_text()
    page.locator(".ln-save button").click()
    page.locator(".ln-status", has_text="Not saved").wait_for()
    assert builder_server.revisions("acme.ops", "nightly") == [1]


def test_flows_dashboard_and_triggers_show_what_the_store_holds(page, builder_server):  # noqa: F811
    builder_server.deploy(FLOW)
    ids = [builder_server.start("acme.ops", "nightly") for _ in range(2)]
    for ex_id in ids:
        builder_server.wait(ex_id, timeout=20)

    page.goto(builder_server.page_url("flows"))
    page.locator('.ln-flow-row[data-flow="acme.ops.nightly"]').wait_for()
    assert "SUCCESS" in page.locator('.ln-flow-row[data-flow="acme.ops.nightly"]').inner_text()
    screenshot(page, "flows")

    page.goto(builder_server.page_url("dashboard"))
    for ex_id in ids:
        page.locator(f'.ln-recent-row[data-id="{ex_id}"]').wait_for()
    total = int(page.locator(".ln-kpi-total").inner_text())
    assert total >= 2
    screenshot(page, "dashboard")

    page.goto(builder_server.page_url("triggers"))
    row = page.locator('.ln-trigger-row[data-trigger="every_night"]')
    row.wait_for()
    assert "+01:00" in row.inner_text() or "+02:00" in row.inner_text()  # next run in Europe/Paris
    screenshot(page, "triggers")
