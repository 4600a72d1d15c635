"""The services a task may use besides files: typed interfaces, provided by the runner on ``RunContext.services``.

Tasks never import the store or the runtime (DESIGN.md). A task that needs
the key-value store, the execution history, the logs or the triggers asks its
:class:`~engine.runtime.context.RunContext` for the service
(``ctx.services.kv`` ...); the runner that runs the attempt provides an
implementation over its store. A runner without a store (a remote worker that
cannot reach the database) provides none, and the task fails with a sentence
saying so instead of a traceback.

Everything here is plain data and :class:`typing.Protocol`: a test can hand a
task an in-memory implementation, a plugin can use the same services.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol


class ServiceError(ValueError):
    """A request a service refuses (a bad key, a flow that does not exist); the message is for users."""


@dataclass(frozen=True)
class KvItem:
    """One key of a namespace's key-value store."""

    namespace: str
    key: str
    value: Any
    type: str  # Kestra's names: STRING, NUMBER, BOOLEAN, JSON, DATETIME, DATE, DURATION
    updated: str
    expiration: str | None = None  # ISO-8601 UTC; None: never expires


class KvService(Protocol):
    """Namespace-scoped values (``{{ kv('key') }}``, the kv.* tasks, ``/api/v1/namespaces/{ns}/kv``)."""

    def get(self, namespace: str, key: str) -> KvItem | None:
        """The value of ``key``, None when missing or expired."""
        ...

    def put(self, namespace: str, key: str, value: object, *, type: str | None = None, ttl: timedelta | None = None,
            overwrite: bool = True) -> KvItem:
        """Store ``value``; ``overwrite=False`` refuses (ServiceError) a key that already has a live value."""
        ...

    def delete(self, namespace: str, key: str) -> bool:
        """Remove ``key``; False when there was nothing to remove."""
        ...

    def list(self, namespace: str) -> list[KvItem]:
        """Every live key of the namespace, sorted."""
        ...

    def purge(self, namespaces: builtins.list[str] | None, *, namespace_glob: str | None = None, key_glob: str | None = None,
              include_children: bool = True, expired_only: bool = True) -> int:
        """Delete keys of these namespaces (None: every namespace); return how many went."""
        ...


@dataclass
class PurgeCounts:
    """What a purge of executions removed."""

    executions: int = 0
    logs: int = 0
    storage: int = 0
    metrics: int = 0


@dataclass(frozen=True)
class ExecutionRef:
    """Where an execution belongs and how it stands."""

    id: str
    namespace: str
    flow_id: str
    state: str
    parent: Mapping[str, Any] | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)


class ExecutionService(Protocol):
    """Queries and commands on the execution history (Count, Purge*, log Fetch, Resume, ForEachItem)."""

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        """The execution summary (the shape of ``lanner flow run --json``), None when it does not exist."""
        ...

    def page_url(self, execution_id: str) -> str | None:
        """Link to the execution's page in the UI, None when no public URL of the server is known."""
        ...

    def find(self, execution_id: str) -> ExecutionRef | None:
        ...

    def count(self, *, flows: list[tuple[str, str]] | None, namespaces: list[str] | None, states: list[str] | None,
              start: datetime | None, end: datetime | None) -> list[tuple[str, str, int]]:
        """(namespace, flowId, count) of the executions started in [start, end), per flow."""
        ...

    def purge(self, *, namespace: str | None, flow_id: str | None, start: datetime | None, end: datetime,
              states: list[str] | None, executions: bool = True, logs: bool = True, storage: bool = True) -> PurgeCounts:
        """Delete ended executions started in [start, end) (a namespace is a prefix unless ``flow_id`` is set)."""
        ...

    def logs(self, execution_id: str, *, task_ids: list[str] | None = None, min_level: str = "INFO") -> Iterator[dict[str, Any]]:
        """The stored log lines of an execution, oldest first."""
        ...

    def purge_logs(self, *, namespace: str | None, flow_id: str | None, levels: list[str] | None,
                   start: datetime | None, end: datetime) -> int:
        """Delete log lines written in [start, end); return how many."""
        ...

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> None:
        """Resume a PAUSED execution (ServiceError when it is not paused)."""
        ...

    def children(self, execution_id: str, task_id: str, value: str | None = None) -> Iterator[ExecutionRef]:
        """The ended child executions the task runs of ``task_id`` (of loop value ``value``) started, oldest first."""
        ...


@dataclass(frozen=True)
class FlowSource:
    """One deployed flow as :class:`FlowService` reports it."""

    namespace: str
    id: str
    revision: int
    source: str


class FlowService(Protocol):
    """Deploys flows for a task (``git_sync_flows``): the same validation and revisions as the API."""

    def list(self, namespace: str, *, children: bool = False) -> list[FlowSource]:
        """The latest revision of every flow of ``namespace`` (and of its child namespaces)."""
        ...

    def get(self, namespace: str, flow_id: str) -> FlowSource | None:
        """The latest revision of one flow, None when there is none (or it was deleted)."""
        ...

    def check(self, source: str) -> builtins.list[str]:
        """Why this flow YAML would be refused (each error names its field and line); empty when valid."""
        ...

    def deploy(self, source: str) -> FlowSource:
        """Validate and store the flow as a new revision (an unchanged source keeps its revision)."""
        ...

    def delete(self, namespace: str, flow_id: str) -> bool:
        """Delete a flow (its history and executions stay); False when it does not exist."""
        ...


class TriggerService(Protocol):
    """Enable and disable the triggers of deployed flows (trigger.Toggle)."""

    def set_enabled(self, namespace: str, flow_id: str, trigger_id: str, enabled: bool) -> None:
        """ServiceError when the flow or its trigger does not exist."""
        ...


@dataclass
class TaskServices:
    """The services of one runner; a field is None when that runner cannot offer it."""

    kv: KvService | None = None
    executions: ExecutionService | None = None
    triggers: TriggerService | None = None
    flows: FlowService | None = None
