"""Response and request bodies of the REST API (they are what the OpenAPI spec documents)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Attempt(Open):
    state: str
    startDate: str | None = None
    endDate: str | None = None


class TaskRun(Open):
    id: str
    taskId: str
    parentTaskRunId: str | None = None
    value: str | None = None
    state: str
    attempts: list[Attempt] = []
    outputs: dict[str, Any] | None = None
    startDate: str | None = None
    endDate: str | None = None


class Execution(Open):
    """The execution summary (same shape as ``lanner flow run --json``)."""

    id: str
    namespace: str
    flowId: str
    flowRevision: int
    state: str
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    labels: dict[str, str] | None = None
    trigger: dict[str, Any] | None = None
    startDate: str | None = None
    endDate: str | None = None
    taskRuns: list[TaskRun] | None = None


class ExecutionPage(BaseModel):
    results: list[Execution]
    total: int


class LogLine(Open):
    id: int
    executionId: str
    taskRunId: str | None = None
    taskId: str | None = None
    attempt: int | None = None
    level: str
    timestamp: str
    message: str


class FlowOut(Open):
    id: str
    namespace: str
    revision: int
    source: str | None = None
    deleted: bool = False
    updated: str | None = None


class FlowPage(BaseModel):
    results: list[FlowOut]
    total: int


class ValidationResult(Open):
    index: int
    flow: str | None = None
    namespace: str | None = None
    valid: bool
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]


class TriggerOut(Open):
    namespace: str
    flowId: str
    triggerId: str
    type: str
    disabled: bool
    nextExecutionDate: str | None = None
    lastTriggerDate: str | None = None
    lastExecutionId: str | None = None
    lastExecutionState: str | None = None


class TriggerPage(BaseModel):
    results: list[TriggerOut]
    total: int


class TriggerRef(BaseModel):
    namespace: str = Field(max_length=150)
    flowId: str = Field(max_length=100)
    triggerId: str = Field(max_length=100)


class SetDisabled(BaseModel):
    triggers: list[TriggerRef] = Field(max_length=1000)
    disabled: bool


class Disabled(BaseModel):
    disabled: bool


class BackfillIn(BaseModel):
    namespace: str = Field(max_length=150)
    flowId: str = Field(max_length=100)
    triggerId: str = Field(max_length=100)
    start: str = Field(max_length=40, description="ISO-8601 start (inclusive); without offset it is read in the trigger's time zone.")
    end: str | None = Field(default=None, max_length=40, description="ISO-8601 end (exclusive); default now.")
    inputs: dict[str, Any] | None = None
    labels: dict[str, str] | None = None


class BackfillOut(Open):
    id: str
    namespace: str
    flowId: str
    triggerId: str
    start: str
    end: str
    state: str
    total: int
    done: int


class Count(BaseModel):
    count: int


class KvValue(Open):
    key: str
    type: str
    value: Any = None
    updated: str | None = None


class NamespaceOut(Open):
    id: str
    parent: str | None = None
    flowCount: int = 0


class NamespacePage(BaseModel):
    results: list[NamespaceOut]
    total: int


class NamespaceFile(BaseModel):
    path: str
    size: int | None = None
