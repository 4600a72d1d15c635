"""Where a notebook runs its flows: the embedded engine, or a Lanner server over REST.

Both backends answer the same few questions (deploy, start, summary, logs, flow
source, kill) so the magics and the live widget do not care which one they talk to.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import Any, Protocol

import yaml


class NotebookError(Exception):
    """An error a notebook user caused and can fix: shown as one message, never a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"\x1b[31m{self.__class__.__name__}\x1b[0m: {line}" if i == 0 else line
                for i, line in enumerate(str(self).splitlines() or [""])]


class Backend(Protocol):
    """The operations the extension needs from an engine."""

    label: str

    def deploy(self, source: str, path: Path | None = None) -> dict[str, Any]: ...
    def start(self, namespace: str, flow_id: str, inputs: dict[str, Any]) -> str: ...
    def summary(self, execution_id: str) -> dict[str, Any] | None: ...
    def logs(self, execution_id: str) -> list[dict[str, Any]]: ...
    def flow_source(self, namespace: str, flow_id: str, revision: int | None = None) -> str | None: ...
    def kill(self, execution_id: str) -> None: ...
    def read_file(self, execution_id: str, uri: str) -> tuple[str, bytes]: ...


def _file_of(execution_id: str, uri: str) -> Any:
    """The parsed ``lanner:///`` URI when it names a file of this execution, else NotebookError."""
    from engine.storage import StorageError, parse_uri

    try:
        parsed = parse_uri(uri)
    except StorageError as exc:
        raise NotebookError(str(exc)) from None
    if parsed.execution_id != execution_id:
        raise NotebookError(f"{uri} is not a file of execution {execution_id}")
    return parsed


class LocalBackend:
    """The embedded engine (SQLite store + in-process workers), started on first use."""

    def __init__(self, home: str | Path | None = None):
        self.home = home
        self.label = "local"
        self._runner: Any = None
        self._lock = threading.Lock()

    @property
    def runner(self) -> Any:
        with self._lock:
            if self._runner is None:
                from engine.runtime.local import LocalRunner

                self._runner = LocalRunner(home=self.home)
                atexit.register(self.close)
            return self._runner

    def deploy(self, source: str, path: Path | None = None) -> dict[str, Any]:
        """Deploy flow YAML; ``path`` (its file) makes relative paths in it resolve beside that file."""
        flow = self.runner.deploy(source, path=path)
        return {"namespace": flow.namespace, "id": flow.id, "revision": flow.revision}

    def start(self, namespace: str, flow_id: str, inputs: dict[str, Any]) -> str:
        try:
            return self.runner.start_execution(namespace, flow_id, inputs)
        except (ValueError, LookupError) as exc:  # InputErrors, FlowNotFound, disabled flow
            raise NotebookError(f"cannot start {namespace}.{flow_id}: {exc}") from None

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        return self.runner.summary(execution_id)

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        return self.runner.logs(execution_id)

    def flow_source(self, namespace: str, flow_id: str, revision: int | None = None) -> str | None:
        rec = self.runner.store.get_flow(namespace, flow_id, revision)
        return rec.source if rec is not None else None

    def kill(self, execution_id: str) -> None:
        self.runner.kill(execution_id)

    def read_file(self, execution_id: str, uri: str) -> tuple[str, bytes]:
        """A file the execution stored (its executed notebook, report, output files): (name, bytes)."""
        parsed = _file_of(execution_id, uri)
        return parsed.name, self.runner.storage.read_bytes(uri, namespace=parsed.namespace)

    def close(self) -> None:
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()


class ServerBackend:
    """A Lanner (or Kestra-compatible) server, through its REST API under /api/v1."""

    def __init__(self, url: str, *, timeout: float = 30.0, client: Any = None):
        import httpx

        if not url.startswith(("http://", "https://")):
            raise NotebookError(f"--server must be an http(s) URL such as http://127.0.0.1:8080, not '{url}'")
        self.url = url.rstrip("/")
        self.label = self.url
        self.client = client or httpx.Client(base_url=self.url, timeout=timeout)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            return self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise NotebookError(f"cannot reach the Lanner server at {self.url}: {exc}") from None

    def _fail(self, what: str, resp: Any) -> NotebookError:
        return NotebookError(f"{what} failed on {self.url} (HTTP {resp.status_code}): {_error_text(resp)}")

    def deploy(self, source: str, path: Path | None = None) -> dict[str, Any]:
        """Deploy flow YAML; ``path`` is ignored: a server resolves relative paths against its own flows."""
        headers = {"Content-Type": "application/x-yaml"}
        resp = self._request("POST", "/api/v1/flows", content=source.encode(), headers=headers)
        if resp.status_code == 409 or (resp.status_code == 422 and "exist" in resp.text.lower()):
            data = yaml.safe_load(source)
            resp = self._request("PUT", f"/api/v1/flows/{data['namespace']}/{data['id']}",
                                 content=source.encode(), headers=headers)
        if resp.status_code >= 400:
            raise self._fail("deploying the flow", resp)
        return resp.json()

    def start(self, namespace: str, flow_id: str, inputs: dict[str, Any]) -> str:
        resp = self._request("POST", f"/api/v1/executions/{namespace}/{flow_id}", json=inputs)
        if resp.status_code >= 400:
            raise self._fail(f"starting {namespace}.{flow_id}", resp)
        return resp.json()["id"]

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        resp = self._request("GET", f"/api/v1/executions/{execution_id}")
        if resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise self._fail(f"reading execution {execution_id}", resp)
        return resp.json()

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        resp = self._request("GET", f"/api/v1/logs/{execution_id}")
        if resp.status_code >= 400:
            return []
        data = resp.json()
        return data.get("results", []) if isinstance(data, dict) else data

    def flow_source(self, namespace: str, flow_id: str, revision: int | None = None) -> str | None:
        params: dict[str, Any] = {"source": "true", **({"revision": revision} if revision else {})}
        resp = self._request("GET", f"/api/v1/flows/{namespace}/{flow_id}", params=params,
                             headers={"Accept": "application/x-yaml, application/json;q=0.9"})
        if resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise self._fail(f"reading flow {namespace}.{flow_id}", resp)
        if "yaml" in resp.headers.get("content-type", ""):
            return resp.text
        data = resp.json()
        if isinstance(data, dict) and isinstance(data.get("source"), str):
            return data["source"]
        return yaml.safe_dump(data, sort_keys=False)

    def kill(self, execution_id: str) -> None:
        self._request("POST", f"/api/v1/executions/{execution_id}/kill")

    def read_file(self, execution_id: str, uri: str) -> tuple[str, bytes]:
        """A file the execution stored, downloaded from the server: (name, bytes)."""
        parsed = _file_of(execution_id, uri)
        resp = self._request("GET", f"/api/v1/executions/{execution_id}/file", params={"path": uri})
        if resp.status_code >= 400:
            raise self._fail(f"downloading {uri}", resp)
        return parsed.name, resp.content

    def close(self) -> None:
        self.client.close()


def _error_text(resp: Any) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text.strip()[:500] or resp.reason_phrase
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
        for key in ("message", "detail", "error"):
            if data.get(key):
                return str(data[key])
    return str(data)[:500]
