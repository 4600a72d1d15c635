"""End to end over HTTP only: a real `lanner server local` subprocess, driven with httpx."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server_process import ServerProcess, wait_for, wait_state

YAML = {"Content-Type": "application/x-yaml"}

GREET = """
id: greet
namespace: api.test
labels:
  team: qa
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    defaults: 1
    min: 1
    max: 5
tasks:
  - id: hello
    type: log
    message: "Hello {{ inputs.name }} x{{ inputs.count }}"
  - id: debug
    type: log
    level: DEBUG
    message: "debug line"
  - id: value
    type: return
    format: "{{ inputs.name | upper }}"
outputs:
  - id: shout
    value: "{{ outputs.value.value }}"
"""

SLOW = """
id: slow
namespace: api.test
tasks:
  - id: wait
    type: sleep
    duration: PT60S
"""

FLAKY = """
id: flaky
namespace: api.test
tasks:
  - id: first
    type: log
    message: first
  - id: needs-kv
    type: log
    message: "mode is {{ kv('mode') }}"
  - id: last
    type: log
    message: last
"""

APPROVAL = """
id: approval
namespace: api.test
tasks:
  - id: before
    type: log
    message: before
  - id: gate
    type: pause
    onResume:
      - id: approved
        type: BOOLEAN
  - id: after
    type: log
    message: "approved={{ outputs.gate.onResume.approved }}"
"""

HOOKED = """
id: hooked
namespace: api.test
tasks:
  - id: show
    type: log
    message: "got {{ trigger.body.name }} via {{ trigger.parameters.src[0] }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: a-long-webhook-key-0123456789
"""

QUARTER = """
id: quarter
namespace: api.test
inputs:
  - id: when
    type: STRING
tasks:
  - id: tick
    type: log
    message: "tick {{ inputs.when }}"
triggers:
  - id: every-15
    type: schedule
    cron: "*/15 * * * *"
    disabled: true
    inputs:
      when: "{{ trigger.date }}"
"""

UPSTREAM = """
id: upstream
namespace: api.chain
tasks:
  - id: produce
    type: return
    format: "42"
outputs:
  - id: answer
    value: "{{ outputs.produce.value }}"
"""

DOWNSTREAM = """
id: downstream
namespace: api.chain
tasks:
  - id: consume
    type: log
    message: "upstream {{ trigger.executionId }} ended {{ trigger.state }} with {{ trigger.outputs.answer }}"
triggers:
  - id: after-upstream
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlowCondition
        namespace: api.chain
        flowId: upstream
      - type: io.kestra.plugin.core.condition.ExecutionStatusCondition
        in: [SUCCESS]
"""

SERIAL = """
id: serial
namespace: api.test
concurrency:
  limit: 1
  behavior: QUEUE
tasks:
  - id: nap
    type: sleep
    duration: PT1S
"""

FILES = """
id: files
namespace: api.test
tasks:
  - id: write
    type: python
    outputFiles: [out.txt]
    script: |
      open("out.txt", "w").write("file body 123")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("api-server")
    srv = ServerProcess(root, args=["--grace", "2", "--workers", "8"])
    (srv.flows / "upstream.yaml").write_text(UPSTREAM)
    (srv.flows / "downstream.yaml").write_text(DOWNSTREAM)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Any:
    with server.client() as client:
        for source in (GREET, SLOW, FLAKY, APPROVAL, HOOKED, QUARTER, SERIAL, FILES):
            r = client.post("/api/v1/flows", content=source, headers=YAML)
            assert r.status_code == 200, r.text
        yield client


def start(api: httpx.Client, flow: str, inputs: dict[str, Any] | None = None, namespace: str = "api.test", **params: Any) -> dict[str, Any]:
    r = api.post(f"/api/v1/executions/{namespace}/{flow}", json=inputs or {}, params=params)
    assert r.status_code == 200, r.text
    return r.json()


