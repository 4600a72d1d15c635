"""The Engine over HTTP: a Lanner server's REST API behind the same typed front door.

``HttpEngine("http://127.0.0.1:8080")`` answers every :class:`engine.service.Engine`
call with the server's REST API (``/api/v1``), so code written against the Engine
runs the same on the embedded engine and on a server (Jupyter's ``--server`` does).
Answers are read into the same views; refusals come back as the same errors (404
NotFound, 409 Conflict, 422 Invalid, or the model's InputError and
FlowValidationError with every field the server named); a server that does not
answer is :class:`~engine.service.Unreachable`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from engine.model.flow import Flow
from engine.model.inputs import InputError, InputErrors
from engine.model.state import State
from engine.model.validation import FlowError, FlowValidationError, load_flow
from engine.model.views import ExecutionSummary, FlowInfo, LogLine, Page, Validation
from engine.model.views_live import EndEvent, ExecutionEvent, LogEvent, StateEvent
from engine.model.views_workspace import (
    BackfillInfo,
    ChartData,
    DashboardInfo,
    ExpressionPreview,
    FlowTemplate,
    KvEntry,
    NamespaceFile,
    NamespaceInfo,
    TriggerInfo,
)
from engine.model.yaml_loader import load_any_yaml
from engine.service import (
    BackfillAction,
    Conflict,
    Download,
    EngineError,
    Invalid,
    LogLevel,
    NotFound,
    SortOrder,
    Unreachable,
)
from engine.storage import StorageError, local_files

YAML = {"Content-Type": "application/x-yaml"}
#: The largest page the REST API serves; longer lists are read page by page.
MAX_PAGE = 500


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _labels(labels: Mapping[str, str] | None) -> list[str]:
    return [f"{k}:{v}" for k, v in (labels or {}).items()]


def _flow_info(data: dict[str, Any]) -> FlowInfo:
    """A flow as the API shows it (its YAML's keys at the top level) as a FlowInfo."""
    raw = data.get("labels")
    if isinstance(raw, list):
        labels = {str(i.get("key")): str(i.get("value")) for i in raw if isinstance(i, dict)}
    else:
        labels = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    description = data.get("description")
    return FlowInfo(namespace=data["namespace"], id=data["id"], revision=data["revision"], deleted=bool(data.get("deleted")),
                    updated=data.get("updated"), description=description if isinstance(description, str) else None,
                    labels=labels, disabled=data.get("disabled") is True, source=data.get("source"))


class HttpEngine:
    """The :class:`~engine.service.Engine` of a Lanner server, through its REST API."""

    def __init__(self, url: str, *, timeout: float = 30.0, auth: tuple[str, str] | None = None,
                 client: httpx.Client | None = None, poll: float = 0.2):
        if not url.startswith(("http://", "https://")):
            raise Invalid(f"the server URL must be http(s) such as http://127.0.0.1:8080, not '{url}'")
        self.url = url.rstrip("/")
        self.poll = poll
        self.client = client or httpx.Client(base_url=self.url, timeout=timeout, auth=auth)

    @property
    def label(self) -> str:
        return self.url

    def close(self) -> None:
        self.client.close()

    # --- requests and errors -----------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        if isinstance(kwargs.get("params"), dict):  # httpx would send a None as "key="
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        try:
            request = self.client.build_request(method, "/api/v1" + path, **kwargs)
            response = self.client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach the Lanner server at {self.url}: {exc}") from None
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            raise self._error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def _maybe(self, method: str, path: str, **kwargs: Any) -> Any | None:
        """The JSON answer, or None for a 404."""
        try:
            return self._json(method, path, **kwargs)
        except NotFound:
            return None

    def _error(self, response: httpx.Response) -> EngineError:
        try:
            body = response.json()
        except ValueError:
            body = None
        message, errors = response.text.strip()[:500] or response.reason_phrase, None
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("detail") or message)
            if isinstance(body.get("errors"), list):
                errors = [FlowError(str(e.get("path") or ""), str(e.get("message", "")), e.get("line"), e.get("column"))
                          for e in body["errors"] if isinstance(e, dict)]
        status = response.status_code
        if status == 404:
            return NotFound(message)
        if status == 409:
            return Conflict(message, errors)
        if status in (400, 413, 415, 422):
            return Invalid(message, errors)
        return EngineError(f"{self.url} answered HTTP {status}: {message}", errors)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        """Every result of a paginated search."""
        page = 1
        while True:
            data = self._json("GET", path, params={**params, "page": page, "size": MAX_PAGE})
            yield from data["results"]
            if page * MAX_PAGE >= data["total"] or not data["results"]:
                return
            page += 1

    # --- flows -------------------------------------------------------------------------------------------

    def validate(self, source: str) -> Validation:
        (first, *_rest) = self._json("POST", "/flows/validate", content=source.encode(), headers=YAML)
        return Validation.model_validate(first)

    def deploy(self, source: str, *, path: Path | None = None) -> FlowInfo:
        """Create the flow, or PUT a new revision when it exists (``path`` is not sent: the server has its own)."""
        try:
            try:
                return _flow_info(self._json("POST", "/flows", content=source.encode(), headers=YAML))
            except Conflict:
                data = load_any_yaml(source)
                url = f"/flows/{_seg(data['namespace'])}/{_seg(data['id'])}"
                return _flow_info(self._json("PUT", url, content=source.encode(), headers=YAML))
        except Invalid as exc:
            raise FlowValidationError(exc.errors or [FlowError("", exc.message)]) from None

    def flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowInfo | None:
        params: dict[str, Any] = {"source": "true", **({"revision": revision} if revision else {})}
        data = self._maybe("GET", f"/flows/{_seg(namespace)}/{_seg(flow_id)}", params=params)
        return None if data is None else _flow_info(data)

    def definition(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow:
        info = self.flow(namespace, flow_id, revision)
        if info is None or info.source is None:
            raise NotFound(f"flow {namespace}.{flow_id}" + (f" revision {revision}" if revision else "") + " does not exist")
        flow = load_flow(info.source)
        flow.revision = info.revision
        return flow

    def flow_revisions(self, namespace: str, flow_id: str) -> list[FlowInfo]:
        found = self._maybe("GET", f"/flows/{_seg(namespace)}/{_seg(flow_id)}/revisions")
        return [_flow_info(r) for r in found or []]

    def search_flows(self, *, namespace: str | None = None, q: str | None = None,
                     labels: Mapping[str, str] | None = None) -> list[FlowInfo]:
        params = {"namespace": namespace, "q": q, "labels": _labels(labels)}
        return [_flow_info(r) for r in self._pages("/flows/search", params)]

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        self._send("DELETE", f"/flows/{_seg(namespace)}/{_seg(flow_id)}")

    # --- executions ------------------------------------------------------------------------------------

    def start(self, namespace: str, flow_id: str, inputs: Mapping[str, Any] | None = None, *,
              labels: Mapping[str, str] | None = None, revision: int | None = None) -> str:
        """Inputs go as JSON, or as a multipart form uploading every ``Path`` value (FILE inputs)."""
        inputs = dict(inputs or {})
        params = {"labels": _labels(labels), **({"revision": revision} if revision else {})}
        url = f"/executions/{_seg(namespace)}/{_seg(flow_id)}"
        files = {k: v for k, v in inputs.items() if isinstance(v, Path)}
        try:
            if not files:
                return self._json("POST", url, params=params, json=inputs)["id"]
            fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in inputs.items() if k not in files}
            handles = {k: (p.name, p.open("rb")) for k, p in files.items()}
            try:
                return self._json("POST", url, params=params, data=fields, files=handles)["id"]
            finally:
                for _, fh in handles.values():
                    fh.close()
        except Invalid as exc:
            raise _input_errors(exc) from None

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionSummary:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            summary = self.summary(execution_id)
            if summary is None:
                raise NotFound(f"execution {execution_id} does not exist")
            if summary.ended or (deadline is not None and time.monotonic() >= deadline):
                return summary
            time.sleep(self.poll)

    def wait_ended(self, execution_id: str, timeout: float) -> bool:
        return self.wait(execution_id, timeout=timeout).ended  # the REST API has no lighter way to ask

    def summary(self, execution_id: str) -> ExecutionSummary | None:
        data = self._maybe("GET", f"/executions/{_seg(execution_id)}")
        return None if data is None else ExecutionSummary.model_validate(data)

    def search_executions(self, *, namespace: str | None = None, flow_id: str | None = None,
                          states: Sequence[State] | None = None, labels: Mapping[str, str] | None = None,
                          started_after: datetime | None = None, started_before: datetime | None = None,
                          q: str | None = None, sort: SortOrder = "desc",
                          page: int = 1, size: int = 25) -> Page[ExecutionSummary]:
        params = {"namespace": namespace, "flowId": flow_id, "state": [str(s) for s in states or ()],
                  "labels": _labels(labels), "startDate": _iso(started_after), "endDate": _iso(started_before),
                  "q": q or None, "sort": f"startDate:{sort}"}
        if size <= MAX_PAGE:
            data = self._json("GET", "/executions/search", params={**params, "page": page, "size": size})
            return Page[ExecutionSummary](results=data["results"], total=data["total"])
        offset = (page - 1) * size  # a page larger than the API's: read the API's pages that cover it
        server_page, skip = offset // MAX_PAGE + 1, offset % MAX_PAGE
        results: list[Any] = []
        while True:
            data = self._json("GET", "/executions/search", params={**params, "page": server_page, "size": MAX_PAGE})
            results.extend(data["results"][skip:][: size - len(results)])
            if len(results) >= size or len(data["results"]) < MAX_PAGE:
                return Page[ExecutionSummary](results=results, total=data["total"])
            server_page, skip = server_page + 1, 0

    def logs(self, execution_id: str, *, after_id: int = 0, task_id: str | None = None,
             min_level: LogLevel | None = None, limit: int | None = None) -> list[LogLine]:
        params = {"afterId": after_id, "taskId": task_id, "minLevel": min_level, "limit": limit}
        return [LogLine.model_validate(r) for r in self._json("GET", f"/logs/{_seg(execution_id)}", params=params)]

    def search_logs(self, *, namespace: str | None = None, flow_id: str | None = None,
                    execution_id: str | None = None, min_level: LogLevel | None = None,
                    after: datetime | None = None, before: datetime | None = None, q: str | None = None,
                    page: int = 1, size: int = 50) -> Page[LogLine]:
        params = {"namespace": namespace, "flowId": flow_id, "executionId": execution_id, "minLevel": min_level,
                  "startDate": _iso(after), "endDate": _iso(before), "q": q or None, "page": page, "size": size}
        data = self._json("GET", "/logs/search", params=params)
        return Page[LogLine](results=data["results"], total=data["total"])

    def follow(self, execution_id: str, *, task_id: str | None = None,
               min_level: LogLevel | None = None) -> Iterator[ExecutionEvent]:
        """The server's event stream (``/logs/{id}/follow``) read as events."""
        params = {"taskId": task_id, "minLevel": min_level}
        # The server sends a keepalive every 15 s: a minute of silence means it is gone.
        response = self._send("GET", f"/logs/{_seg(execution_id)}/follow", params=params, stream=True,
                              timeout=httpx.Timeout(30.0, read=60.0))
        try:
            kind, data = "", ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    event = _event(kind, json.loads(data))
                    kind, data = "", ""
                    if event is not None:
                        yield event
                        if isinstance(event, EndEvent):
                            return
        except httpx.HTTPError as exc:
            raise Unreachable(f"the event stream of execution {execution_id} from {self.url} broke: {exc}") from None
        finally:
            response.close()

    def _act(self, execution_id: str, action: str, **kwargs: Any) -> ExecutionSummary:
        return ExecutionSummary.model_validate(self._json("POST", f"/executions/{_seg(execution_id)}/{action}", **kwargs))

    def kill(self, execution_id: str) -> ExecutionSummary:
        return self._act(execution_id, "kill")

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> ExecutionSummary:
        try:
            return self._act(execution_id, "resume", json=dict(inputs or {}))
        except Invalid as exc:
            raise _input_errors(exc) from None

    def restart(self, execution_id: str) -> ExecutionSummary:
        return self._act(execution_id, "restart")

    def replay(self, execution_id: str, task_run_id: str | None = None) -> ExecutionSummary:
        return self._act(execution_id, "replay", params={"taskRunId": task_run_id} if task_run_id else None)

    def change_task_run_state(self, execution_id: str, task_run_id: str, state: State) -> ExecutionSummary:
        return self._act(execution_id, "state", json={"taskRunId": task_run_id, "state": str(state)})

    def set_labels(self, execution_id: str, labels: Mapping[str, str]) -> ExecutionSummary:
        return self._act(execution_id, "labels", json=dict(labels))

    def delete_execution(self, execution_id: str) -> None:
        self._send("DELETE", f"/executions/{_seg(execution_id)}")

    def download(self, execution_id: str, uri: str) -> Download:
        response = self._send("GET", f"/executions/{_seg(execution_id)}/file", params={"path": uri}, stream=True)
        disposition = response.headers.get("content-disposition", "")
        name = disposition.partition('filename="')[2].rstrip('"') or uri.rsplit("/", 1)[-1]
        return Download(name, response.iter_bytes(Download.CHUNK), response.close)

    # --- namespaces, namespace files, key-value store ----------------------------------------------------

    def namespaces(self) -> list[NamespaceInfo]:
        return [NamespaceInfo.model_validate(n) for n in self._json("GET", "/namespaces")["results"]]

    def namespace_files(self, namespace: str, prefix: str = "") -> list[NamespaceFile]:
        found = self._json("GET", f"/namespaces/{_seg(namespace)}/files/directory", params={"path": prefix})
        return [NamespaceFile.model_validate(f) for f in found]

    def read_namespace_file(self, namespace: str, path: str) -> bytes:
        return self._send("GET", f"/namespaces/{_seg(namespace)}/files", params={"path": path}).content

    def write_namespace_file(self, namespace: str, path: str, data: bytes) -> NamespaceFile:
        answer = self._json("PUT", f"/namespaces/{_seg(namespace)}/files", params={"path": path}, content=data,
                            headers={"Content-Type": "application/octet-stream"})
        return NamespaceFile.model_validate(answer)

    def upload_namespace_dir(self, namespace: str, directory: Path) -> list[NamespaceFile]:
        try:
            found = local_files(directory)
        except StorageError as exc:
            raise Invalid(str(exc), [FlowError("directory", str(exc))]) from None
        return [self.write_namespace_file(namespace, rel, real.read_bytes()) for rel, real in found]

    def delete_namespace_file(self, namespace: str, path: str) -> None:
        self._send("DELETE", f"/namespaces/{_seg(namespace)}/files", params={"path": path})

    def kv_list(self, namespace: str) -> list[KvEntry]:
        return [KvEntry.model_validate({"namespace": namespace, **e}) for e in self._json("GET", f"/namespaces/{_seg(namespace)}/kv")]

    def kv_get(self, namespace: str, key: str) -> KvEntry | None:
        found = self._maybe("GET", f"/namespaces/{_seg(namespace)}/kv/{_seg(key)}")
        return None if found is None else KvEntry.model_validate({"namespace": namespace, **found})

    def kv_put(self, namespace: str, key: str, value: object, *, ttl: str | None = None) -> KvEntry:
        headers = {"Content-Type": "application/json", **({"ttl": ttl} if ttl else {})}
        answer = self._json("PUT", f"/namespaces/{_seg(namespace)}/kv/{_seg(key)}", content=json.dumps(value).encode(),
                            headers=headers)
        return KvEntry.model_validate({"namespace": namespace, **answer})

    def kv_delete(self, namespace: str, key: str) -> None:
        self._send("DELETE", f"/namespaces/{_seg(namespace)}/kv/{_seg(key)}")

    def secret_names(self, namespace: str) -> list[str]:
        return [str(s["key"]) for s in self._json("GET", f"/namespaces/{_seg(namespace)}/secrets")["results"]]

    # --- templates, task tests, expression previews ------------------------------------------------------

    def templates(self) -> list[FlowTemplate]:
        return [FlowTemplate.model_validate(t) for t in self._json("GET", "/templates")]

    def open_template(self, template_id: str, namespace: str, flow_id: str) -> str:
        return str(self._json("POST", f"/templates/{_seg(template_id)}/open",
                              params={"namespace": namespace, "flowId": flow_id})["source"])

    def test_task(self, namespace: str, flow_id: str, task_id: str, *, source: str | None = None,
                  inputs: Mapping[str, Any] | None = None, pinned_execution_id: str | None = None) -> str:
        body = {"inputs": dict(inputs or {}), "pinnedExecutionId": pinned_execution_id, "source": source}
        try:
            return str(self._json("POST", f"/flows/{_seg(namespace)}/{_seg(flow_id)}/tasks/{_seg(task_id)}/test",
                                  json=body)["executionId"])
        except Invalid as exc:
            raise _input_errors(exc) from None

    def preview_expression(self, namespace: str, flow_id: str, template: str, *, execution_id: str | None = None,
                           task_id: str | None = None) -> ExpressionPreview:
        body = {"expression": template, "executionId": execution_id, "taskId": task_id}
        return ExpressionPreview.model_validate(self._json("POST", f"/flows/{_seg(namespace)}/{_seg(flow_id)}/preview",
                                                           json=body))

    # --- triggers and backfills ------------------------------------------------------------------------

    def triggers(self, *, namespace: str | None = None, flow_id: str | None = None,
                 q: str | None = None) -> list[TriggerInfo]:
        params = {"namespace": namespace, "flowId": flow_id, "q": q}
        return [TriggerInfo.model_validate(t) for t in self._pages("/triggers/search", params)]

    def set_trigger_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> TriggerInfo:
        url = f"/triggers/{_seg(namespace)}/{_seg(flow_id)}/{_seg(trigger_id)}"
        return TriggerInfo.model_validate(self._json("PUT", url, json={"disabled": disabled}))

    def backfill(self, namespace: str, flow_id: str, trigger_id: str, start: str, end: str | None = None, *,
                 inputs: Mapping[str, Any] | None = None, labels: Mapping[str, str] | None = None) -> BackfillInfo:
        body = {"namespace": namespace, "flowId": flow_id, "triggerId": trigger_id, "start": start, "end": end,
                "inputs": dict(inputs) if inputs else None, "labels": dict(labels) if labels else None}
        return BackfillInfo.model_validate(self._json("POST", "/triggers/backfill", json=body))

    def backfills(self, *, namespace: str | None = None, flow_id: str | None = None,
                  trigger_id: str | None = None) -> list[BackfillInfo]:
        params = {"namespace": namespace, "flowId": flow_id, "triggerId": trigger_id}
        return [BackfillInfo.model_validate(b) for b in self._json("GET", "/triggers/backfills", params=params)]

    def get_backfill(self, backfill_id: str) -> BackfillInfo | None:
        found = self._maybe("GET", f"/triggers/backfill/{_seg(backfill_id)}")
        return None if found is None else BackfillInfo.model_validate(found)

    def change_backfill(self, backfill_id: str, action: BackfillAction) -> BackfillInfo:
        return BackfillInfo.model_validate(self._json("POST", f"/triggers/backfill/{_seg(backfill_id)}/{_seg(action)}"))

    # --- custom dashboards ------------------------------------------------------------------------------

    def dashboards(self) -> list[DashboardInfo]:
        return [DashboardInfo.model_validate(d) for d in self._json("GET", "/dashboards")]

    def dashboard(self, dashboard_id: str) -> DashboardInfo | None:
        found = self._maybe("GET", f"/dashboards/{_seg(dashboard_id)}")
        return None if found is None else DashboardInfo.model_validate(found)

    def save_dashboard(self, source: str, dashboard_id: str | None = None) -> DashboardInfo:
        if dashboard_id is None:
            answer = self._json("POST", "/dashboards", content=source.encode(), headers=YAML)
        else:
            answer = self._json("PUT", f"/dashboards/{_seg(dashboard_id)}", content=source.encode(), headers=YAML)
        return DashboardInfo.model_validate(answer)

    def delete_dashboard(self, dashboard_id: str) -> None:
        self._send("DELETE", f"/dashboards/{_seg(dashboard_id)}")

    def chart_data(self, dashboard_id: str, chart_id: str, *, namespace: str | None = None,
                   flow_id: str | None = None, labels: Mapping[str, str] | None = None,
                   start: datetime | None = None, end: datetime | None = None) -> ChartData:
        body = _chart_filters(namespace, flow_id, labels, start, end)
        return ChartData.model_validate(
            self._json("POST", f"/dashboards/{_seg(dashboard_id)}/charts/{_seg(chart_id)}", json=body))

    def chart_executions(self, dashboard_id: str, chart_id: str, point: Mapping[str, Any], *,
                         namespace: str | None = None, flow_id: str | None = None,
                         labels: Mapping[str, str] | None = None, start: datetime | None = None,
                         end: datetime | None = None) -> list[ExecutionSummary]:
        body = {**_chart_filters(namespace, flow_id, labels, start, end), "point": dict(point)}
        found = self._json("POST", f"/dashboards/{_seg(dashboard_id)}/charts/{_seg(chart_id)}/executions", json=body)
        return [ExecutionSummary.model_validate(e) for e in found]


def _chart_filters(namespace: str | None, flow_id: str | None, labels: Mapping[str, str] | None,
                   start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return {"namespace": namespace, "flowId": flow_id, "labels": dict(labels) if labels else None,
            "startDate": _iso(start), "endDate": _iso(end)}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _input_errors(exc: Invalid) -> InputError | Invalid:
    """A 422 naming inputs as the model's InputError (InputErrors for several), as in-process."""
    named = [e for e in exc.errors or [] if e.path == "inputs" or e.path.startswith("inputs.")]
    if not named:
        return exc
    errors = [InputError(e.message, e.path.partition(".")[2] or None) for e in named]
    return errors[0] if len(errors) == 1 else InputErrors(errors)


def _event(kind: str, data: dict[str, Any]) -> ExecutionEvent | None:
    if kind == "log":
        return LogEvent(line=LogLine.model_validate(data))
    if kind == "state":
        return StateEvent.model_validate(data)
    if kind == "end":
        return EndEvent.model_validate(data)
    return None  # an event kind a newer server added


__all__ = ["HttpEngine"]
