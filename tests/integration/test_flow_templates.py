"""Every template "New flow" offers runs green, against local counterparts (HTTP API, SQLite, a folder, Slack).

Each template is opened as a user would (``open_template`` under a namespace and id of the test), deployed
and run on one shared runner with a scheduler, so the file trigger and the flow trigger fire for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine import templates
from engine.local_engine import LocalEngine
from engine.model.views import ExecutionSummary

NS = "company.tpl"
ORDERS = [{"id": 1, "customer": "Ada", "amount": 120.5}, {"id": 2, "customer": "Linus", "amount": 80},
          {"id": 3, "customer": "Grace", "amount": 42.25}]


class Counterpart:
    """One local HTTP server: GET /orders answers the orders, POST /slack records the message."""

    def __init__(self) -> None:
        self.posts: list[Any] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = json.dumps(ORDERS).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                server.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    from engine.runtime.local import LocalRunner
    from engine.triggers.scheduler import Scheduler

    runner = LocalRunner(tmp_path_factory.mktemp("templates-home"), workers=4)
    scheduler = Scheduler(runner)
    scheduler.start()
    yield LocalEngine(runner, scheduler=scheduler)
    scheduler.stop()
    runner.close()


@pytest.fixture(scope="module")
def counterpart() -> Iterator[Counterpart]:
    c = Counterpart()
    yield c
    c.httpd.shutdown()
    c.httpd.server_close()


@pytest.fixture
def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "127.0.0.1")


def deploy(engine: LocalEngine, template_id: str, replace: dict[str, str] | None = None) -> str:
    source = engine.open_template(template_id, NS, template_id)
    for old, new in (replace or {}).items():
        assert old in source, f"the template {template_id} no longer holds {old!r}"
        source = source.replace(old, new)
    engine.deploy(source)
    return template_id


def run(engine: LocalEngine, flow_id: str, inputs: dict[str, Any] | None = None) -> ExecutionSummary:
    summary = engine.wait(engine.start(NS, flow_id, inputs or {}), timeout=60)
    assert summary.state == "SUCCESS", [(t.task_id, t.state) for t in summary.task_runs]
    return summary


def outputs(summary: ExecutionSummary, task_id: str) -> dict[str, Any]:
    return next(t.outputs for t in summary.task_runs if t.task_id == task_id)


def test_the_catalog_offers_six_available_stories_with_what_they_use():
    found = {t.id: t for t in templates.catalog()}
    assert set(found) >= {"scheduled_report", "file_arrival", "approval_step", "api_to_database", "notebook_report",
                          "alert_on_failure"}
    assert all(t.available and t.story and t.uses for t in found.values()), [t.problem for t in found.values()]
    assert found["api_to_database"].plugins == ["lanner-plugin-jdbc"]
    assert "Pause for approval" in found["approval_step"].uses


def test_scheduled_report(engine):
    summary = run(engine, deploy(engine, "scheduled_report"), {"day": "2026-01-05"})
    assert summary.outputs == {"total": 259.75}
    assert outputs(summary, "build_report")["vars"]["day"] == "2026-01-05"
    report = outputs(summary, "build_report")["outputFiles"]["report.csv"]
    assert "north,162.0" in engine.download(summary.id, report).read().decode()


def test_file_arrival_fires_on_a_new_csv(engine, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    flow_id = deploy(engine, "file_arrival", {"/data/incoming": str(inbox), "interval: PT30S": "interval: PT1S"})
    (inbox / "leads.csv").write_text("email,amount\nada@example.com,10\nnot-an-email,5\nbob@example.com,-1\n")
    summary = wait_for_execution(engine, flow_id)
    assert outputs(summary, "clean")["vars"] == {"kept": 1, "rejected": 2}
    assert any("2 row(s)" in line.message for line in engine.logs(summary.id, min_level="WARN"))
    assert (inbox / ".processed" / "leads.csv").is_file()


def test_approval_step_waits_for_a_decision(engine):
    flow_id = deploy(engine, "approval_step")
    ex_id = engine.start(NS, flow_id, {"amount": 2500})
    deadline = time.monotonic() + 30
    while (state := engine.summary(ex_id).state) != "PAUSED":
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    engine.resume(ex_id, {"approved": False, "comment": "over budget"})
    summary = engine.wait(ex_id, timeout=30)
    assert summary.state == "SUCCESS"
    assert {t.task_id for t in summary.task_runs} >= {"approval", "rejected"}
    assert any("rejected: over budget" in line.message for line in engine.logs(ex_id))


def test_api_to_database_loads_the_orders(engine, counterpart, allow_local, tmp_path):
    flow_id = deploy(engine, "api_to_database")
    inputs = {"api_url": f"{counterpart.url}/orders", "database": str(tmp_path / "orders.sqlite")}
    run(engine, flow_id, inputs)
    summary = run(engine, flow_id, inputs)  # a second load replaces rows by id
    assert summary.outputs == {"orders": 3}
    assert outputs(summary, "count")["row"]["total"] == 242.75


def test_notebook_report_runs_the_notebook_it_adds_to_the_namespace(engine):
    flow_id = deploy(engine, "notebook_report")
    assert "notebooks/sales_report.ipynb" in {f.path for f in engine.namespace_files(NS)}
    summary = run(engine, flow_id, {"region": "north"})
    out = outputs(summary, "report")
    assert out["vars"] == {"rows": 2, "total": 162.0}
    assert out["report"].startswith("lanner:///")


def test_alert_on_failure_posts_when_a_flow_of_the_namespace_fails(engine, counterpart, allow_local):
    source = engine.open_template("alert_on_failure", NS, "alert_on_failure")
    source = source.replace("defaults: \"{{ secret('SLACK_WEBHOOK') }}\"", f"defaults: {counterpart.url}/slack")
    engine.deploy(source)
    engine.deploy(f"id: nightly\nnamespace: {NS}.sales\ntasks:\n  - id: boom\n    type: fail\n    errorMessage: disk full\n")
    failed = engine.wait(engine.start(f"{NS}.sales", "nightly"), timeout=30)
    assert failed.state == "FAILED"
    alert = wait_for_execution(engine, "alert_on_failure")
    assert alert.trigger is not None and alert.trigger["executionId"] == failed.id
    texts = [p["text"] for p in counterpart.posts if "text" in p]
    assert any(f"{NS}.sales.nightly" in t and failed.id in t for t in texts), texts


def wait_for_execution(engine: LocalEngine, flow_id: str, timeout: float = 30) -> ExecutionSummary:
    """The first execution of a flow a trigger started, once it has ended SUCCESS."""
    deadline = time.monotonic() + timeout
    while True:
        found = engine.search_executions(namespace=NS, flow_id=flow_id, size=1).results
        if found and found[0].state in ("SUCCESS", "WARNING", "FAILED", "KILLED"):
            summary = engine.wait(found[0].id, timeout=5)
            assert summary.state == "SUCCESS", [(t.task_id, t.state) for t in summary.task_runs]
            return summary
        assert time.monotonic() < deadline, f"no execution of {flow_id} ended within {timeout} s"
        time.sleep(0.1)

