"""YAML text rewritten from new flow data with its comments, quoting and block styles kept.

The canvas and the forms edit the flow as plain data; turning that data back into
text with a plain dumper would drop every comment the user wrote (the header of an
example flow, a note above a task). Here the previous text is loaded with
ruamel.yaml's round-trip loader and the new data is merged *into* that document:
unchanged mappings, lists and scalars keep their comments and styles, tasks are
matched by id wherever they moved, and only what changed is written anew.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never fold long expressions onto several lines
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def load(text: str) -> Any:
    """The round-trip document of ``text`` (None when ruamel cannot read it)."""
    try:
        return _yaml().load(text)
    except (YAMLError, ValueError):
        return None


def _fresh(value: Any) -> Any:
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _fresh(v)
        return out
    if isinstance(value, list):
        return CommentedSeq(_fresh(v) for v in value)
    return value


def _task_id(item: Any) -> Any:
    if isinstance(item, dict):
        if "id" in item:
            return ("id", item["id"])
        inner = item.get("task")
        if isinstance(inner, dict) and "id" in inner:  # a dag item
            return ("task", inner["id"])
    return None


def merge(old: Any, new: Any) -> Any:
    """``new`` as a value of the round-trip document, reusing ``old`` wherever it still fits."""
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for index, (key, value) in enumerate(new.items()):
            if key in old:
                old[key] = merge(old[key], value)
            else:
                old.insert(min(index, len(old)), key, _fresh(value))
        if list(old) != list(new):  # keys moved: put them in the new order, each keeping its comments
            for key in new:
                value = old.pop(key)
                old[key] = value
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        by_id = {_task_id(item): item for item in old if _task_id(item) is not None}
        items = []
        for index, value in enumerate(new):
            key = _task_id(value)
            if key is not None and key in by_id:
                items.append(merge(by_id.pop(key), value))
            elif key is None and index < len(old) and _task_id(old[index]) is None:
                items.append(merge(old[index], value))
            else:
                items.append(_fresh(value))
        if len(items) != len(old):
            old.ca.items.clear()  # comments kept by position would land on other items
        old[:] = items
        return old
    if type(new) in (bool, int, float) and type(old) is not type(new):
        return new
    if old == new and not isinstance(new, (dict, list)):
        return old  # keeps quoting and block style of an unchanged string
    return _fresh(new)


def dump(document: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


def rewrite(old_text: str, data: dict[str, Any]) -> str | None:
    """``old_text`` changed to hold ``data``, comments kept; None when the old text cannot be read."""
    document = load(old_text)
    if not isinstance(document, CommentedMap):
        return None
    return dump(merge(document, data))
