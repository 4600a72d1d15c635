"""Kestra's key-value store tasks (``io.kestra.plugin.core.kv.*``): Set, Get, GetKeys, Delete, PurgeKV.

Values live in the store's kv table, the same ones ``{{ kv('key') }}`` and
``/api/v1/namespaces/{ns}/kv`` read. A flow may use its own namespace's keys
and those of the namespaces above it (``company`` from ``company.team``),
like secrets; PurgeKV, a maintenance task, may name any namespace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from engine.sdk import (
    Duration,
    RunContext,
    RunnableTask,
    ServiceError,
    TaskFailed,
    TaskResult,
    parse_duration,
    register_task,
)

if TYPE_CHECKING:
    from engine.tasks.namespace_files import DeleteFiles, DownloadFiles, UploadFiles

KvType = Literal["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"]
_NS_DOC = "Namespace of the key (default: the flow's); the flow's own namespace or one above it."


def namespace_of(task: KvSet | _OneKey | KvGetKeys | UploadFiles | DownloadFiles | DeleteFiles, ctx: RunContext) -> str:
    """The rendered ``namespace`` of a kv task, refused unless it is the flow's or one above it."""
    namespace = str(ctx.render(task.namespace)) if task.namespace else ctx.namespace
    if namespace != ctx.namespace and not ctx.namespace.startswith(namespace + "."):
        raise TaskFailed(
            f"{task.id}.namespace: a flow of namespace '{ctx.namespace}' may use its own namespace "
            f"and the namespaces above it, not '{namespace}'"
        )
    return namespace


def typed(value: object, kv_type: str | None, field: str) -> Any:
    """Kestra's ``kvType``: a text value read as that type (a value of another type is kept as it is)."""
    if kv_type is None or kv_type == "STRING" or not isinstance(value, str):
        return str(value) if kv_type == "STRING" and value is not None else value
    text = value.strip()
    try:
        if kv_type == "NUMBER":
            number = json.loads(text)
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise ValueError
            return number
        if kv_type == "BOOLEAN":
            return text.lower() == "true"
        if kv_type == "JSON":
            return json.loads(text)
        if kv_type == "DURATION":
            parse_duration(text)
            return text
        if kv_type == "DATE":
            datetime.fromisoformat(text[:10])
            return text
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return text
    except (ValueError, TypeError):
        raise TaskFailed(f"{field}: {value!r} is not a valid {kv_type}") from None


@register_task(
    "kv_set",
    "io.kestra.plugin.core.kv.Set",
    group="Key-value store",
    title="Set a key",
    icon="🔑",
    summary="Store a value under a key of the namespace's key-value store (optionally with a time to live).",
)
class KvSet(RunnableTask):
    uses_services: ClassVar[bool] = True
    key: str = Field(description="The key (letters, digits, '.', '_', '-').")
    value: Any = Field(description="The value; an expression keeps its type (a map stays a map).")
    namespace: str | None = Field(default=None, description=_NS_DOC)
    overwrite: bool = Field(default=True, description="Replace a value the key already has (false: fail instead).")
    ttl: Duration | None = Field(default=None, description="The value expires after this duration (ISO-8601, e.g. P7D).")
    kv_type: KvType | None = Field(default=None, description="Read a text value as this type (NUMBER, BOOLEAN, JSON, DATETIME, DATE, DURATION).")

    @field_validator("kv_type", mode="before")
    @classmethod
    def _upper(cls, value: object) -> Any:
        return value.upper() if isinstance(value, str) else value

    def run(self, ctx: RunContext) -> TaskResult:
        namespace = namespace_of(self, ctx)
        key = str(ctx.render(self.key))
        value = typed(ctx.render(self.value), self.kv_type, f"{self.id}.value")
        try:
            ctx.kv.put(namespace, key, value, type=self.kv_type, ttl=self.ttl, overwrite=self.overwrite)
        except ServiceError as exc:
            raise TaskFailed(f"{self.id}: {exc}") from None
        return TaskResult()