# --- flows --------------------------------------------------------------------------------------------


def test_flow_crud_revisions_and_source(api: httpx.Client) -> None:
    source = "id: crud\nnamespace: api.crud\ntasks:\n  - id: a\n    type: log\n    message: one\n"
    r = api.post("/api/v1/flows", content=source, headers=YAML)
    assert r.status_code == 200 and r.json()["revision"] == 1
    assert api.post("/api/v1/flows", content=source, headers=YAML).status_code == 409
    r = api.put("/api/v1/flows/api.crud/crud", content=source.replace("one", "two"), headers=YAML)
    assert r.json()["revision"] == 2
    assert api.get("/api/v1/flows/api.crud/crud", params={"revision": 1, "source": True}).json()["source"] == source
    assert "two" in api.get("/api/v1/flows/api.crud/crud", headers={"Accept": "application/x-yaml"}).text
    assert [f["revision"] for f in api.get("/api/v1/flows/api.crud/crud/revisions").json()] == [1, 2]
    r = api.put("/api/v1/flows/api.crud/other", content=source, headers=YAML)
    assert r.status_code == 422 and "cannot change" in r.json()["message"]
    assert api.delete("/api/v1/flows/api.crud/crud").status_code == 204
    assert api.get("/api/v1/flows/api.crud/crud").status_code == 404
    assert api.delete("/api/v1/flows/api.crud/crud").status_code == 404


def test_a_save_made_on_an_old_revision_is_refused_with_409(api: httpx.Client) -> None:
    source = "id: tabs\nnamespace: api.conflict\ntasks:\n  - id: a\n    type: log\n    message: one\n"
    assert api.post("/api/v1/flows", content=source, headers=YAML).status_code == 200
    # Two editors read revision 1; the first saves, the second's save must not undo it.
    etag = api.get("/api/v1/flows/api.conflict/tabs").headers["ETag"]
    assert etag == '"1"' and api.get("/api/v1/flows/api.conflict/tabs", headers={"Accept": "application/x-yaml"}).headers["ETag"] == etag
    first = api.put("/api/v1/flows/api.conflict/tabs", content=source.replace("one", "first"), headers={**YAML, "If-Match": etag})
    assert first.status_code == 200 and first.json()["revision"] == 2
    second = api.put("/api/v1/flows/api.conflict/tabs", content=source.replace("one", "second"), headers={**YAML, "If-Match": etag})
    assert second.status_code == 409
    assert "revision 2, not 1" in second.json()["message"] and "GET it again" in second.json()["message"]
    assert "first" in api.get("/api/v1/flows/api.conflict/tabs", headers={"Accept": "application/x-yaml"}).text
    # Saving on the current revision works (weak tags too); no If-Match keeps last-write-wins.
    third = api.put("/api/v1/flows/api.conflict/tabs", content=source.replace("one", "third"), headers={**YAML, "If-Match": 'W/"2"'})
    assert third.status_code == 200 and third.json()["revision"] == 3
    assert api.put("/api/v1/flows/api.conflict/tabs", content=source, headers=YAML).json()["revision"] == 4
    bad = api.put("/api/v1/flows/api.conflict/tabs", content=source, headers={**YAML, "If-Match": "latest"})
    assert bad.status_code == 422 and "If-Match" in bad.json()["message"]
    # Two saves at once on the same revision: exactly one wins.
    etag = api.get("/api/v1/flows/api.conflict/tabs").headers["ETag"]
    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda word: api.put("/api/v1/flows/api.conflict/tabs", content=source.replace("one", word),
                                                     headers={**YAML, "If-Match": etag}).status_code, ["x", "y"]))
    assert codes == [200, 409]


