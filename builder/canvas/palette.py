"""The canvas palette, built from the task and trigger registry.

Nothing here is a hard-coded list of tasks: a task type appears in the palette
because it is registered, with the group, icon, title and one-line summary its
author gave in ``@register_task``. Lanner's own types are shown by group (Basics,
Flow control...); each plugin's types come after them, in one section per plugin. New tasks get the required properties their
JSON Schema asks for, filled with the field's first ``examples`` entry, its
``default``, or an empty value of the right type, so that a dropped task is
valid as soon as possible and the form shows what is left to fill in.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from builder.canvas.flow_edit import FlowEditError, container_kind, new_id
from engine.model import registry

#: Display order of the palette groups; groups a task author invents come after these.
GROUP_ORDER: tuple[str, ...] = ("Basics", "Flow control", "Scripts", "Notebooks", "HTTP", "Triggers")
_DEFAULT_ICON = "🔧"
_SKIP = {"id", "type"}


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every registered type, generated in one pass that shares ``$defs``.

    Cached: the registry is fixed once finalized and the pass costs a few hundred ms.
    """
    classes: list[type[BaseModel]] = [*registry.task_classes().values(), *registry.trigger_classes().values()]
    try:
        keys, top = models_json_schema([(cls, "validation") for cls in classes], by_alias=True)
    except Exception:  # noqa: BLE001 - one odd field type must not take the palette down
        return {_qualname(cls): _schema_one(cls) for cls in classes}
    defs = top.get("$defs", {})
    out: dict[str, dict[str, Any]] = {}
    for cls in classes:
        ref = keys[(cls, "validation")].get("$ref", "")
        schema = dict(defs.get(ref.rsplit("/", 1)[-1], {}))
        schema["$defs"] = defs
        out[_qualname(cls)] = schema
    return out


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _schema_one(cls: type[BaseModel]) -> dict[str, Any]:
    try:
        return cls.model_json_schema(by_alias=True)
    except Exception:  # noqa: BLE001
        return {"properties": {}, "required": []}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
        seen += 1
    return schema


def default_value(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A sensible starting value for a property: example, default, enum, else empty of its type."""
    schema = _resolve(schema, defs)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if _resolve(o, defs).get("type") != "null"]
        if options:
            return default_value(options[0], defs, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        return _required_defaults(schema, defs, depth + 1) if depth < 4 else {}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(kind, "")


def _required_defaults(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    props = schema.get("properties", {})
    return {
        name: default_value(props.get(name, {}), defs, depth)
        for name in schema.get("required", [])
        if name not in _SKIP
    }


def _class_for(type_name: str, kind: str | None) -> type[BaseModel] | None:
    task = registry.task_class(type_name) if kind in (None, "task") else None
    return task or (registry.trigger_class(type_name) if kind in (None, "trigger") else None)


def task_template(type_name: str, kind: str | None = None) -> dict[str, Any]:
    """``{"type": canonical, <required properties>}`` for a registered task (or trigger) type.

    ``kind`` ("task" or "trigger") settles a name both registries know; by default tasks win.
    """
    cls = _class_for(type_name, kind)
    if cls is None:
        hint = registry.suggest(type_name, trigger=kind == "trigger")
        more = f" Did you mean {hint!r}?" if hint else ""
        raise FlowEditError(f"Unknown task type {type_name!r}: it is not in the registry.{more}")
    schema = _schemas().get(_qualname(cls)) or _schema_one(cls)
    return {"type": cls.canonical, **_required_defaults(schema, schema.get("$defs", {}))}  # type: ignore[attr-defined]


def new_task(canonical_type: str, existing_ids: Any, kind: str | None = None) -> dict[str, Any]:
    """A new task of this type with a unique id (``log_1``...) and its required properties filled."""
    template = task_template(canonical_type, kind)
    return {"id": new_id(template["type"], existing_ids), **template}


def _group_rank(group: str, seen: list[str]) -> tuple[int, int]:
    if group in GROUP_ORDER:
        return (0, GROUP_ORDER.index(group))
    if group not in seen:
        seen.append(group)
    return (1, seen.index(group))


def _section_rank(entry: dict[str, Any], seen: list[str]) -> tuple[int, str, int, int]:
    """Lanner's own groups in display order, then one section per plugin (by name)."""
    if entry["plugin"] and entry["plugin"] != registry.BUILTIN:
        return (1, entry["plugin"], 0, 0)
    return (0, "", *_group_rank(entry["group"], seen))


def palette_items() -> list[dict[str, Any]]:
    """Every registered task and trigger type as a palette entry, grouped in display order.

    An entry: ``type`` (canonical), ``kind`` (task|trigger), ``group``, ``title``, ``icon``,
    ``summary``, ``aliases`` (Kestra names, so the canvas can label any YAML), ``container``
    (its container kind or None), ``template`` (what a drop inserts, minus the id), ``plugin``
    and ``pluginVersion`` (the distribution the type comes from, None for this process) and
    ``section`` (the palette heading: the group of Lanner's own types, the plugin's name otherwise).
    """
    entries: list[dict[str, Any]] = []
    for kind, classes in (("task", registry.task_classes()), ("trigger", registry.trigger_classes())):
        for canonical, cls in classes.items():
            source = registry.source_of(cls)
            group = getattr(cls, "group", "") or ("Triggers" if kind == "trigger" else "Basics")
            third_party = source.distribution is not None and not source.builtin
            entries.append({
                "type": canonical,
                "kind": kind,
                "group": group,
                "title": getattr(cls, "title", "") or canonical,
                "icon": getattr(cls, "icon", "") or _DEFAULT_ICON,
                "summary": getattr(cls, "summary", "") or "",
                "aliases": list(getattr(cls, "aliases", ())),
                "container": container_kind(canonical),
                "template": task_template(canonical, kind),
                "plugin": source.distribution,
                "pluginVersion": source.version,
                "section": source.distribution if third_party else group,
            })
    seen: list[str] = []
    ranks = [_section_rank(e, seen) for e in entries]
    order = sorted(range(len(entries)), key=lambda i: (ranks[i], i))
    return [entries[i] for i in order]
