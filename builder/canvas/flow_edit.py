"""Pure-Python edits of a flow held as Kestra YAML data (plain dicts and lists).

The canvas does the same edits in JavaScript for responsiveness; this module is
the reference the rest of the builder (forms, YAML editor) uses to edit a flow
without the canvas, and ``builder/frontend/src/edits.js`` mirrors it function for function.

Every operation returns a *new* flow and never mutates its input, so a caller
can keep the old value for undo. Keys keep their order and unknown keys are
carried along untouched, so a round trip through an edit is lossless.

A *path* is a list of keys from the flow root. A task path ends at the task:
``["tasks", 2, "then", 0]``, ``["tasks", 0, "cases", "a", 1]``, and for a dag
item ``["tasks", 1, "tasks", 0, "task"]``. An *insertion path* addresses a
position in a child list (``["tasks", 1, "tasks", 0]`` inserts first in a
dag); insertion may create a missing optional list such as ``else`` or
``errors``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from engine.model import registry, tree
from engine.model.flowable import COMMON_CHILD_LISTS

Path = list[str | int]

#: Flow-level lists that are not task lists but are dropped when an edit empties them.
_OPTIONAL_FLOW_KEYS = frozenset({"triggers"})
_ID_OK = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")


class FlowEditError(ValueError):
    """An edit that cannot be applied; the message is one sentence for the user."""


# ----------------------------------------------------------------------------- types
#
# Which properties of a task hold child tasks is declared once, on its registered type
# (engine.model.flowable.FlowableTask.child_lists); these functions only read it.


def container_kind(type_name: Any) -> str | None:
    """The canonical name of a container type (``if``, ``dag``...), or None for a leaf task."""
    if not isinstance(type_name, str) or not tree.is_container(type_name):
        return None
    return registry.canonical_task_name(type_name)


def container_lists(type_name: Any) -> tuple[str, ...]:
    """Names of the child lists a task of this type may have (branches first, then errors/finally)."""
    return tuple(c.name for c in (*tree.branch_lists(type_name), *COMMON_CHILD_LISTS))


@cache
def container_spec() -> dict[str, Any]:
    """The child-list shapes of every registered type as JSON, so that the canvas's JavaScript
    applies the very same rules (see :func:`engine.model.registry.child_list_spec`)."""
    spec = registry.child_list_spec()
    spec["optional"] = sorted({*spec["optional"], *_OPTIONAL_FLOW_KEYS})
    return spec


def optional_lists() -> frozenset[str]:
    """Lists an edit removes when it leaves them empty (they are optional in the YAML)."""
    return frozenset(container_spec()["optional"])


def _list_of_shape(task: Any, shape: str) -> str | None:
    """The name of the first child list of this shape the task's type declares."""
    kind = task.get("type") if isinstance(task, dict) else None
    return next((c.name for c in tree.branch_lists(kind) if c.shape == shape), None)


def child_list_keys(task: dict[str, Any]) -> list[tuple[str, ...]]:
    """Key paths (relative to the task) of the child lists this task has or may get.

    A switch yields one ``("cases", key)`` per case; errors/finally only when present on a
    leaf task (a leaf cannot get them).
    """
    return [tuple(str(k) for k in keys) for keys, _ in tree.child_list_keys(task)]


# ----------------------------------------------------------------------------- reading


def get_at(flow: Any, path: Path) -> Any:
    """The value at ``path``; raises FlowEditError naming the first key that does not exist."""
    node = flow
    for i, key in enumerate(path):
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            raise FlowEditError(f"Path {_fmt(path)} does not exist in the flow (no {key!r} at {_fmt(path[:i])}).") from None
    return node


def _fmt(path: Path) -> str:
    return "/" + "/".join(str(p) for p in path)


