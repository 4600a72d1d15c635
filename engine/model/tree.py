"""Walking a flow held as raw YAML data (dicts and lists) along the child lists its types declare.

Validation, ``pluginDefaults`` and the builder's edits work on the raw data, before
(or without) a validated :class:`~engine.model.flow.Flow`. Which properties of a
task hold child tasks, and in which shape, is read from the task's registered type
(:attr:`engine.model.flowable.FlowableTask.child_lists`), never from a table of
names, so a plugin's container type is walked like a built-in one.

A *key path* is a tuple of keys relative to the task: ``("tasks",)``,
``("cases", "a")``. A task of a graph-shaped list (a dag item ``{task, dependsOn}``)
is reached through its ``task`` key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from engine.model import registry
from engine.model.flowable import COMMON_CHILD_LISTS, FLOW_CHILD_LISTS, ChildList, FlowableTask

KeyPath = tuple[Any, ...]  # property names, and a map key (as written in the YAML)
Path = tuple[str | int, ...]


def branch_lists(type_name: object) -> tuple[ChildList, ...]:
    """The branch lists a task type declares (not ``errors``/``finally``); empty for a leaf or unknown type."""
    cls = registry.task_class(type_name) if isinstance(type_name, str) else None
    return cls.child_lists if cls is not None and issubclass(cls, FlowableTask) else ()


def is_container(type_name: object) -> bool:
    """Whether tasks of this type hold child tasks of their own (a ``subflow`` or ``pause`` does not)."""
    return bool(branch_lists(type_name))


def child_list_keys(task: dict[str, Any]) -> list[tuple[KeyPath, ChildList]]:
    """Key paths of the child lists this task has or may get, with their declaration.

    A map-shaped list yields one key path per key (``("cases", "a")``); ``errors`` and
    ``finally`` come for every container, and for another task only when it has them.
    """
    branches = branch_lists(task.get("type"))
    out: list[tuple[KeyPath, ChildList]] = []
    for child_list in branches:
        if child_list.shape == "map":
            value = task.get(child_list.name)
            out.extend(((child_list.name, k), child_list) for k in (value if isinstance(value, dict) else {}))
        else:
            out.append(((child_list.name,), child_list))
    for child_list in COMMON_CHILD_LISTS:
        if branches or isinstance(task.get(child_list.name), list):
            out.append(((child_list.name,), child_list))
    return out


def child_list_names(type_name: object) -> frozenset[str]:
    """Names of the properties that hold child tasks in this type (``errors``/``finally`` included)."""
    return frozenset(c.name for c in (*branch_lists(type_name), *COMMON_CHILD_LISTS))


def get_keys(task: dict[str, Any], keys: KeyPath) -> Any:
    """The value at a key path of a task (None when a key is missing)."""
    node: Any = task
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def is_graph_item(item: object) -> bool:
    """A dag item: ``{task: {...}, dependsOn: [...]}`` (a mapping with ``task`` and no ``type``)."""
    return isinstance(item, dict) and "task" in item and "type" not in item and isinstance(item["task"], dict)


def task_items(items: object, base: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(path, task) of every task of one list; a dag item's task path ends with ``task``."""
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if is_graph_item(item):
            yield (*base, i, "task"), item["task"]
        elif isinstance(item, dict):
            yield (*base, i), item


def walk_task(task: dict[str, Any], base: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every task nested in ``task`` with its path, depth first in document order."""
    for keys, _ in child_list_keys(task):
        for path, child in task_items(get_keys(task, keys), (*base, *keys)):
            yield path, child
            yield from walk_task(child, path)


def iter_tasks(flow: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every task of the flow with its path, depth first in document order (triggers excluded)."""
    for child_list in FLOW_CHILD_LISTS:
        for path, task in task_items(flow.get(child_list.name), (child_list.name,)):
            yield path, task
            yield from walk_task(task, path)


def map_child_tasks(task: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    """Replace every direct child task of ``task`` by ``fn(child)``; returns ``task``.

    ``task`` itself is changed in place (give it a copy); the lists and maps it holds are
    replaced, never changed, so data shared with the original stays as it was.
    """
    for keys, child_list in child_list_keys(task):
        items = get_keys(task, keys)
        if not isinstance(items, list):
            continue
        mapped = [({**item, "task": fn(item["task"])} if is_graph_item(item) else fn(item)) for item in items]
        if child_list.shape == "map":
            task[keys[0]] = {**task[keys[0]], keys[1]: mapped}
        else:
            task[keys[0]] = mapped
    return task


def iter_strings(value: object, path: Path) -> Iterator[tuple[Path, str]]:
    """Every string inside ``value`` (maps and lists walked) with its path under ``path``."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from iter_strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_strings(v, (*path, i))
