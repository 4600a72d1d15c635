"""The Executions, Logs and per-flow pages, and the execution page's tools, in a real browser.

One set of flows and executions is arranged once for the module through the real
server's REST API (namespaces ``hist.*``, which no other module uses); each test
opens a page, acts as a user would and checks what the page shows and what the
server's API then says. Tests that change an execution make their own.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import wait_until
from tests.browser.conftest_pages import fill, open_page, screenshot

pytestmark = pytest.mark.browser

REPORT = """id: report
namespace: hist.ops
tasks:
  - id: first
    type: log
    message: "report line for {{ labels.team }}"
  - id: detail
    type: log
    level: DEBUG
    message: debug detail
  - id: count
    type: metric_publish
    metrics:
      - {type: counter, name: rows, value: 3}
  - id: items
    type: for_each
    values: [a, b, c]
    tasks:
      - id: item
        type: log
        message: "item {{ taskrun.value }}"
  - id: last
    type: log
    message: report done
"""

FAILS = """id: fails
namespace: hist.ops
tasks:
  - id: before
    type: log
    message: before the failure
  - id: boom
    type: fail
    message: boom on purpose
  - id: after
    type: log
    message: ran after the failure
"""

SLEEPY = """id: sleepy
namespace: hist.kill
tasks:
  - id: nap
    type: sleep
    duration: PT60S
"""

CHILD = """id: child
namespace: hist.deps
tasks:
  - id: hello
    type: log
    message: child
"""

# Runs the child as a subflow and also listens to it (never started: the tests only read its page).
PARENT = """id: parent
namespace: hist.deps
tasks:
  - id: call
    type: subflow
    namespace: hist.deps
    flowId: child
triggers:
  - id: after_child
    type: flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlowCondition
        namespace: hist.deps
        flowId: child
"""

VERSIONED = """id: versioned
namespace: hist.rev
tasks:
  - id: say
    type: log
    message: {word}