def iter_tasks(flow: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every task of the flow with its path, depth first in document order (triggers excluded)."""
    for path, task in tree.iter_tasks(flow):
        yield list(path), task


def all_ids(flow: dict[str, Any]) -> list[str]:
    """Ids of every task, in document order."""
    return [str(t.get("id")) for _, t in iter_tasks(flow) if t.get("id") is not None]


def trigger_ids(flow: dict[str, Any]) -> list[str]:
    """Ids of the flow's triggers."""
    return [str(t.get("id")) for t in flow.get("triggers") or [] if isinstance(t, dict) and t.get("id") is not None]


def find_task(flow: dict[str, Any], task_id: str) -> Path | None:
    """Path of the task with this id (triggers included, as ``["triggers", i]``), or None."""
    for path, task in iter_tasks(flow):
        if task.get("id") == task_id:
            return path
    for i, trig in enumerate(flow.get("triggers") or []):
        if isinstance(trig, dict) and trig.get("id") == task_id:
            return ["triggers", i]
    return None


def new_id(base: str, existing: Any) -> str:
    """``base_N`` with the smallest N >= 1 not in ``existing`` (trailing ``_N`` of base is dropped)."""
    base = re.sub(r"[^a-zA-Z0-9_-]", "_", str(base)) or "task"
    base = re.sub(r"_\d+$", "", base) or "task"
    if not _ID_OK.match(base):
        base = f"task_{base}"
    taken = set(existing)
    n = 1
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


# ----------------------------------------------------------------------------- slots


def _slot(path: Path, what: str) -> tuple[Path, int]:
    """Split a task or insertion path into (list path, index); a trailing ``task`` is dropped."""
    if path and path[-1] == "task":
        path = path[:-1]
    if len(path) < 2 or not isinstance(path[-1], int) or isinstance(path[-1], bool):
        raise FlowEditError(f"The {what} path {_fmt(path)} must end with a list index.")
    return list(path[:-1]), path[-1]


def _is_dag_list(flow: dict[str, Any], list_path: Path) -> bool:
    """Whether the list is graph-shaped (its items are ``{task, dependsOn}``, as a dag's tasks)."""
    if len(list_path) < 2 or not isinstance(list_path[-1], str):
        return False
    owner = get_at(flow, list_path[:-1])
    return _list_of_shape(owner, "graph") == list_path[-1]


def _ensure_list(flow: dict[str, Any], list_path: Path) -> list[Any]:
    """The list at ``list_path``, created if its key is missing (``else``, ``errors``, a new case)."""
    parent = get_at(flow, list_path[:-1])
    key = list_path[-1]
    if not isinstance(parent, dict):
        raise FlowEditError(f"Cannot hold a task list at {_fmt(list_path)}: its parent is not a mapping.")
    value = parent.get(key)
    if value is None:
        if key in parent and not isinstance(key, str):
            raise FlowEditError(f"Cannot hold a task list at {_fmt(list_path)}.")
        parent[key] = value = []
    if not isinstance(value, list):
        raise FlowEditError(f"{_fmt(list_path)} is not a list of tasks.")
    return value


def _unwrap(item: Any) -> dict[str, Any]:
    if isinstance(item, dict) and "task" in item and "type" not in item:
        return item["task"]
    return item


def _drop_dependency(lst: list[Any], task_id: Any) -> None:
    """Remove ``task_id`` from the ``dependsOn`` of the items of a dag list (key dropped when empty)."""
    for item in lst:
        deps = item.get("dependsOn") if isinstance(item, dict) else None
        if isinstance(deps, list) and task_id in deps:
            deps[:] = [d for d in deps if d != task_id]
            if not deps:
                del item["dependsOn"]


def _remove(flow: dict[str, Any], path: Path) -> tuple[Any, bool]:
    """Remove the item at a task path in place; returns (raw item, was in a dag list)."""
    list_path, index = _slot(path, "task")
    lst = get_at(flow, list_path)
    if not isinstance(lst, list) or not 0 <= index < len(lst):
        raise FlowEditError(f"There is no task at {_fmt(path)}.")
    item = lst.pop(index)
    dag = _is_dag_list(flow, list_path)
    if dag:
        _drop_dependency(lst, _unwrap(item).get("id"))
    if not lst and list_path[-1] in optional_lists():
        del get_at(flow, list_path[:-1])[list_path[-1]]
    return item, dag


def _insert(flow: dict[str, Any], path: Path, task: dict[str, Any], keep_item: Any = None) -> Path:
    """Insert in place; returns the path of the inserted task."""
    list_path, index = _slot(path, "insertion")
    dag = _is_dag_list(flow, list_path)
    lst = _ensure_list(flow, list_path)
    if not 0 <= index <= len(lst):
        raise FlowEditError(f"Position {index} is outside the list {_fmt(list_path)} of {len(lst)} task(s).")
    if dag:
        item = keep_item if keep_item is not None else {"task": task}
        lst.insert(index, item)
        return [*list_path, index, "task"]
    lst.insert(index, task)
    return [*list_path, index]


# ----------------------------------------------------------------------------- edits


def insert_task(flow: dict[str, Any], path: Path, task: dict[str, Any]) -> dict[str, Any]:
    """A new flow with ``task`` inserted at the insertion path (wrapped as a dag item in a dag)."""
    if not isinstance(task, dict) or not task.get("id"):
        raise FlowEditError("The task to insert must be a mapping with an id.")
    taken = set(all_ids(flow)) | set(trigger_ids(flow))
    if task["id"] in taken:
        raise FlowEditError(f"A task with id {task['id']!r} already exists in the flow; pick another id.")
    out = copy.deepcopy(flow)
    _insert(out, path, copy.deepcopy(_unwrap(task)))
    return out


def replace_task(flow: dict[str, Any], path: Path, task: dict[str, Any]) -> dict[str, Any]:
    """A new flow with the task at ``path`` replaced (forms use it after editing properties)."""
    out = copy.deepcopy(flow)
    list_path, index = _slot(path, "task")
    lst = get_at(out, list_path)
    if not isinstance(lst, list) or not 0 <= index < len(lst):
        raise FlowEditError(f"There is no task at {_fmt(path)}.")
    if isinstance(lst[index], dict) and "task" in lst[index] and "type" not in lst[index]:
        lst[index]["task"] = copy.deepcopy(task)
    else:
        lst[index] = copy.deepcopy(task)
    return out


def delete_task(flow: dict[str, Any], path: Path) -> dict[str, Any]:
    """A new flow without the task at ``path`` (its id is also removed from dag dependencies)."""
    out = copy.deepcopy(flow)
    _remove(out, path)
    return out


def move_task(flow: dict[str, Any], src: Path, dst: Path) -> dict[str, Any]:
    """A new flow with the task at ``src`` moved to the insertion path ``dst``.

    ``dst`` is read in the flow *before* the move, the way a drop target is shown on
    screen. A dag item keeps its ``dependsOn`` when it moves inside its dag and loses
    it (and the edges to it) when it leaves.
    """
    src_list, src_idx = _slot(src, "task")
    dst_list, dst_idx = _slot(dst, "insertion")
    get_at(flow, [*src_list, src_idx])
    if dst_list[: len(src_list) + 1] == [*src_list, src_idx]:
        raise FlowEditError(f"Cannot move task at {_fmt(src)} into itself.")
    if dst_list == src_list and dst_idx in (src_idx, src_idx + 1):
        return copy.deepcopy(flow)
    # Removing the source shifts the later siblings (and everything inside them) by one.
    n = len(src_list)
    if dst_list == src_list:
        if dst_idx > src_idx:
            dst_idx -= 1
    elif dst_list[:n] == src_list and isinstance(dst_list[n], int) and dst_list[n] > src_idx:
        dst_list = [*dst_list[:n], dst_list[n] - 1, *dst_list[n + 1:]]
    out = copy.deepcopy(flow)
    item, from_dag = _remove(out, [*src_list, src_idx])
    same_dag = from_dag and dst_list == src_list
    _insert(out, [*dst_list, dst_idx], _unwrap(item), keep_item=item if same_dag else None)
    return out


def _rename_subtree(task: dict[str, Any], taken: set[str]) -> None:
    """Give ``task`` and every task nested in it a fresh id; remap dependsOn inside the copy."""
    mapping: dict[str, str] = {}
    nested = [((), task), *tree.walk_task(task, ())]
    for _, t in nested:
        old = str(t.get("id") or t.get("type") or "task")
        fresh = new_id(old, taken)
        taken.add(fresh)
        mapping[old] = fresh
        t["id"] = fresh
    for _, t in nested:
        for keys, _ in tree.child_list_keys(t):
            lst = tree.get_keys(t, keys)
            for item in lst if isinstance(lst, list) else []:
                deps = item.get("dependsOn") if isinstance(item, dict) and "task" in item else None
                if isinstance(deps, list):
                    item["dependsOn"] = [mapping.get(d, d) for d in deps]


def duplicate_task(flow: dict[str, Any], path: Path) -> tuple[dict[str, Any], Path]:
    """A new flow with a copy of the task right after it, every id in the copy fresh.

    Returns the flow and the path of the copy. A dag item's copy keeps its ``dependsOn``.
    """
    list_path, index = _slot(path, "task")
    lst = get_at(flow, list_path)
    if not isinstance(lst, list) or not 0 <= index < len(lst):
        raise FlowEditError(f"There is no task at {_fmt(path)}.")
    item = copy.deepcopy(lst[index])
    taken = set(all_ids(flow)) | set(trigger_ids(flow))
    _rename_subtree(_unwrap(item), taken)
    out = copy.deepcopy(flow)
    dag = _is_dag_list(out, list_path)
    get_at(out, list_path).insert(index + 1, item)
    return out, [*list_path, index + 1, *(["task"] if dag else [])]


def toggle_disabled(flow: dict[str, Any], path: Path) -> dict[str, Any]:
    """A new flow where the task is disabled (``disabled: true``) or enabled again (key removed)."""
    out = copy.deepcopy(flow)
    task = get_at(out, path)
    if not isinstance(task, dict):
        raise FlowEditError(f"There is no task at {_fmt(path)}.")
    if task.get("disabled") is True:
        del task["disabled"]
    else:
        task["disabled"] = True
    return out


def _dag_items(flow: dict[str, Any], dag_path: Path) -> list[Any]:
    dag = get_at(flow, dag_path)
    name = _list_of_shape(dag, "graph")
    if name is None:
        raise FlowEditError(f"The task at {_fmt(dag_path)} is not a dag.")
    items = dag.get(name)
    return items if isinstance(items, list) else []


def _depends(items: list[Any]) -> dict[str, list[str]]:
    return {
        str(_unwrap(it).get("id")): list(it.get("dependsOn") or [])
        for it in items
        if isinstance(it, dict) and isinstance(_unwrap(it), dict)
    }


def connect(flow: dict[str, Any], dag_path: Path, from_id: str, to_id: str) -> dict[str, Any]:
    """A new flow where dag task ``to_id`` depends on ``from_id`` (an edge from -> to)."""
    out = copy.deepcopy(flow)
    items = _dag_items(out, dag_path)
    deps = _depends(items)
    for tid in (from_id, to_id):
        if tid not in deps:
            raise FlowEditError(f"Task {tid!r} is not in the dag at {_fmt(dag_path)}.")
    if from_id == to_id:
        raise FlowEditError(f"Task {from_id!r} cannot depend on itself.")
    if from_id in deps[to_id]:
        return out
    # Adding from -> to closes a cycle when from already (transitively) depends on to.
    seen, stack = set(), [from_id]
    while stack:
        cur = stack.pop()
        if cur == to_id:
            raise FlowEditError(f"Making {to_id!r} depend on {from_id!r} would create a cycle in the dag.")
        if cur not in seen:
            seen.add(cur)
            stack.extend(deps.get(cur, []))
    for it in items:
        if _unwrap(it).get("id") == to_id:
            it.setdefault("dependsOn", [])
            if not isinstance(it["dependsOn"], list):
                it["dependsOn"] = [it["dependsOn"]]
            it["dependsOn"].append(from_id)
    return out


def disconnect(flow: dict[str, Any], dag_path: Path, from_id: str, to_id: str) -> dict[str, Any]:
    """A new flow without the dag edge ``from_id -> to_id``."""
    out = copy.deepcopy(flow)
    items = _dag_items(out, dag_path)
    _drop_dependency([it for it in items if _unwrap(it).get("id") == to_id], from_id)
    return out


def add_case(flow: dict[str, Any], switch_path: Path, key: str) -> dict[str, Any]:
    """A new flow where the switch at ``switch_path`` has an empty case ``key``."""
    key = str(key).strip()
    out = copy.deepcopy(flow)
    switch = get_at(out, switch_path)
    name = _list_of_shape(switch, "map")
    if name is None:
        raise FlowEditError(f"The task at {_fmt(switch_path)} is not a switch.")
    if not key:
        raise FlowEditError("A switch case needs a non-empty value.")
    cases = switch.get(name)
    if not isinstance(cases, dict):
        switch[name] = cases = {}
    if key in cases:
        raise FlowEditError(f"The switch {switch.get('id')!r} already has a case {key!r}.")
    cases[key] = []
    return out
