"""The one place that maps task and trigger type names to classes.

Each type has a short canonical name (``log``) and Kestra aliases (current
``io.kestra.plugin.core.log.Log`` and legacy ``io.kestra.core.tasks.log.Log``).
The builder palette, the JSON Schema and autocompletion all read from here.

Polymorphic fields (``tasks: list[AnyTask]``) are pydantic discriminated
unions built once every type is registered (:func:`finalize`).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, Discriminator, Tag

from engine.model.task import Task

T = TypeVar("T", bound=type)

_TASKS: dict[str, type[Task]] = {}
_TRIGGERS: dict[str, type[BaseModel]] = {}
_TASK_ALIASES: dict[str, str] = {}
_TRIGGER_ALIASES: dict[str, str] = {}
_MODELS_TO_REBUILD: list[type[BaseModel]] = []
_state: dict[str, Any] = {"finalized": False}

#: Modules that define the built-in task and trigger types.
BUILTIN_MODULES = (
    "engine.tasks.core",
    "engine.tasks.flow",
    "engine.tasks.scripts",
    "engine.tasks.notebook",
    "engine.tasks.http",
    "engine.triggers.schedule",
    "engine.triggers.flow",
    "engine.triggers.webhook",
    "engine.triggers.file",
)


def register_task(
    canonical: str,
    *aliases: str,
    group: str,
    title: str,
    icon: str,
    summary: str,
) -> Callable[[T], T]:
    """Class decorator: register a task type under its canonical name and aliases."""

    def deco(cls: T) -> T:
        cls.canonical = canonical  # type: ignore[attr-defined]
        cls.aliases = tuple(aliases)  # type: ignore[attr-defined]
        cls.group = group  # type: ignore[attr-defined]
        cls.title = title  # type: ignore[attr-defined]
        cls.icon = icon  # type: ignore[attr-defined]
        cls.summary = summary  # type: ignore[attr-defined]
        _TASKS[canonical] = cls  # type: ignore[assignment]
        for name in (canonical, *aliases):
            _TASK_ALIASES[name] = canonical
        _MODELS_TO_REBUILD.append(cls)  # type: ignore[arg-type]
        return cls

    return deco


def register_trigger(canonical: str, *aliases: str, title: str, icon: str, summary: str) -> Callable[[T], T]:
    """Class decorator: register a trigger type under its canonical name and aliases."""

    def deco(cls: T) -> T:
        cls.canonical = canonical  # type: ignore[attr-defined]
        cls.aliases = tuple(aliases)  # type: ignore[attr-defined]
        cls.group = "Triggers"  # type: ignore[attr-defined]
        cls.title = title  # type: ignore[attr-defined]
        cls.icon = icon  # type: ignore[attr-defined]
        cls.summary = summary  # type: ignore[attr-defined]
        _TRIGGERS[canonical] = cls  # type: ignore[assignment]
        for name in (canonical, *aliases):
            _TRIGGER_ALIASES[name] = canonical
        _MODELS_TO_REBUILD.append(cls)  # type: ignore[arg-type]
        return cls

    return deco


def needs_rebuild(cls: T) -> T:
    """Mark a non-task model that refers to ``AnyTask``/``AnyTrigger`` (Flow, DagItem...)."""
    _MODELS_TO_REBUILD.append(cls)  # type: ignore[arg-type]
    return cls


def _type_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("type")
    return getattr(value, "type", None)


def _task_tag(value: Any) -> str | None:
    t = _type_of(value)
    return _TASK_ALIASES.get(t) if isinstance(t, str) else None


def _trigger_tag(value: Any) -> str | None:
    t = _type_of(value)
    return _TRIGGER_ALIASES.get(t) if isinstance(t, str) else None


def _union(classes: dict[str, type[BaseModel]], disc: Callable[[Any], str | None]) -> Any:
    members = tuple(Annotated[cls, Tag(name)] for name, cls in classes.items())
    if len(members) == 1:
        members = members + members
    return Annotated[Union[members], Discriminator(disc)]  # noqa: UP007


def finalize() -> None:
    """Import the built-in types and resolve every ``AnyTask``/``AnyTrigger`` field."""
    if _state["finalized"]:
        return
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a family not written yet is simply absent
            if exc.name != module:
                raise
    importlib.import_module("engine.model.flow")
    from engine.model.flowable import FlowableTask, check_child_lists

    for cls in _TASKS.values():
        if issubclass(cls, FlowableTask):
            check_child_lists(cls)
    namespace = {"AnyTask": _union(_TASKS, _task_tag), "AnyTrigger": _union(_TRIGGERS, _trigger_tag)}  # type: ignore[arg-type]
    _state["namespace"] = namespace
    for cls in _MODELS_TO_REBUILD:
        cls.model_rebuild(force=True, _types_namespace=namespace)
    _state["finalized"] = True


def type_namespace() -> dict[str, Any]:
    finalize()
    return _state["namespace"]


def task_classes() -> dict[str, type[Task]]:
    """Canonical name -> class, in registration order."""
    finalize()
    return dict(_TASKS)


def trigger_classes() -> dict[str, type[BaseModel]]:
    finalize()
    return dict(_TRIGGERS)


def task_class(type_name: str) -> type[Task] | None:
    finalize()
    canonical = _TASK_ALIASES.get(type_name)
    return _TASKS.get(canonical) if canonical else None


def trigger_class(type_name: str) -> type[BaseModel] | None:
    finalize()
    canonical = _TRIGGER_ALIASES.get(type_name)
    return _TRIGGERS.get(canonical) if canonical else None


def canonical_task_name(type_name: str) -> str | None:
    finalize()
    return _TASK_ALIASES.get(type_name)


def task_aliases() -> dict[str, str]:
    """Every accepted task type name -> its canonical name."""
    finalize()
    return dict(_TASK_ALIASES)


def trigger_aliases() -> dict[str, str]:
    finalize()
    return dict(_TRIGGER_ALIASES)


def child_list_spec() -> dict[str, Any]:
    """Which properties of each container type hold child tasks, and in which shape (as JSON).

    What the builder's canvas, forms and topology read instead of tables of their own;
    see :func:`engine.model.flowable.child_list_spec`.
    """
    from engine.model.flowable import child_list_spec as spec

    finalize()
    return spec(_TASKS.items(), _TASK_ALIASES)


def child_lists_of(type_name: Any) -> tuple[Any, ...]:
    """The child lists (:class:`engine.model.flowable.ChildList`) of a task type, branches first,
    ``errors``/``finally`` last; empty for a runnable or unknown type."""
    from engine.model.flowable import FlowableTask

    cls = task_class(type_name) if isinstance(type_name, str) else None
    return cls.all_child_lists() if cls is not None and issubclass(cls, FlowableTask) else ()


def tags() -> set[str]:
    """The discriminator tags pydantic puts in error locations (to strip them)."""
    finalize()
    return set(_TASKS) | set(_TRIGGERS)


def suggest(type_name: str, *, trigger: bool = False) -> str | None:
    """The closest known type name, for 'unknown type' errors."""
    names = list(_TRIGGER_ALIASES if trigger else _TASK_ALIASES)
    lowered = {n.lower(): n for n in names}
    short = type_name.rsplit(".", 1)[-1].lower()
    for cand in (type_name.lower(), short):
        match = difflib.get_close_matches(cand, list(lowered), n=1, cutoff=0.6)
        if match:
            return lowered[match[0]]
    tails = {n.rsplit(".", 1)[-1].lower(): n for n in names}
    match = difflib.get_close_matches(short, list(tails), n=1, cutoff=0.6)
    return tails[match[0]] if match else None
