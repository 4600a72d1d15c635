"""What callers send is data, and secrets never come back: through the real server and the UI's services.

* A template in a webhook body or an execution input is never rendered: it
  stays ``{{ 7*7 }}`` in ``trigger.body`` / ``inputs``, in task outputs and in
  the log line of a task that prints it (the log shows ``{{ 7*7 }}``, not 49).
* A secret used by a flow is masked in every API answer (execution, search,
  logs, log stream) and in what the UI's services read.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from textwrap import dedent
from typing import Any

from builder.services import Services
from engine.local_engine import LocalEngine
from engine.model.state import TERMINAL
from engine.runtime.local import LocalRunner
from engine.runtime.secrets import SecretStore
from tests.security.conftest import FLOWS, SECRET, WEBHOOK_KEY, Server, json_body

TEMPLATE = "{{ 7*7 }}"
JSON = {"Content-Type": "application/json"}


def _wait(server: Server, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status, _, raw = server.request("GET", f"/api/v1/executions/{execution_id}")
        assert status == 200, raw[:300]
        summary = json_body(raw)
        if summary["state"] in TERMINAL:
            return summary
        assert time.monotonic() < deadline, summary["state"]
        time.sleep(0.1)


def _logs(server: Server, execution_id: str) -> list[dict[str, Any]]:
    status, _, raw = server.request("GET", f"/api/v1/logs/{execution_id}")
    assert status == 200
    return json_body(raw)


def _output(summary: dict[str, Any], task_id: str) -> Any:
    (tr,) = [t for t in summary["taskRuns"] if t["taskId"] == task_id]
    return tr["outputs"]


def test_a_template_in_a_webhook_body_stays_literal(server: Server):
    body = json.dumps({"text": TEMPLATE, "other": "{% if true %}x{% endif %}"}).encode()
    status, _, raw = server.request("POST", f"/api/v1/executions/webhook/sec.api/hook/{WEBHOOK_KEY}", body=body,
                                    headers=JSON, auth=False)
    assert status == 200, raw[:300]
    summary = _wait(server, json_body(raw)["id"])
    assert summary["state"] == "SUCCESS", summary
    assert summary["trigger"]["body"] == {"text": TEMPLATE, "other": "{% if true %}x{% endif %}"}
    assert _output(summary, "keep") == {"value": TEMPLATE}
    said = [row["message"] for row in _logs(server, summary["id"]) if row["taskId"] == "say"]
    assert len(said) == 1 and TEMPLATE in said[0] and "49" not in said[0], said


def test_a_template_in_a_text_webhook_body_stays_literal(server: Server):
    status, _, raw = server.request("POST", f"/api/v1/executions/webhook/sec.api/hook/{WEBHOOK_KEY}",
                                    body=TEMPLATE.encode(), headers={"Content-Type": "text/plain"}, auth=False)
    assert status == 200, raw[:300]
    summary = _wait(server, json_body(raw)["id"])
    assert summary["trigger"]["body"] == TEMPLATE
    said = [row["message"] for row in _logs(server, summary["id"]) if row["taskId"] == "say"]
    assert said == [TEMPLATE]


def test_a_template_in_an_execution_input_stays_literal(server: Server):
    for kind, body, headers in (
        ("json", json.dumps({"x": TEMPLATE}).encode(), JSON),
        ("multipart", (f'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n{TEMPLATE}\r\n--b--\r\n').encode(),
         {"Content-Type": "multipart/form-data; boundary=b"}),
    ):
        status, _, raw = server.request("POST", "/api/v1/executions/sec.api/echo?wait=true", body=body, headers=headers)
        assert status == 200, (kind, raw[:300])
        summary = json_body(raw)
        assert summary["state"] == "SUCCESS", (kind, summary)
        assert summary["inputs"] == {"x": TEMPLATE}
        assert _output(summary, "keep") == {"value": TEMPLATE}
        said = [row["message"] for row in _logs(server, summary["id"]) if row["taskId"] == "say"]
        assert said == [TEMPLATE], (kind, said)


def _forms(value: str) -> list[bytes]:
    b64 = base64.b64encode(value.encode()).decode()
    return [value.encode(), b64.encode(), b64.rstrip("=").encode(), value[:12].encode()]


def test_secrets_are_masked_in_every_api_answer(server: Server):
    status, _, raw = server.request("POST", "/api/v1/executions/sec.api/leak?wait=true", body=b"{}", headers=JSON)
    assert status == 200, raw[:300]
    summary = json_body(raw)
    assert summary["state"] in ("SUCCESS", "WARNING"), summary
    ex_id = summary["id"]
    answers = {"start": raw}
    for path in (f"/api/v1/executions/{ex_id}", f"/api/v1/logs/{ex_id}", "/api/v1/executions/search?namespace=sec.api",
                 "/api/v1/executions/search?flowId=leak&namespace=sec.api", f"/api/v1/logs/{ex_id}/follow"):
        status, _, raw = server.request("GET", path, timeout=30)
        assert status == 200, (path, raw[:200])
        answers[path] = raw
    logs = json_body(answers[f"/api/v1/logs/{ex_id}"])
    messages = [row["message"] for row in logs]
    assert "the token is ******" in messages
    assert "b64 ******" in messages
    assert summary["outputs"] == {"token": "******"}
    assert _output(summary, "script")["vars"] == {"token": "******"}
    assert b"the token is ******" in answers[f"/api/v1/logs/{ex_id}/follow"]
    for path, raw in answers.items():
        for form in _forms(SECRET):
            assert form not in raw, f"{path} leaks {form[:6]!r}..."


def test_the_ui_services_read_masked_data(lanner_home: Path):
    secrets = SecretStore(environ={"SECRET_TOKEN": base64.b64encode(SECRET.encode()).decode()})
    with LocalRunner(lanner_home, workers=2, secrets=secrets) as runner:
        flow = runner.deploy(dedent(FLOWS["leak.yaml"]))
        ex_id = runner.start_execution(flow.namespace, flow.id, {})
        runner.wait(ex_id, timeout=60)
        ui = Services(LocalEngine(runner))
        seen = json.dumps([ui.summary(ex_id), ui.logs(ex_id), ui.executions(namespace="sec.api")], default=str).encode()
    assert b"the token is ******" in seen
    for form in _forms(SECRET):
        assert form not in seen
