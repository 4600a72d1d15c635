"""What the runner offers tasks beyond their own attempt: reading executions, deploying flows.

Tasks reach these through typed services on their :class:`RunContext`
(``ctx.executions``, ``ctx.flows``), never through the store: the protocols
live in ``engine.runtime.context`` (exported by ``engine.sdk``), the
implementations here, over the runner that dispatched the attempt. A remote
worker (Dask) gets none, and tasks that need one say so.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from engine.model.validation import validate_text
from engine.runtime.context import FlowSource

#: Where the builder shows one execution, relative to the server's public URL.
EXECUTION_PAGE = "/ui/execution?id={id}"


def public_url(configured: str | None = None) -> str | None:
    """The server's public URL: the configured one, else ``LANNER_URL``; None when neither is set."""
    url = (configured or os.environ.get("LANNER_URL") or "").strip()
    return url.rstrip("/") or None


class RunnerExecutions:
    """:class:`~engine.runtime.context.ExecutionLookup` over a runner's store (committed state only)."""

    def __init__(self, runner: Any):
        self._runner = runner

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        return self._runner.store.summary(str(execution_id))

    def page_url(self, execution_id: str) -> str | None:
        base = public_url(getattr(self._runner, "public_url", None))
        return base + EXECUTION_PAGE.format(id=quote(str(execution_id), safe="")) if base else None


class RunnerFlows:
    """:class:`~engine.runtime.context.FlowService` over a runner: the same validation and revisions as the API."""

    def __init__(self, runner: Any):
        self._runner = runner

    def list(self, namespace: str, *, children: bool = False) -> list[FlowSource]:
        records = self._runner.store.list_flows(namespace)
        return [FlowSource(r.namespace, r.id, r.revision, r.source) for r in records if children or r.namespace == namespace]

    def get(self, namespace: str, flow_id: str) -> FlowSource | None:
        rec = self._runner.store.get_flow(namespace, flow_id)
        return FlowSource(rec.namespace, rec.id, rec.revision, rec.source) if rec is not None else None

    def check(self, source: str) -> list[str]:
        return [str(e) for e in validate_text(source).errors]

    def deploy(self, source: str) -> FlowSource:
        flow = self._runner.deploy(source)
        return FlowSource(flow.namespace, flow.id, int(flow.revision or 0), source)

    def delete(self, namespace: str, flow_id: str) -> bool:
        from engine.store.triggers import TriggerStore

        if not self._runner.store.delete_flow(namespace, flow_id):
            return False
        TriggerStore(self._runner.store).forget_flow(namespace, flow_id)
        return True
