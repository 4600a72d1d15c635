"""What the builder's templates gallery, Namespace page, "Test this task" and expression preview ask the engine.

A part of :class:`builder.services.Services` (it inherits this class): every call goes to the
:class:`engine.service.Engine` protocol and comes back as what a page shows. Refusals come back
as one sentence (``Problem``), never as an exception the page would have to know about.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.model.inputs import InputError
from engine.model.validation import FlowValidationError
from engine.service import EngineError

if TYPE_CHECKING:
    from engine.model.views_workspace import FlowTemplate
    from engine.service import Engine


class Problem(Exception):
    """A refusal a page shows as it is: one sentence that names what to fix."""


@dataclass
class Preview:
    value: str | None
    error: str | None


@contextmanager
def _refusals(*kinds: type[Exception]) -> Iterator[None]:
    """The engine's refusals (and ``kinds``) as a Problem carrying their one sentence."""
    try:
        yield
    except (EngineError, *kinds) as exc:
        raise Problem(_sentence(exc)) from None


def _sentence(exc: Exception) -> str:
    if isinstance(exc, FlowValidationError):
        return "; ".join(str(e) for e in exc.errors[:3])
    if isinstance(exc, EngineError):
        return exc.message
    return str(exc)


class AssistServices:
    """Templates, namespace files, KV entries, secret names, task tests and expression previews."""

    engine: Engine

    # --- templates ----------------------------------------------------------------------------------

    def templates(self) -> list[FlowTemplate]:
        return self.engine.templates()

    def open_template(self, template_id: str, namespace: str, flow_id: str) -> str:
        """The template's YAML under the chosen names (and the namespace files it needs are added)."""
        with _refusals():
            return self.engine.open_template(template_id, namespace, flow_id)

    # --- namespace files, KV, secrets ------------------------------------------------------------------

    def namespace_files(self, namespace: str) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.engine.namespace_files(namespace)]

    def read_namespace_file(self, namespace: str, path: str) -> bytes:
        with _refusals():
            return self.engine.read_namespace_file(namespace, path)

    def write_namespace_file(self, namespace: str, path: str, data: bytes) -> None:
        with _refusals():
            self.engine.write_namespace_file(namespace, path, data)

    def delete_namespace_file(self, namespace: str, path: str) -> None:
        with _refusals():
            self.engine.delete_namespace_file(namespace, path)

    def kv_entries(self, namespace: str) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.engine.kv_list(namespace)]

    def kv_set(self, namespace: str, key: str, value: object, ttl: str | None = None) -> None:
        with _refusals():
            self.engine.kv_put(namespace, key, value, ttl=ttl or None)

    def kv_delete(self, namespace: str, key: str) -> None:
        with _refusals():
            self.engine.kv_delete(namespace, key)

    def secret_names(self, namespace: str) -> list[str]:
        return self.engine.secret_names(namespace)

    # --- test this task, expression preview ---------------------------------------------------------------

    def recent_executions(self, namespace: str, flow_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The flow's latest executions (id, state, start, inputs), newest first: what a test can pin."""
        found = self.engine.search_executions(namespace=namespace, flow_id=flow_id, size=limit).results
        return [{"id": e.id, "state": str(e.state), "startDate": e.start_date, "inputs": dict(e.inputs)} for e in found]

    def test_task(self, namespace: str, flow_id: str, task_id: str, source: str, inputs: dict[str, Any],
                  pinned_execution_id: str | None) -> str:
        """Start the task alone; its execution id. Problem with the sentence when it cannot start."""
        with _refusals(InputError, FlowValidationError):
            return self.engine.test_task(namespace, flow_id, task_id, source=source, inputs=inputs,
                                         pinned_execution_id=pinned_execution_id or None)

    def preview(self, namespace: str, flow_id: str, template: str, task_id: str | None = None) -> Preview:
        try:
            found = self.engine.preview_expression(namespace, flow_id, template, task_id=task_id or None)
        except EngineError as exc:
            return Preview(None, _sentence(exc))
        return Preview(found.value, found.error)


__all__ = ["AssistServices", "Preview", "Problem"]