def test_invalid_flow_is_422_with_positions(api: httpx.Client) -> None:
    bad = "id: bad\nnamespace: api.test\ntasks:\n  - id: a\n    type: log\n    mesage: typo\n"
    r = api.post("/api/v1/flows", content=bad, headers=YAML)
    assert r.status_code == 422
    body = r.json()
    assert body["message"] and body["errors"]
    assert all(set(e) == {"path", "message", "line", "column"} for e in body["errors"])
    typo = [e for e in body["errors"] if e["path"] == "tasks[0].mesage"]
    assert typo and typo[0]["line"] == 6 and "message" in typo[0]["message"]  # "did you mean 'message'?"
    r = api.post("/api/v1/flows/validate", content=bad + "---\n" + GREET, headers=YAML)
    assert [v["valid"] for v in r.json()] == [False, True]
    assert api.post("/api/v1/flows", content=b"\xff\xfe", headers=YAML).status_code == 422


def test_flow_search_and_schema(api: httpx.Client) -> None:
    r = api.get("/api/v1/flows/search", params={"namespace": "api", "labels": "team:qa"})
    assert [f["id"] for f in r.json()["results"]] == ["greet"]
    r = api.get("/api/v1/flows/search", params={"namespace": "api.test", "size": 2, "page": 2})
    assert r.json()["total"] >= 8 and len(r.json()["results"]) == 2
    assert api.get("/api/v1/flows/search", params={"q": "APPROV"}).json()["results"][0]["id"] == "approval"
    schema = api.get("/api/v1/plugins/schemas/flow").json()
    assert "tasks" in schema["properties"]


# --- executions ---------------------------------------------------------------------------------------


def test_execute_with_inputs_and_follow_logs_by_sse(api: httpx.Client) -> None:
    ex = start(api, "greet", {"name": "Ada", "count": 3}, labels="run:sse")
    events: list[tuple[str, Any]] = []
    with api.stream("GET", f"/api/v1/logs/{ex['id']}/follow") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[-1] == "end" and events[-1][1]["state"] == "SUCCESS"
    assert "state" in kinds
    messages = [d["message"] for k, d in events if k == "log"]
    assert "Hello Ada x3" in messages
    summary = api.get(f"/api/v1/executions/{ex['id']}").json()
    assert summary["inputs"] == {"name": "Ada", "count": 3}
    assert summary["outputs"] == {"shout": "ADA"}
    assert summary["labels"] == {"team": "qa", "run": "sse", "system.correlationId": ex["id"]}
    assert [t["taskId"] for t in summary["taskRuns"]] == ["hello", "debug", "value"]
    logs = api.get(f"/api/v1/logs/{ex['id']}", params={"minLevel": "INFO"}).json()
    assert "debug line" not in [x["message"] for x in logs] and "Hello Ada x3" in [x["message"] for x in logs]
    assert [x["message"] for x in api.get(f"/api/v1/logs/{ex['id']}", params={"taskId": "debug"}).json()] == ["debug line"]


def test_wait_true_bad_inputs_and_unknown_flow(api: httpx.Client) -> None:
    done = start(api, "greet", {"name": "Bo"}, wait="true")
    assert done["state"] == "SUCCESS" and done["outputs"] == {"shout": "BO"}
    r = api.post("/api/v1/executions/api.test/greet", json={"name": "Bo", "count": 9})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "inputs.count" and "count" in r.json()["message"]
    r = api.post("/api/v1/executions/api.test/greet", json={})
    assert r.status_code == 422 and "name" in r.json()["message"]
    r = api.post("/api/v1/executions/api.test/greet", json={"name": "x", "nope": 1})
    assert r.status_code == 422 and "nope" in r.json()["message"]
    assert api.post("/api/v1/executions/api.test/missing", json={}).status_code == 404
    r = api.post("/api/v1/executions/api.test/greet", files={"name": (None, "Form"), "count": (None, "2")})
    assert wait_state(api, r.json()["id"])["inputs"] == {"name": "Form", "count": 2}
    # A URL-encoded form is what another site's page can post: inputs come as JSON or multipart only.
    assert api.post("/api/v1/executions/api.test/greet", data={"name": "Form"}).status_code == 415


