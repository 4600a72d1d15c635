"""Undo what a trip through the browser does to flow data, so that canvas edits are lossless.

JavaScript objects put integer-like keys first, numbers have no int/float
distinction and only 53 bits, and Bokeh sends dates as strings or milliseconds.
The canvas syncs the flow as a plain object, so the Python side puts back the
key order and the values of the previous flow wherever the browser only
re-encoded them.
"""

from __future__ import annotations

import datetime
from typing import Any


def _task_key(node: dict[str, Any]) -> tuple[str, str] | None:
    if isinstance(node.get("id"), str) and isinstance(node.get("type"), str):
        return node["id"], node["type"]
    return None


def _task_index(node: Any, index: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    if isinstance(node, dict):
        if (key := _task_key(node)) is not None:
            index.setdefault(key, node)
        for v in node.values():
            _task_index(v, index)
    elif isinstance(node, list):
        for v in node:
            _task_index(v, index)
    return index


def restore_key_order(new: Any, old: Any) -> Any:
    """``new`` with the key order (and float-ness of numbers) of its counterparts in ``old``.

    A browser hands back objects whose integer-like keys (switch cases ``"1"``, ``"2"``)
    come first in numeric order, numbers such as ``1.0`` as ``1``, integers beyond 2**53
    rounded, and YAML dates as strings or milliseconds. Tasks are matched by id (and type)
    wherever they moved; other values by key or position. Keys only in ``new`` follow.
    """
    index = _task_index(old, {})

    def walk(n: Any, o: Any) -> Any:
        if isinstance(n, dict):
            if (key := _task_key(n)) is not None:
                o = index.get(key, o)
            ref = o if isinstance(o, dict) else {}
            keys = [k for k in ref if k in n] + [k for k in n if k not in ref]
            return {k: walk(n[k], ref.get(k)) for k in keys}
        if isinstance(n, list):
            ol = o if isinstance(o, list) else []
            return [walk(v, ol[i] if i < len(ol) else None) for i, v in enumerate(n)]
        return _same_scalar(n, o)

    return walk(new, old)


def _same_scalar(n: Any, o: Any) -> Any:
    """``o`` when ``n`` is merely how a browser encodes it (1.0 -> 1, big ints, dates), else ``n``."""
    if type(n) is int and type(o) is float and n == o:
        return o
    if type(n) is int and type(o) is int and abs(o) > 2**53 and float(n) == float(o):
        return o
    if isinstance(o, datetime.datetime) and isinstance(n, (int, float)) and not isinstance(n, bool):
        aware = o if o.tzinfo else o.replace(tzinfo=datetime.UTC)
        return o if abs(aware.timestamp() * 1000 - n) < 1 else n
    if isinstance(o, datetime.date) and not isinstance(o, datetime.datetime) and n == o.isoformat():
        return o
    return n
