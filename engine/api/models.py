"""Response and request bodies of the REST API (they are what the OpenAPI spec documents).

Records are answered in the shape of the Engine's views (engine/model/views.py): one
definition serves the API, the HTTP client that reads it, and every other front end.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.model.views import ExecutionSummary, LogLine, Page, Validation
from engine.model.views_workspace import BackfillInfo, KvEntry, NamespaceFile, NamespaceInfo, TriggerInfo


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


#: The execution summary (same shape as ``lanner flow run --json``), and the other records the Engine returns.
Execution = ExecutionSummary
ExecutionPage = Page[ExecutionSummary]


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


class ValidationResult(Validation):
    index: int


TriggerOut = TriggerInfo
TriggerPage = Page[TriggerInfo]


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


BackfillOut = BackfillInfo


class Count(BaseModel):
    count: int


KvValue = KvEntry
NamespaceOut = NamespaceInfo
NamespacePage = Page[NamespaceInfo]


class SecretName(BaseModel):
    key: str


class SecretPage(BaseModel):
    """Secret names of a namespace (Kestra's shape); values never leave the server."""

    results: list[SecretName]
    total: int

__all__ = ["BackfillIn", "BackfillOut", "Count", "Disabled", "Execution", "ExecutionPage", "FlowOut", "FlowPage", "KvValue",
           "LogLine", "NamespaceFile", "NamespaceOut", "NamespacePage", "SecretPage", "SetDisabled", "TriggerOut", "TriggerPage",
           "TriggerRef", "ValidationResult"]