def test_kill_a_long_execution(api: httpx.Client) -> None:
    ex = start(api, "slow")
    wait_for(lambda: any(t["state"] == "RUNNING" for t in api.get(f"/api/v1/executions/{ex['id']}").json()["taskRuns"]))
    r = api.post(f"/api/v1/executions/{ex['id']}/kill")
    assert r.status_code == 202
    killed = wait_state(api, ex["id"], timeout=10)
    assert killed["state"] == "KILLED" and killed["taskRuns"][0]["state"] == "KILLED"
    assert api.post(f"/api/v1/executions/{ex['id']}/kill").status_code == 409


def test_restart_reruns_only_the_failed_task_then_replay(api: httpx.Client) -> None:
    api.delete("/api/v1/namespaces/api.test/kv/mode")
    failed = wait_state(api, start(api, "flaky")["id"])
    assert failed["state"] == "FAILED"
    assert [(t["taskId"], t["state"]) for t in failed["taskRuns"]] == [("first", "SUCCESS"), ("needs-kv", "FAILED")]
    r = api.put("/api/v1/namespaces/api.test/kv/mode", content="fixed", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["type"] == "STRING"
    r = api.post(f"/api/v1/executions/{failed['id']}/restart")
    assert r.status_code == 200 and r.json()["state"] in ("RESTARTED", "RUNNING", "SUCCESS")
    done = wait_state(api, failed["id"])
    assert done["state"] == "SUCCESS"
    runs = {t["taskId"]: t for t in done["taskRuns"]}
    assert len(runs["first"]["attempts"]) == 1  # kept, not re-run
    assert [a["state"] for a in runs["needs-kv"]["attempts"]] == ["FAILED", "SUCCESS"]  # history kept
    assert runs["last"]["state"] == "SUCCESS"
    logs = [x["message"] for x in api.get(f"/api/v1/logs/{failed['id']}").json()]
    assert logs.count("first") == 1 and "mode is fixed" in logs
    assert api.post(f"/api/v1/executions/{failed['id']}/restart").status_code == 409
    # Replay from the second task: a new execution that copies `first` and runs the rest again.
    r = api.post(f"/api/v1/executions/{failed['id']}/replay", params={"taskRunId": runs["needs-kv"]["id"]})
    assert r.status_code == 200
    replay = wait_state(api, r.json()["id"])
    assert replay["id"] != failed["id"] and replay["state"] == "SUCCESS"
    copied = {t["taskId"]: t for t in replay["taskRuns"]}
    assert copied["first"]["startDate"] == runs["first"]["startDate"]
    assert len(copied["needs-kv"]["attempts"]) == 1
    replay_logs = [x["message"] for x in api.get(f"/api/v1/logs/{replay['id']}").json()]
    assert "first" not in replay_logs and "last" in replay_logs
    assert api.post(f"/api/v1/executions/{failed['id']}/replay", params={"taskRunId": "nope"}).status_code == 422


def test_pause_and_resume_with_inputs(api: httpx.Client) -> None:
    ex = start(api, "approval")
    paused = wait_state(api, ex["id"], {"PAUSED"})
    assert [t["state"] for t in paused["taskRuns"]] == ["SUCCESS", "PAUSED"]
    r = api.post(f"/api/v1/executions/{ex['id']}/resume", json={"approved": "maybe"})
    assert r.status_code == 422 and "approved" in r.json()["message"]
    r = api.post(f"/api/v1/executions/{ex['id']}/resume", json={"approved": True})
    assert r.status_code == 200
    done = wait_state(api, ex["id"])
    assert done["state"] == "SUCCESS"
    assert "approved=true" in [x["message"] for x in api.get(f"/api/v1/logs/{ex['id']}").json()]
    assert api.post(f"/api/v1/executions/{ex['id']}/resume", json={}).status_code == 409


def test_concurrency_limit_queues(api: httpx.Client) -> None:
    first, second = start(api, "serial"), start(api, "serial")
    assert api.get(f"/api/v1/executions/{second['id']}").json()["state"] == "QUEUED"
    a, b = wait_state(api, first["id"]), wait_state(api, second["id"])
    assert a["state"] == b["state"] == "SUCCESS"
    assert b["taskRuns"][0]["startDate"] >= a["endDate"]


def test_search_labels_delete_and_file_download(api: httpx.Client) -> None:
    ex = wait_state(api, start(api, "files")["id"], timeout=60)
    assert ex["state"] == "SUCCESS", ex
    uri = ex["taskRuns"][0]["outputs"]["outputFiles"]["out.txt"]
    r = api.get(f"/api/v1/executions/{ex['id']}/file", params={"path": uri})
    assert r.status_code == 200 and r.content == b"file body 123"
    other = wait_state(api, start(api, "greet", {"name": "z"})["id"])
    assert api.get(f"/api/v1/executions/{other['id']}/file", params={"path": uri}).status_code == 422
    r = api.post(f"/api/v1/executions/{ex['id']}/labels", json=[{"key": "reviewed", "value": "yes"}])
    assert r.json()["labels"]["reviewed"] == "yes"
    page = api.get("/api/v1/executions/search", params={"flowId": "files", "state": ["SUCCESS", "FAILED"], "labels": "reviewed:yes"}).json()
    assert page["total"] == 1 and page["results"][0]["id"] == ex["id"]
    since = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert api.get("/api/v1/executions/search", params={"namespace": "api", "startDate": since}).json()["total"] == 0
    assert api.delete(f"/api/v1/executions/{ex['id']}").status_code == 204
    assert api.get(f"/api/v1/executions/{ex['id']}").status_code == 404
    assert api.get(f"/api/v1/logs/{ex['id']}").status_code == 404


# --- triggers -----------------------------------------------------------------------------------------


def test_webhook_starts_the_flow_with_body_headers_and_query(api: httpx.Client) -> None:
    url = "/api/v1/executions/webhook/api.test/hooked/a-long-webhook-key-0123456789"
    r = api.post(url, params={"src": "ci"}, json={"name": "payload"}, headers={"X-Token": "t1"})
    assert r.status_code == 200, r.text
    ex = wait_state(api, r.json()["id"])
    assert ex["trigger"]["body"] == {"name": "payload"}
    assert ex["trigger"]["headers"]["x-token"] == ["t1"]
    assert "got payload via ci" in [x["message"] for x in api.get(f"/api/v1/logs/{ex['id']}").json()]
    wrong = api.post(url[:-1] + "X", json={})
    unknown = api.post("/api/v1/executions/webhook/api.test/nope/a-long-webhook-key-0123456789", json={})
    assert wrong.status_code == unknown.status_code == 404


def test_backfill_runs_one_execution_per_missed_tick(api: httpx.Client) -> None:
    start_at = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    body = {"namespace": "api.test", "flowId": "quarter", "triggerId": "every-15", "start": start_at.isoformat(), "end": (start_at + timedelta(hours=1)).isoformat(), "labels": {"bf": "yes"}}
    r = api.post("/api/v1/triggers/backfill", json=body)
    assert r.status_code == 201, r.text
    bf = r.json()
    assert bf["total"] == 4
    wait_for(lambda: api.get(f"/api/v1/triggers/backfill/{bf['id']}").json()["state"] == "SUCCESS")
    assert api.get(f"/api/v1/triggers/backfill/{bf['id']}").json()["done"] == 4
    found = wait_for(lambda: (p := api.get("/api/v1/executions/search", params={"flowId": "quarter", "labels": "bf:yes"}).json())["total"] == 4 and p)
    dates = sorted(e["trigger"]["date"] for e in found["results"])
    assert dates == [(start_at + timedelta(minutes=15 * i)).isoformat() for i in range(4)]
    for e in found["results"]:
        done = wait_state(api, e["id"])
        assert done["inputs"]["when"] == e["trigger"]["date"]
        assert f"tick {e['trigger']['date']}" in [x["message"] for x in api.get(f"/api/v1/logs/{done['id']}").json()]
    r = api.post("/api/v1/triggers/backfill", json={**body, "triggerId": "nope"})
    assert r.status_code == 404
    r = api.post("/api/v1/triggers/backfill", json={**body, "end": body["start"]})
    assert r.status_code == 422


def test_backfill_pause_and_cancel(api: httpx.Client) -> None:
    start_at = (datetime.now(UTC) - timedelta(days=30)).replace(second=0, microsecond=0)
    body = {"namespace": "api.test", "flowId": "quarter", "triggerId": "every-15", "start": start_at.isoformat(), "end": (start_at + timedelta(days=2)).isoformat(), "labels": {"bf": "long"}}
    bf = api.post("/api/v1/triggers/backfill", json=body).json()
    assert bf["total"] == 192
    paused = api.post(f"/api/v1/triggers/backfill/{bf['id']}/pause").json()
    assert paused["state"] == "PAUSED"
    time.sleep(1.5)
    frozen = api.get(f"/api/v1/triggers/backfill/{bf['id']}").json()["done"]
    time.sleep(1.5)
    assert api.get(f"/api/v1/triggers/backfill/{bf['id']}").json()["done"] == frozen < 192
    assert api.post(f"/api/v1/triggers/backfill/{bf['id']}/cancel").json()["state"] == "CANCELLED"
    assert api.post(f"/api/v1/triggers/backfill/{bf['id']}/unpause").status_code == 409


def test_flow_trigger_starts_downstream(api: httpx.Client) -> None:
    up = wait_state(api, start(api, "upstream", namespace="api.chain")["id"])
    assert up["state"] == "SUCCESS"

    def downstream() -> Any:
        page = api.get("/api/v1/executions/search", params={"flowId": "downstream"}).json()
        return [e for e in page["results"] if (e.get("trigger") or {}).get("executionId") == up["id"]]

    [ex] = wait_for(downstream)
    done = wait_state(api, ex["id"])
    assert done["state"] == "SUCCESS"
    assert f"upstream {up['id']} ended SUCCESS with 42" in [x["message"] for x in api.get(f"/api/v1/logs/{ex['id']}").json()]


def test_trigger_search_and_disable(api: httpx.Client) -> None:
    page = api.get("/api/v1/triggers/search", params={"namespace": "api"}).json()
    by_id = {t["triggerId"]: t for t in page["results"]}
    assert {"hook", "every-15", "after-upstream"} <= set(by_id)
    assert by_id["every-15"]["disabled"] is True and by_id["every-15"]["nextExecutionDate"] is None
    assert by_id["every-15"]["lastTriggerDate"] is not None
    r = api.put("/api/v1/triggers/api.test/hooked/hook", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    url = "/api/v1/executions/webhook/api.test/hooked/a-long-webhook-key-0123456789"
    assert api.post(url, json={}).status_code == 404
    api.post("/api/v1/triggers/set-disabled", json={"triggers": [{"namespace": "api.test", "flowId": "hooked", "triggerId": "hook"}], "disabled": False})
    assert api.post(url, json={"name": "again"}, params={"src": "x"}).status_code == 200


# --- namespaces, kv, system ---------------------------------------------------------------------------


def test_namespace_files_and_kv(api: httpx.Client) -> None:
    r = api.put("/api/v1/namespaces/api.test/files", params={"path": "scripts/hello.py"}, content=b"print('hi')")
    assert r.status_code == 201
    assert api.get("/api/v1/namespaces/api.test/files", params={"path": "scripts/hello.py"}).content == b"print('hi')"
    assert [f["path"] for f in api.get("/api/v1/namespaces/api.test/files/directory").json()] == ["scripts/hello.py"]
    assert api.put("/api/v1/namespaces/api.test/files", params={"path": "../escape"}, content=b"x").status_code == 422
    assert api.put("/api/v1/namespaces/api.test/files", params={"path": "0" * 300}, content=b"x").status_code == 422
    assert api.delete("/api/v1/namespaces/api.test/files", params={"path": "scripts/hello.py"}).status_code == 204
    assert api.get("/api/v1/namespaces/api.test/files", params={"path": "scripts/hello.py"}).status_code == 404
    r = api.put("/api/v1/namespaces/api.test/kv/config", json={"retries": 3})
    assert r.json() == {**r.json(), "type": "JSON", "value": {"retries": 3}}
    assert api.get("/api/v1/namespaces/api.test/kv/config").json()["value"] == {"retries": 3}
    assert "config" in [e["key"] for e in api.get("/api/v1/namespaces/api.test/kv").json()]
    assert api.delete("/api/v1/namespaces/api.test/kv/config").status_code == 204
    assert api.get("/api/v1/namespaces/api.test/kv/config").status_code == 404
    assert api.put("/api/v1/namespaces/api.test/kv/bad key!", content="x").status_code == 422
    tree = {n["id"]: n for n in api.get("/api/v1/namespaces").json()["results"]}
    assert tree["api"]["parent"] is None and tree["api.test"]["parent"] == "api" and tree["api.test"]["flowCount"] >= 8


def test_health_metrics_and_openapi(api: httpx.Client, server: ServerProcess) -> None:
    assert start(api, "greet", {"name": "Mo"}, wait="true")["state"] == "SUCCESS"  # one to count, whatever ran before
    health = api.get("/health").json()
    assert health["status"] == "UP" and health["checks"]["scheduler"] == "UP"
    text = api.get("/metrics").text
    assert '# TYPE lanner_executions gauge' in text and 'lanner_executions{state="SUCCESS"}' in text
    assert "lanner_task_run_duration_seconds_count" in text and "lanner_queue_depth" in text
    spec = api.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/flows", "/api/v1/executions/{namespace}/{flow_id}", "/api/v1/logs/{execution_id}/follow", "/api/v1/triggers/backfill"):
        assert path in spec["paths"]
    assert "UI is not installed" in api.get("/ui").text
    assert "Traceback" not in server.log()


def test_flow_files_deployed_from_the_flows_dir(api: httpx.Client, server: ServerProcess) -> None:
    assert api.get("/api/v1/flows/api.chain/upstream").status_code == 200
    assert Path(server.flows / "upstream.yaml").exists()


GATED = """
id: gated
namespace: api.test
tasks:
  - id: answer
    type: io.kestra.plugin.core.output.OutputValues
    values:
      text: "hello {{ trigger.parameters.who[0] }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ flow.id }}-key-0123456789"
    wait: true
    returnOutputs: true
    responseContentType: text/plain
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ trigger.parameters.who[0] != 'nobody' }}"
outputs:
  - id: text
    type: STRING
    value: "{{ outputs.answer['values'].text }}"
"""


def test_webhook_key_expression_conditions_and_text_answer(api: httpx.Client) -> None:
    assert api.post("/api/v1/flows", content=GATED, headers=YAML).status_code == 200
    url = "/api/v1/executions/webhook/api.test/gated/gated-key-0123456789"
    r = api.get(url, params={"who": "ann"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    assert r.text == "hello ann"
    assert api.get(url, params={"who": "nobody"}).status_code == 204  # Kestra: the conditions do not hold
    literal = "/api/v1/executions/webhook/api.test/gated/{{ flow.id }}-key-0123456789"
    assert api.get(literal, params={"who": "ann"}).status_code == 404  # the rendered key, not its source
