"""Three-way merge of flow data: one side's edit applied onto a flow that changed meanwhile.

Why: the canvas edits the flow in the browser and sends the whole new flow; the
property form and the YAML editor change it on the server. When both happen
within one round trip (a form value on its way while a case is added on the
canvas), taking either whole flow silently drops the other edit. The canvas
says which revision of the flow its edit was made on; the editor merges the
canvas's changes from that revision onto the flow as it is now.

The merge works on JSON-like data (dicts, lists, scalars):

- a dict merges key by key (a key one side removed stays removed unless the
  other side changed it);
- a list whose items are all dicts with distinct ``id`` values (task lists,
  inputs, triggers) merges item by item, matched by id: items added on either
  side are kept, items deleted on one side and unchanged on the other go;
- anything else that both sides changed differently takes ``ours`` (the edit
  being applied now, i.e. the user's latest action).
"""

from __future__ import annotations

import copy
from typing import Any

_MISSING: Any = object()


def merge(base: Any, ours: Any, theirs: Any) -> Any:
    """``theirs`` with the changes ``ours`` made since ``base``; ``ours`` wins where both changed a value."""
    if _same(ours, base):
        return copy.deepcopy(theirs)
    if _same(theirs, base) or _same(ours, theirs):
        return copy.deepcopy(ours)
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return _merge_dicts(base if isinstance(base, dict) else {}, ours, theirs)
    if isinstance(ours, list) and isinstance(theirs, list):
        old = base if isinstance(base, list) else []
        if all(_ids(x) is not None for x in (old, ours, theirs)):
            return _merge_by_id(old, ours, theirs)
    return copy.deepcopy(ours)


def _same(a: Any, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return a is b
    # type() check too: 1 == 1.0 == True in Python, but YAML keeps them apart.
    return type(a) is type(b) and bool(a == b)


def _merge_dicts(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in ours.items():
        if key in theirs:
            out[key] = merge(base.get(key, _MISSING), value, theirs[key])
        elif key not in base or not _same(value, base[key]):
            out[key] = copy.deepcopy(value)  # added by ours, or changed by ours although theirs removed it
    for key, value in theirs.items():
        if key not in ours and key not in base:
            out[key] = copy.deepcopy(value)  # added by theirs
        # in base, not in ours: ours removed it; its removal wins over theirs' change
    return out


def _ids(items: list[Any]) -> list[str] | None:
    """The items' ids when every item is a dict with a distinct id, else None."""
    ids = [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]
    if len(ids) != len(items) or len(set(ids)) != len(ids):
        return None
    return ids


def _merge_by_id(base: list[Any], ours: list[Any], theirs: list[Any]) -> list[Any]:
    base_by = {str(item["id"]): item for item in base}
    theirs_by = {str(item["id"]): item for item in theirs}
    ours_ids = {str(item["id"]) for item in ours}
    out: list[Any] = []
    for item in ours:  # ours' order: the canvas moves tasks
        key = str(item["id"])
        if key in theirs_by:
            out.append(merge(base_by.get(key, _MISSING), item, theirs_by[key]))
        elif key not in base_by or not _same(item, base_by[key]):
            out.append(copy.deepcopy(item))  # added by ours, or changed by ours although theirs deleted it
    order = [str(kept["id"]) for kept in out]
    kept_ids = set(order)
    previous: str | None = None  # the last item of theirs that the result keeps
    for item in theirs:
        key = str(item["id"])
        if key not in base_by and key not in ours_ids:  # added by theirs: after the item it followed there
            at = order.index(previous) + 1 if previous is not None else 0
            out.insert(at, copy.deepcopy(item))
            order.insert(at, key)
            kept_ids.add(key)
        if key in kept_ids:
            previous = key
    return out
