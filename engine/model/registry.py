"""The one place that maps task, trigger and condition type names to classes.

Types come from entry points (``lanner.tasks``, ``lanner.triggers``,
``lanner.conditions``; see :mod:`engine.model.plugin_index`), Lanner's own
types included, or from classes decorated in the running process (a test, a
notebook). Each type has a short canonical name (``log``) and aliases (Kestra's
current ``io.kestra.plugin.core.log.Log`` and legacy
``io.kestra.core.tasks.log.Log``); entry point names give every name without an
import, so resolving a flow imports only the modules of the types it uses.
The JSON Schema, the builder palette, the README tables and ``lanner plugins
list`` ask for every class, which imports every plugin once.

A plugin that cannot be loaded (its module fails to import, its entry point
names something that is not a registered task, trigger or condition class) is
recorded with the reason and skipped: it never stops the process. Flows that
use its types get a validation error naming the plugin.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from engine.model.plain import Plain
from engine.model.plugin_index import BUILTIN, GROUPS, KINDS
from engine.model.polymorphic import UnknownType, install_directory
from engine.model.type_catalog import PluginError, Source, TypeCatalog, base_class

if TYPE_CHECKING:
    from engine.model.condition import Condition
    from engine.model.task import Task
    from engine.model.trigger import Trigger

#: The class of a registered type: every kind has the registry's class variables (canonical, group...).
TypeClass = type["Task"] | type["Trigger"] | type["Condition"]

__all__ = ["BUILTIN", "GROUPS", "KINDS", "PluginError", "PluginInfo", "Source", "base_class"]

T = TypeVar("T", bound=type)


class PluginInfo(Plain):
    """One distribution that provides types, what it provides and what failed to load.

    ``types``: kind -> the types of that kind (a new empty list per kind by default); ``errors`` a new
    empty list by default. A plain class rather than a dataclass: every cold run imports this module, and
    building a dataclass costs ~0.5 ms (see :mod:`engine.model.plain`).
    """

    __slots__ = ("name", "version", "builtin", "types", "errors")
    name: str
    version: str | None
    builtin: bool
    types: dict[str, list[dict[str, Any]]]
    errors: list[PluginError]

    def __init__(self, name: str, version: str | None, builtin: bool, types: dict[str, list[dict[str, Any]]] | None = None,
                 errors: list[PluginError] | None = None) -> None:
        self.name = name
        self.version = version
        self.builtin = builtin
        self.types = {k: [] for k in KINDS} if types is None else types
        self.errors = [] if errors is None else errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "builtin": self.builtin,
            "tasks": self.types["task"],
            "triggers": self.types["trigger"],
            "conditions": self.types["condition"],
            "errors": [e.to_dict() for e in self.errors],
        }


_catalog = TypeCatalog()  # the one catalog of this process


# --- registration (what engine.sdk exports) -----------------------------------------------------------


def _decorator(kind: str, canonical: str, aliases: tuple[str, ...], meta: dict[str, str]) -> Callable[[T], T]:
    def deco(cls: T) -> T:
        cls.canonical = canonical  # type: ignore[attr-defined]
        cls.aliases = tuple(aliases)  # type: ignore[attr-defined]
        for key, value in meta.items():
            setattr(cls, key, value)
        _catalog.register(kind, cls, canonical, tuple(aliases))
        return cls

    return deco


def register_task(
    canonical: str, *aliases: str, group: str = "Plugins", title: str = "", icon: str = "", summary: str = ""
) -> Callable[[T], T]:
    """Class decorator: register a task type under its canonical name and aliases.

    ``group``, ``title``, ``icon`` and ``summary`` are what the builder palette and the docs show.
    """
    return _decorator("task", canonical, aliases, {"group": group, "title": title, "icon": icon, "summary": summary})


def register_trigger(canonical: str, *aliases: str, title: str = "", icon: str = "", summary: str = "") -> Callable[[T], T]:
    """Class decorator: register a trigger type under its canonical name and aliases."""
    return _decorator("trigger", canonical, aliases, {"group": "Triggers", "title": title, "icon": icon, "summary": summary})


def register_condition(canonical: str, *aliases: str, title: str = "", icon: str = "", summary: str = "") -> Callable[[T], T]:
    """Class decorator: register a trigger condition type under its canonical name and aliases."""
    return _decorator("condition", canonical, aliases, {"group": "Conditions", "title": title, "icon": icon, "summary": summary})


def needs_rebuild(cls: T) -> T:
    """Kept for modules written when polymorphic fields were resolved late; does nothing now."""
    return cls


# --- lookups -----------------------------------------------------------------------------------------


def finalize() -> None:
    """Read the declared type names (no plugin module is imported)."""
    _catalog.ensure_scanned()


def load_all() -> list[PluginError]:
    """Import every declared type now (server start); return what could not be loaded."""
    for kind in KINDS:
        _catalog.load_kind(kind)
    return errors()


def errors() -> list[PluginError]:
    """Plugins (entry points) that could not be loaded so far, and name conflicts."""
    _catalog.ensure_scanned()
    return list(_catalog.errors)


def resolve(kind: str, type_name: str) -> TypeClass:
    """The class of ``type_name``, importing its module if needed; UnknownType says why there is none."""
    return cast("TypeClass", _catalog.resolve(kind, type_name))


def lookup(kind: str, type_name: str) -> TypeClass | None:
    try:
        return resolve(kind, type_name)
    except UnknownType:
        return None


def classes(kind: str) -> dict[str, TypeClass]:
    """Canonical name -> class of every type of ``kind`` (imports every plugin)."""
    return cast("dict[str, TypeClass]", _catalog.every_class(kind))


def task_classes() -> dict[str, type[Task]]:
    """Canonical name -> class, Lanner's own first in registration order, then by plugin."""
    return cast("dict[str, type[Task]]", classes("task"))


