"""Reading rendered property values the way Kestra's tasks accept them, with errors that name the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from engine.sdk import StorageError, TaskFailed


def structured(value: object, field: str, expected: type | tuple[type, ...], what: str) -> Any:
    """A map or list given as such or as JSON text (``{{ outputs.x.files }}`` often renders to text)."""
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise TaskFailed(f"{field}: {text[:80]!r} is not {what} (give YAML or JSON)") from None
    if not isinstance(value, expected):
        raise TaskFailed(f"{field}: expected {what}, got {type(value).__name__}")
    return value


def iso_datetime(value: object, field: str, *, zone_required: bool = False) -> datetime:
    """An ISO-8601 date-time (``Z`` or an offset; without one it is UTC unless ``zone_required``)."""
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise TaskFailed(f"{field}: {text!r} is not an ISO-8601 date-time such as 2024-01-31T00:00:00Z") from None
    if parsed.tzinfo is None:
        if zone_required:
            raise TaskFailed(f"{field}: {text!r} has no time zone; add one (Z or +01:00)")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@contextmanager
def storage_errors(task_id: str) -> Iterator[None]:
    """A refused or missing file fails the task with the storage's sentence."""
    try:
        yield
    except StorageError as exc:
        raise TaskFailed(f"{task_id}: {exc}") from None


def require_related_namespace(task_id: str, own: str, other: str, what: str) -> None:
    """A flow may act on executions and triggers of its own namespace, those above it and those below it."""
    if own == other or own.startswith(other + ".") or other.startswith(own + "."):
        return
    raise TaskFailed(
        f"{task_id}: a flow of namespace '{own}' may use the {what} of its own namespace and of the namespaces "
        f"above and below it, not of '{other}'"
    )