"""


@pytest.fixture(scope="module")
def arranged(builder_server: Any) -> dict[str, list[str]]:
    """12 report executions (labels team:red / team:blue, in start order) and 3 failed ones, all ended."""
    for source in (REPORT, FAILS, SLEEPY, CHILD, PARENT, VERSIONED.format(word="one"),
                   VERSIONED.format(word="two")):
        builder_server.deploy(source)
    reports = []
    for i in range(12):  # started one after the other, run side by side
        r = builder_server.client.post("/api/v1/executions/hist.ops/report",
                                       params={"labels": f"team:{'red' if i % 2 else 'blue'}"})
        assert r.status_code == 200, r.text
        reports.append(r.json()["id"])
    fails = [builder_server.start("hist.ops", "fails") for _ in range(3)]
    for ex_id in reports:
        assert builder_server.wait(ex_id)["state"] == "SUCCESS"
    for ex_id in fails:
        assert builder_server.wait(ex_id)["state"] == "FAILED"
    return {"reports": reports, "fails": fails}


def tab(page: Any, title: str) -> Any:
    return page.locator(".bk-tab").filter(has_text=re.compile(f"^{title}$")).first


def rows(page: Any) -> list[str]:
    return page.locator(".ln-execution-row").evaluate_all("els => els.map(e => e.dataset.id)")


def history(server: Any, execution_id: str) -> list[str]:
    return [h["state"] for h in server.execution(execution_id)["stateHistory"]]


def failed_execution(server: Any) -> str:
    ex_id = server.start("hist.ops", "fails")
    assert server.wait(ex_id)["state"] == "FAILED"
    return ex_id


# --- Executions page -------------------------------------------------------------------------------------


def api_ids(server: Any, **params: str) -> list[str]:
    """Ids of the executions the REST API finds with these filters, in its order (newest first by default)."""
    r = server.client.get("/api/v1/executions/search", params={"size": 500, **params})
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["results"]]


def test_executions_filter_paginate_and_link(page, builder_server, arranged):
    report = {"namespace": "hist.ops", "flowId": "report"}
    every = api_ids(builder_server, **report)  # the 12 of the module, and replays other tests may have made
    assert set(arranged["reports"]) <= set(every) and every[-12:] == list(reversed(arranged["reports"]))
    open_page(page, builder_server.page_url("executions", **report, size="10"), ".ln-execution-row")
    page.locator(".ln-total", has_text=str(len(every))).wait_for()
    assert rows(page) == every[:10]  # newest first, one page of 10
    screenshot(page, "executions")
    page.locator(".ln-next-page button").click()
    page.locator(".ln-page", has_text="2").wait_for()
    wait_until(lambda: rows(page) == every[10:20], why=lambda: str(rows(page)))

    fill(page, ".ln-f-labels", "team:red")  # back to page 1, only the red ones
    red = api_ids(builder_server, **report, labels="team:red")
    assert set(arranged["reports"][1::2]) <= set(red) and not set(arranged["reports"][0::2]) & set(red)
    page.locator(".ln-total", has_text=str(len(red))).wait_for()
    wait_until(lambda: rows(page) == red[:10], why=lambda: str(rows(page)))

    page.locator(".ln-sort select").select_option("Oldest first")
    wait_until(lambda: rows(page) == red[::-1][:10], why=lambda: str(rows(page)))

    fill(page, ".ln-f-labels", "")
    fill(page, ".ln-f-flow", "")
    fill(page, ".ln-f-q", "fails")  # free text over ids, namespaces, flow ids and labels
    wait_until(lambda: rows(page) and set(arranged["fails"]) <= set(rows(page)) and not set(every) & set(rows(page)),
               why=lambda: str(rows(page)))
    assert all(p["flowId"] == "fails" for p in (builder_server.execution(ex_id) for ex_id in rows(page)))

    link = page.locator(f'.ln-execution-row[data-id="{arranged["fails"][0]}"] a.ln-open')
    assert link.get_attribute("href") == f"./execution?id={arranged['fails'][0]}"


def test_executions_state_filter_and_bulk_restart(page, builder_server, arranged):
    mine = [failed_execution(builder_server) for _ in range(2)]
    open_page(page, builder_server.page_url("executions", namespace="hist.ops", flowId="fails", state="FAILED"),
              f'.ln-execution-row[data-id="{mine[0]}"]')
    for ex_id in mine:
        page.locator(f".ln-select-{ex_id} input").check()
    page.locator(".ln-bulk-restart button", has_text="(2)").click()
    page.locator(".ln-bulk-message", has_text="Restarted 2 executions").wait_for()
    for ex_id in mine:  # restarted (and failed again: the flow always fails)
        wait_until(lambda ex_id=ex_id: "RESTARTED" in history(builder_server, ex_id), timeout=20,
                   why=lambda ex_id=ex_id: str(history(builder_server, ex_id)))
    untouched = arranged["fails"][0]
    assert "RESTARTED" not in history(builder_server, untouched)


def test_executions_bulk_kill_names_what_it_refused(page, builder_server, arranged):
    running = builder_server.start("hist.kill", "sleepy")
    builder_server.wait(running, {"RUNNING"})
    ended = arranged["reports"][0]
    open_page(page, builder_server.page_url("executions", q="hist.", size="100"), f'.ln-execution-row[data-id="{running}"]')
    for ex_id in (running, ended):
        page.locator(f".ln-select-{ex_id} input").check()
    page.locator(".ln-bulk-kill button", has_text="(2)").click()
    message = page.locator(".ln-bulk-message")
    message.locator(".ln-ok", has_text="Kill requested for 1 execution").wait_for()
    assert ended[:10] in message.locator(".ln-error").inner_text()  # an ended execution cannot be killed
    assert builder_server.wait(running, timeout=20)["state"] == "KILLED"


# --- Logs page -------------------------------------------------------------------------------------------


def log_total(server: Any, **params: str) -> int:
    r = server.client.get("/api/v1/logs/search", params=params)
    assert r.status_code == 200, r.text
    return r.json()["total"]


def test_logs_page_filters_paginates_and_links(page, builder_server, arranged):
    query = {"namespace": "hist.ops", "flowId": "report"}
    info, debug = log_total(builder_server, **query, minLevel="INFO"), log_total(builder_server, **query, minLevel="DEBUG")
    assert info >= 12 * 5 and debug == info + 12  # one DEBUG line per execution
    open_page(page, builder_server.page_url("logs", **query), ".ln-log-line")
    page.locator(".ln-log-total", has_text=str(info)).wait_for()  # INFO and above unless told otherwise
    assert "debug detail" not in page.locator(".ln-log-list").inner_text()
    page.locator(".ln-lf-level select").select_option("DEBUG")
    page.locator(".ln-log-total", has_text=str(debug)).wait_for()
    page.locator(".ln-log-list", has_text="debug detail").wait_for()
    screenshot(page, "logs")
    assert page.locator(".ln-log-line").count() == 50  # one page
    page.locator(".ln-log-next button").click()
    page.locator(".ln-log-page", has_text="2").wait_for()
    wait_until(lambda: page.locator(".ln-log-line").count() == min(50, debug - 50),
               why=lambda: f"{page.locator('.ln-log-line').count()} lines on page 2")

    fill(page, ".ln-lf-flow", "")
    fill(page, ".ln-lf-q", "report done")
    total = log_total(builder_server, namespace="hist.ops", minLevel="DEBUG", q="report done")
    page.locator(".ln-log-total", has_text=str(total)).wait_for()
    page.locator(".ln-log-page", has_text="1").wait_for()
    texts = page.locator(".ln-log-line").all_inner_texts()
    assert len(texts) == min(total, 50) and all("report done" in t and "hist.ops.report" in t for t in texts)
    first = page.locator(".ln-log-line").first
    ex_id = first.get_attribute("data-execution")
    assert first.locator("a.ln-log-open").get_attribute("href") == f"./execution?id={ex_id}"


# --- a flow's page -----------------------------------------------------------------------------------------


def test_flow_page_revisions_view_diff_and_restore(page, builder_server, arranged):
    revisions = builder_server.revisions("hist.rev", "versioned")
    first, latest = revisions[0], revisions[-1]
    open_page(page, builder_server.page_url("flow", namespace="hist.rev", id="versioned"), ".ln-flow-tabs")
    tab(page, "Revisions").click()
    page.locator(f'.ln-fr-row[data-revision="{latest}"]').wait_for()
    page.locator(".ln-fr-view select").select_option(str(first))
    page.locator(".ln-fr-source", has_text="message: one").wait_for()
    page.locator(".ln-fr-from select").select_option(str(first))
    page.locator(".ln-fr-to select").select_option(str(latest))
    diff = page.locator(".ln-fr-diff")
    diff.locator(".ln-diff-del", has_text="message: one").wait_for()
    diff.locator(".ln-diff-add", has_text="message: two").wait_for()

    page.locator(".ln-fr-restore button").click()
    page.locator(".ln-restored", has_text=f"Restored revision {first} as revision {latest + 1}").wait_for()
    assert builder_server.revisions("hist.rev", "versioned")[-1] == latest + 1
    assert "message: one" in builder_server.flow_source("hist.rev", "versioned")
    page.locator(f'.ln-fr-row[data-revision="{latest + 1}"]').wait_for()


def test_flow_page_dependencies_executions_and_triggers(page, builder_server, arranged):
    open_page(page, builder_server.page_url("flow", namespace="hist.deps", id="child"), ".ln-flow-tabs")
    tab(page, "Dependencies").click()
    page.locator(".ln-dep-called-by a", has_text="hist.deps.parent").wait_for()
    page.locator(".ln-dep-triggers a", has_text="hist.deps.parent").wait_for()
    screenshot(page, "flow")
    assert page.locator("ul.ln-dep-calls").count() == 0 and page.locator("ul.ln-dep-triggered-by").count() == 0
    page.locator(".ln-dep-called-by a", has_text="hist.deps.parent").click()
    page.wait_for_url("**/ui/flow?namespace=hist.deps&id=parent")
    tab(page, "Dependencies").click()
    page.locator(".ln-dep-calls a", has_text="hist.deps.child").wait_for()
    page.locator(".ln-dep-triggered-by a", has_text="hist.deps.child").wait_for()
    tab(page, "Triggers").click()
    page.locator('.ln-ft-row[data-trigger="after_child"]').wait_for()

    # A flow's executions are one click away on the Flows list.
    open_page(page, builder_server.page_url("flows", namespace="hist.ops"), '.ln-flow-row[data-flow="hist.ops.report"]')
    link = page.locator('.ln-flow-row[data-flow="hist.ops.report"] a.ln-flow-executions')
    assert link.get_attribute("href") == "./flow?namespace=hist.ops&id=report"


def test_flow_page_lists_its_executions(page, builder_server, arranged):
    every = api_ids(builder_server, namespace="hist.ops", flowId="report")
    open_page(page, builder_server.page_url("flow", namespace="hist.ops", id="report"), ".ln-execution-row")
    page.locator(".ln-total", has_text=str(len(every))).wait_for()
    assert rows(page) == every[:25]
    assert page.locator(".ln-f-namespace").count() == 0  # the flow is not a filter here


# --- the execution page's tools ------------------------------------------------------------------------------


def test_execution_page_previous_next_history_metrics_and_labels(page, builder_server, arranged):
    reports = arranged["reports"]
    middle = reports[5]
    open_page(page, builder_server.page_url("execution", id=middle), '.ln-exec-state[data-state="SUCCESS"]')
    assert page.locator(".ln-log-level select").input_value() == "INFO"
    assert "debug detail" not in page.locator(".ln-log-view").inner_text()
    assert re.fullmatch(r"just now|\d+ (s|min|h) ago", page.locator(".ln-exec-header .ln-when").inner_text())

    tab(page, "State history").click()
    execution_states = page.locator(".ln-history-execution .ln-history-row").evaluate_all(
        "els => els.map(e => e.dataset.state)")
    assert execution_states[0] == "CREATED" and execution_states[-1] == "SUCCESS" and "RUNNING" in execution_states
    tab(page, "Metrics").click()
    value = page.locator('.ln-metric-row[data-name="rows"] .ln-metric-value')
    value.wait_for()
    assert value.text_content() == "3"

    fill(page, ".ln-label-input", "owner:ana reviewed:yes")
    page.locator(".ln-label-add button").click()
    page.locator(".ln-exec-labels", has_text="owner:ana").wait_for()
    labels = builder_server.execution(middle)["labels"]
    assert labels["owner"] == "ana" and labels["reviewed"] == "yes" and labels["team"] == "red"

    assert page.locator("a.ln-prev").get_attribute("href") == f"./execution?id={reports[4]}"
    page.locator("a.ln-next").click()
    page.wait_for_url(f"**/ui/execution?id={reports[6]}")
    page.locator('.ln-exec-state[data-state="SUCCESS"]').wait_for()
    assert page.locator("a.ln-prev").get_attribute("href") == f"./execution?id={middle}"


def test_execution_page_change_state_lets_the_flow_go_on(page, builder_server, arranged):
    ex_id = failed_execution(builder_server)
    open_page(page, builder_server.page_url("execution", id=ex_id), '.ln-exec-state[data-state="FAILED"]')
    option = page.locator(".ln-state-run option", has_text="boom · FAILED")
    page.locator(".ln-state-run select").select_option(option.get_attribute("value"))
    page.locator(".ln-state-new select").select_option("SUCCESS")
    page.locator(".ln-state-change button").click()
    page.locator('.ln-exec-state[data-state="SUCCESS"]').wait_for(timeout=20000)
    body = builder_server.execution(ex_id)
    runs = {r["taskId"]: r["state"] for r in body["taskRuns"]}
    assert runs["boom"] == "SUCCESS" and runs["after"] == "SUCCESS"  # the task after it ran
    assert [h["state"] for h in body["stateHistory"]][-3:] == ["RESTARTED", "RUNNING", "SUCCESS"]


def test_execution_page_replay_from_a_chosen_task(page, builder_server, arranged):
    original = arranged["reports"][2]
    before = builder_server.execution(original)
    open_page(page, builder_server.page_url("execution", id=original), '.ln-exec-state[data-state="SUCCESS"]')
    option = page.locator(".ln-replay-from option", has_text="last · SUCCESS")
    page.locator(".ln-replay-from select").select_option(option.get_attribute("value"))
    page.locator(".ln-replay-task button").click()
    page.wait_for_url(re.compile(r".*/ui/execution\?id=(?!" + original + r")\w+"))
    new_id = page.url.rsplit("=", 1)[1]
    page.locator('.ln-exec-state[data-state="SUCCESS"]').wait_for(timeout=20000)
    replay = builder_server.wait(new_id)
    old_runs = {r["taskId"]: r for r in before["taskRuns"] if r["value"] is None}
    new_runs = {r["taskId"]: r for r in replay["taskRuns"] if r["value"] is None}
    assert new_runs["first"]["startDate"] == old_runs["first"]["startDate"]  # copied, not run again
    assert new_runs["last"]["startDate"] != old_runs["last"]["startDate"]    # run again
    assert replay["labels"]["team"] == before["labels"]["team"]