def trigger_classes() -> dict[str, type[Trigger]]:
    return cast("dict[str, type[Trigger]]", classes("trigger"))


def condition_classes() -> dict[str, type[Condition]]:
    return cast("dict[str, type[Condition]]", classes("condition"))


def task_class(type_name: str) -> type[Task] | None:
    return cast("type[Task] | None", lookup("task", type_name))


def trigger_class(type_name: str) -> type[Trigger] | None:
    return cast("type[Trigger] | None", lookup("trigger", type_name))


def condition_class(type_name: str) -> type[Condition] | None:
    return cast("type[Condition] | None", lookup("condition", type_name))


def canonical_task_name(type_name: str) -> str | None:
    cls = task_class(type_name)
    return cls.canonical if cls is not None else None


def canonical_trigger_name(type_name: str) -> str | None:
    cls = trigger_class(type_name)
    return cls.canonical if cls is not None else None


def _aliases(kind: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for canonical, cls in classes(kind).items():
        for name in (canonical, *cls.aliases):
            out.setdefault(name, canonical)
    return out


def task_aliases() -> dict[str, str]:
    """Every accepted task type name -> its canonical name."""
    return _aliases("task")


def trigger_aliases() -> dict[str, str]:
    return _aliases("trigger")


def child_list_spec() -> dict[str, Any]:
    """Which properties of each container type hold child tasks, and in which shape (as JSON).

    What the builder's canvas, forms and topology read instead of tables of their own
    (imports every task type, plugins' included); see :func:`engine.model.flowable.child_list_spec`.
    """
    from engine.model.flowable import child_list_spec as spec

    return spec(task_classes().items(), task_aliases())


def child_lists_of(type_name: object) -> tuple[Any, ...]:
    """The child lists (:class:`engine.model.flowable.ChildList`) of a task type, branches first,
    ``errors``/``finally`` last; empty for a runnable or unknown type."""
    from engine.model.flowable import FlowableTask

    cls = task_class(type_name) if isinstance(type_name, str) else None
    return cls.all_child_lists() if cls is not None and issubclass(cls, FlowableTask) else ()


def suggest(type_name: str, *, trigger: bool = False, kind: str | None = None) -> str | None:
    """The closest known type name, for 'unknown type' errors."""
    return _catalog.suggest(kind or ("trigger" if trigger else "task"), type_name)


def unknown_message(kind: str, type_name: str) -> str:
    """The sentence for a type nobody provides: the plugin it came from, else a did-you-mean."""
    return _catalog.unknown_message(kind, type_name)


def source_of(cls: type) -> Source:
    """Where a registered class comes from (imports nothing)."""
    return _catalog.sources.get(cls) or Source(None)


def plugins() -> list[PluginInfo]:
    """Every distribution that declares types (Lanner's own first), with its types and its load errors."""
    load_all()
    out: dict[str, PluginInfo] = {}

    def info(dist: str, version: str | None) -> PluginInfo:
        if dist not in out:
            out[dist] = PluginInfo(dist, version, dist == BUILTIN)
        return out[dist]

    for kind in KINDS:
        for decl in _catalog.index[kind].values():
            info(decl.distribution, decl.version)
        for canonical, cls in classes(kind).items():
            source = source_of(cls)
            dist = source.distribution or "(this process)"
            info(dist, source.version).types[kind].append({
                "type": canonical,
                "aliases": list(cls.aliases),
                "title": getattr(cls, "title", "") or canonical,
                "group": getattr(cls, "group", ""),
                "class": f"{cls.__module__}.{cls.__qualname__}",
            })
    for error in errors():
        info(error.plugin, error.version).errors.append(error)
    return sorted(out.values(), key=lambda p: (not p.builtin, p.name))


def reset() -> None:
    """Read the entry points again (after installing or removing a plugin in this process)."""
    _catalog.reset()
    importlib.invalidate_caches()
    _catalog.ensure_scanned()


install_directory(sys.modules[__name__])  # ByType fields find their classes here
