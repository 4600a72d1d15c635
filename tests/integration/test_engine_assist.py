"""The builder's help through both Engines (in-process and REST): templates, secret names, KV expiry,
testing one task with pinned outputs, and expression previews rendered by the sandbox."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from textwrap import dedent

import httpx
import pytest

from engine.client import HttpEngine
from engine.local_engine import LocalEngine
from engine.model.inputs import InputError
from engine.service import Engine, Invalid, NotFound
from tests.integration.server_process import serve_in_thread

SECRET_VALUE = "s3cr3t-value-never-shown"


@dataclass
class Served:
    local: LocalEngine
    http: HttpEngine
    url: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from engine.api.app import create_app
    from engine.runtime.local import LocalRunner

    saved = os.environ.get("SECRET_API_TOKEN")
    os.environ["SECRET_API_TOKEN"] = base64.b64encode(SECRET_VALUE.encode()).decode()
    try:
        runner = LocalRunner(tmp_path_factory.mktemp("assist-home"), workers=2)
    finally:
        if saved is None:
            os.environ.pop("SECRET_API_TOKEN", None)
        else:
            os.environ["SECRET_API_TOKEN"] = saved
    local = LocalEngine(runner)
    with serve_in_thread(create_app(local, ui=False)) as url:
        http = HttpEngine(url, poll=0.05)
        yield Served(local, http, url)
        http.close()
    runner.close()


@pytest.fixture(params=["local", "http"])
def engine(request: pytest.FixtureRequest, served: Served) -> Engine:
    return served.local if request.param == "local" else served.http


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.lower().removeprefix("test_"))[:50].strip("-")
    return f"assist.{request.node.callspec.params.get('engine', 'both')}.{name}"


FLOW = """
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: extract
    type: return
    format: "hello {{ inputs.name }}"
  - id: shout
    type: return
    format: "{{ outputs.extract.value | upper }} / {{ inputs.name }}"
"""


def deploy(engine: Engine, ns: str) -> str:
    engine.deploy(f"id: f\nnamespace: {ns}\n" + dedent(FLOW).strip() + "\n")
    summary = engine.wait(engine.start(ns, "f", {}), timeout=30)
    assert summary.state == "SUCCESS"
    return summary.id


def test_templates_are_listed_and_opened_under_the_chosen_names(engine, ns):
    found = {t.id: t for t in engine.templates()}
    assert {"approval_step", "notebook_report"} <= set(found)
    source = engine.open_template("notebook_report", ns, "my_report")
    assert source.startswith("id: my_report\nnamespace: " + ns + "\n")
    assert engine.read_namespace_file(ns, "notebooks/sales_report.ipynb").startswith(b"{")
    engine.write_namespace_file(ns, "notebooks/sales_report.ipynb", b"{}")
    engine.open_template("notebook_report", ns, "again")  # an existing file is left as it is
    assert engine.read_namespace_file(ns, "notebooks/sales_report.ipynb") == b"{}"
    with pytest.raises(NotFound, match="no template 'nope'"):
        engine.open_template("nope", ns, "x")
    with pytest.raises(Invalid, match="flow id"):
        engine.open_template("approval_step", ns, "bad id")


def test_secret_names_are_listed_without_values(engine, served, ns):
    assert "API_TOKEN" in engine.secret_names(ns)
    raw = httpx.get(f"{served.url}/api/v1/namespaces/{ns}/secrets").text
    assert "API_TOKEN" in raw and SECRET_VALUE not in raw and base64.b64encode(SECRET_VALUE.encode()).decode() not in raw


def test_kv_entries_carry_an_expiry(engine, ns):
    entry = engine.kv_put(ns, "token", {"a": 1}, ttl="PT1H")
    assert entry.type == "JSON" and entry.expiration_date and entry.expiration_date > entry.updated
    listed = {e.key: e for e in engine.kv_list(ns)}
    assert listed["token"].expiration_date == entry.expiration_date
    assert engine.kv_put(ns, "plain", "x").expiration_date is None
    with pytest.raises(Invalid, match="ttl"):
        engine.kv_put(ns, "bad", 1, ttl="one hour")


def test_a_task_runs_alone_with_pinned_outputs_and_sample_inputs(engine, ns):
    earlier = deploy(engine, ns)
    test_id = engine.test_task(ns, "f", "shout", inputs={"name": "ada"}, pinned_execution_id=earlier)
    summary = engine.wait(test_id, timeout=30)
    assert summary.state == "SUCCESS"
    runs = {t.task_id: t for t in summary.task_runs}
    assert runs["shout"].outputs == {"value": "HELLO WORLD / ada"}  # pinned output, sample input
    assert runs["extract"].outputs == {"value": "hello world"}  # copied, not run again
    assert summary.flow_id == "f.tasktest" and summary.labels.get("system.taskTest") == "f.shout"
    assert [f.id for f in engine.search_flows(namespace=ns)] == ["f"]  # the one-task flow stays out of lists


def test_a_task_test_uses_the_edited_source_and_reports_its_failure(engine, ns):
    deploy(engine, ns)
    edited = f"id: f\nnamespace: {ns}\ntasks:\n  - id: only\n    type: fail\n    errorMessage: edited, not saved\n"
    summary = engine.wait(engine.test_task(ns, "f", "only", source=edited), timeout=30)
    assert summary.state == "FAILED"
    assert any("edited, not saved" in line.message for line in engine.logs(summary.id))
    with pytest.raises(Invalid, match="has no task 'ghost'"):
        engine.test_task(ns, "f", "ghost")
    with pytest.raises(InputError):
        engine.test_task(ns, "f", "shout", inputs={"name": ["not", "text"]})


def test_a_task_test_reading_an_output_it_has_not_got_fails_with_the_reason(engine, ns):
    deploy(engine, ns)
    summary = engine.wait(engine.test_task(ns, "f", "shout"), timeout=30)  # nothing pinned
    assert summary.state == "FAILED"
    assert any("extract" in line.message for line in engine.logs(summary.id, min_level="ERROR"))


def test_expression_preview_renders_in_the_sandbox_against_the_last_execution(engine, ns):
    assert engine.preview_expression(ns, "f", "{{ inputs.name }}").error.startswith(f"{ns}.f has not run yet")
    ex_id = deploy(engine, ns)
    preview = engine.preview_expression(ns, "f", "{{ outputs.extract.value | upper }}!", task_id="shout")
    assert (preview.value, preview.error, preview.execution_id) == ("HELLO WORLD!", None, ex_id)
    assert engine.preview_expression(ns, "f", "{{ inputs }}").value == '{"name": "world"}'
    missing = engine.preview_expression(ns, "f", "{{ outputs.nope.value }}")
    assert missing.value is None and "nope" in missing.error
    bounded = engine.preview_expression(ns, "f", "{{ range(1, 100000000) | join(',') }}")
    assert bounded.value is None and "limit" in bounded.error
    masked = engine.preview_expression(ns, "f", "token={{ secret('API_TOKEN') }}")
    assert masked.value is not None and SECRET_VALUE not in masked.value