class _OneKey(RunnableTask):
    """A task on one key (Get, Delete): where it is, and whether a missing value fails it."""

    uses_services: ClassVar[bool] = True
    key: str = Field(description="The key.")
    namespace: str | None = Field(default=None, description=_NS_DOC)
    error_on_missing: bool = Field(default=False, description="Fail when the key has no value.")

    def _on_key(self, ctx: RunContext, action: Callable[[Any, str, str], Any]) -> Any:
        """``action(kv, namespace, key)``'s result; a falsy one is a missing key."""
        namespace = namespace_of(self, ctx)
        key = str(ctx.render(self.key))
        try:
            result = action(ctx.kv, namespace, key)
        except ServiceError as exc:
            raise TaskFailed(f"{self.id}: {exc}") from None
        if not result and self.error_on_missing:
            raise TaskFailed(f"{self.id}: no value for key '{key}' in namespace '{namespace}' (errorOnMissing is true)")
        return result


@register_task(
    "kv_get",
    "io.kestra.plugin.core.kv.Get",
    group="Key-value store",
    title="Get a key",
    icon="🔑",
    summary="Read the value of a key as outputs.<id>.value (null when missing, unless errorOnMissing).",
)
class KvGet(_OneKey):
    def run(self, ctx: RunContext) -> TaskResult:
        item = self._on_key(ctx, lambda kv, namespace, key: kv.get(namespace, key))
        return TaskResult({"value": item.value if item else None})


@register_task(
    "kv_get_keys",
    "io.kestra.plugin.core.kv.GetKeys",
    group="Key-value store",
    title="List keys",
    icon="🔑",
    summary="List the keys of a namespace (those starting with a prefix) as outputs.<id>.keys.",
)
class KvGetKeys(RunnableTask):
    uses_services: ClassVar[bool] = True
    prefix: str | None = Field(default=None, description="Only keys starting with this.")
    namespace: str | None = Field(default=None, description=_NS_DOC)

    def run(self, ctx: RunContext) -> TaskResult:
        namespace = namespace_of(self, ctx)
        prefix = str(ctx.render(self.prefix)) if self.prefix else ""
        return TaskResult({"keys": [item.key for item in ctx.kv.list(namespace) if item.key.startswith(prefix)]})


@register_task(
    "kv_delete",
    "io.kestra.plugin.core.kv.Delete",
    group="Key-value store",
    title="Delete a key",
    icon="🔑",
    summary="Delete a key; outputs.<id>.deleted says whether it had a value.",
)
class KvDelete(_OneKey):
    def run(self, ctx: RunContext) -> TaskResult:
        return TaskResult({"deleted": self._on_key(ctx, lambda kv, namespace, key: kv.delete(namespace, key))})


@register_task(
    "kv_purge",
    "io.kestra.plugin.core.kv.PurgeKV",
    group="Key-value store",
    title="Purge keys",
    icon="🧹",
    summary="Delete keys across namespaces: expired ones by default, or all that match the patterns.",
)
class PurgeKV(RunnableTask):
    uses_services: ClassVar[bool] = True
    namespaces: list[str] | None = Field(default=None, description="These namespaces (default: every namespace).")
    namespace_pattern: str | None = Field(default=None, description="Namespaces matching this glob (instead of namespaces).")
    key_pattern: str | None = Field(default=None, description="Only keys matching this glob, e.g. 'AI_*'.")
    include_child_namespaces: bool = Field(default=True, description="Also the namespaces below the listed ones.")
    expired_only: bool | None = Field(default=None, description="Only keys whose ttl has run out (Kestra's older spelling of behavior).")
    behavior: dict[str, Any] | None = Field(default=None, description="{type: key, expiredOnly: true} (the default).")

    def run(self, ctx: RunContext) -> TaskResult:
        if self.namespaces and self.namespace_pattern:
            raise TaskFailed(f"{self.id}: give namespaces or namespacePattern, not both")
        expired_only = self.expired_only
        if expired_only is None:
            expired_only = bool((self.behavior or {}).get("expiredOnly", True))
        count = ctx.kv.purge(
            [str(ctx.render(n)) for n in self.namespaces] if self.namespaces else None,
            namespace_glob=str(ctx.render(self.namespace_pattern)) if self.namespace_pattern else None,
            key_glob=str(ctx.render(self.key_pattern)) if self.key_pattern else None,
            include_children=self.include_child_namespaces,
            expired_only=expired_only,
        )
        ctx.logger.info(f"purged {count} keys")
        return TaskResult({"size": count})
