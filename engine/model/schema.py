"""JSON Schema of a flow, generated from the registry (builder forms, editors, `lanner flow schema`)."""

from __future__ import annotations

import functools
import json
from typing import Any

from engine.model import registry


def flow_json_schema() -> dict[str, Any]:
    """The whole flow schema: every task, trigger and condition type (plugins' too), with camelCase property names."""
    from engine.model.flow import Flow

    registry.finalize()
    schema = Flow.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Lanner flow"
    _annotate_types(schema)
    return schema


@functools.cache
def _schema_text(cls: type, _known_types: int) -> str:
    """pydantic's schema of one type, made once per process: a container's embeds every task type and takes
    a second or more to build, and the builder asks for it each time a form opens. Kept as text so that each
    caller gets its own copy to change. ``_known_types`` is part of the key: a plugin loaded later changes
    what a container accepts."""
    return json.dumps(cls.model_json_schema(by_alias=True, mode="validation"))  # type: ignore[attr-defined]


def task_json_schema(type_name: str) -> dict[str, Any] | None:
    """Schema of one task type (for its property form)."""
    cls = registry.task_class(type_name) or registry.trigger_class(type_name) or registry.condition_class(type_name)
    if cls is None:
        return None
    schema = _inline_root(json.loads(_schema_text(cls, _known_types())))
    schema["x-lanner"] = {
        "canonical": cls.canonical,
        "aliases": list(cls.aliases),
        "group": cls.group,
        "title": cls.title,
        "icon": cls.icon,
        "summary": cls.summary,
        **_child_lists(cls),
        "plugin": registry.source_of(cls).distribution,
    }
    return schema


def _known_types() -> int:
    return len(registry.task_classes()) + len(registry.trigger_classes()) + len(registry.condition_classes())


def _inline_root(schema: dict[str, Any]) -> dict[str, Any]:
    """A type that nests tasks refers to itself, so pydantic puts its properties under ``$defs``
    and leaves a bare ``$ref`` at the top: bring them up, so forms find ``properties`` there."""
    ref = schema.get("$ref")
    defs = schema.get("$defs", {})
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return schema
    root = defs.get(ref.rsplit("/", 1)[-1])
    if not isinstance(root, dict):
        return schema
    return {**root, "$defs": defs}


def _child_lists(cls: type) -> dict[str, Any]:
    """``childLists``: the properties of a container type that hold child tasks, and their shape."""
    from engine.model.flowable import FlowableTask

    if not (isinstance(cls, type) and issubclass(cls, FlowableTask)):
        return {}
    return {"childLists": [c.to_dict() for c in cls.all_child_lists()]}


def _annotate_types(schema: dict[str, Any]) -> None:
    """Give each task/trigger definition the type names it accepts (enum on `type`)."""
    defs = schema.get("$defs", {})
    classes: dict[str, registry.TypeClass] = {
        **registry.task_classes(), **registry.trigger_classes(), **registry.condition_classes()
    }
    by_title = {cls.__name__: cls for cls in classes.values()}
    for name, definition in defs.items():
        cls = by_title.get(name)
        if cls is None:
            continue
        props = definition.get("properties", {})
        if "type" in props:
            props["type"] = {
                "type": "string",
                "enum": [cls.canonical, *cls.aliases],
                "description": f"{cls.title}: {cls.summary}",
            }
        definition["x-lanner"] = {
            "canonical": cls.canonical, "group": cls.group, "title": cls.title, "icon": cls.icon, **_child_lists(cls),
            "plugin": registry.source_of(cls).distribution,
        }
