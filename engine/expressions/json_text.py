"""JSON text of template values, and values of JSON texts, within the limits and in short C steps.

``json.dumps`` and ``json.loads`` run in C and hold the interpreter lock for
as long as they take: every other thread of the server (its API, scheduler,
runner) waits. So writing a large value goes in pieces of at most
``max_walk`` / 5 items, each written by ``json.dumps`` (the lock is free between
two pieces, and the render's time limit can stop it there); reading a text that
could hold more than ``max_walk`` items goes through the json module's Python
scanner, which the time limit can stop, and a text that could hold more items
than a value may is refused before parsing.
"""

from __future__ import annotations

import datetime as _dt
import json
import json.scanner
import re
from collections.abc import Mapping
from typing import Any

from jinja2.runtime import Undefined

from engine.expressions.ledger import Ledger, flat_size, ledger, too_deep, too_long, too_many, walked
from engine.expressions.limits import Limits

#: One call of ``json.dumps`` writes at most ``max_walk`` / this items (writing an item costs up to
#: ten times comparing it: a few milliseconds in all).
CHUNK_SHARE = 5
#: Most characters one call of ``json.dumps`` writes (a megabyte: a few milliseconds).
TEXT_STEP = 1 << 20
_COMPACT = (",", ":")
#: Containers up to this long are sized first and written in one piece when they are small enough.
_SMALL = 64
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_default(value: object) -> Any:
    """JSON for the non-JSON types a context holds (dates, sets, tuples, Undefined)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _dumps(value: object, indent: int | None = None) -> str:
    separators = _COMPACT if indent is None else (",", ": ")
    return json.dumps(value, ensure_ascii=False, separators=separators, indent=indent, default=json_default)


def to_json(value: Any, limits: Limits, indent: int | None = None) -> str:
    """Compact (or indented) JSON of ``value``; refused past the limits (``max_items``, ``max_output``).

    Indented JSON is written by the json module's Python encoder, which the
    time limit can interrupt anyway; compact JSON of a value that holds more
    than ``max_walk`` / 5 items is written in pieces.
    """
    book = ledger(limits)
    if indent is not None or not walked(value) or id(value) in book.known or len(value) <= _SMALL:
        nodes, chars = book.size(value, "the JSON text")
        if (nodes <= limits.max_walk // CHUNK_SHARE and chars <= TEXT_STEP) or indent is not None:
            return _dumps(value, indent)
    writer = _Writer(book, limits)
    writer.write(value, 0)
    return "".join(writer.out)


class _Writer:
    """Compact JSON of a large value, sized as it goes: at most about ``max_walk`` / 5 items per ``json.dumps``."""

    __slots__ = ("book", "limits", "out", "nodes", "chars", "chunk")

    def __init__(self, book: Ledger, limits: Limits):
        self.book, self.limits = book, limits
        self.out: list[str] = []
        self.nodes, self.chars = 0, 0
        self.chunk = max(1, limits.max_walk // CHUNK_SHARE)

    def _count(self, nodes: int, chars: int) -> None:
        self.nodes += nodes
        self.chars += chars
        if self.nodes > self.limits.max_items:
            raise too_many("the JSON text", self.limits.max_items, self.limits.max_items, False)
        if self.chars > self.limits.max_output:
            raise too_long("the JSON text", self.limits.max_output, self.limits.max_output, False)

    def write(self, value: Any, depth: int) -> None:
        if depth >= self.limits.max_depth:
            raise too_deep("the JSON text", self.limits.max_depth)
        out = self.out
        if isinstance(value, Mapping):
            entries: Any = list(value.items())
            is_map = True
        elif isinstance(value, (list, tuple)):
            entries, is_map = value, False
        elif walked(value):
            entries, is_map = list(value), False
        else:
            chars = self.book.size(value, "the JSON text")[1]
            self._count(0, chars)
            if isinstance(value, str) and len(value) > TEXT_STEP:
                # Escaping is character by character: the pieces' JSON, joined, is the text's.
                pieces = (_dumps(value[i: i + TEXT_STEP])[1:-1] for i in range(0, len(value), TEXT_STEP))
                out.append('"' + "".join(pieces) + '"')
            else:
                out.append(_dumps(value))
            return
        self._count(0, 2)
        out.append("{" if is_map else "[")
        flat = None if is_map else flat_size(entries, self.limits.max_walk)
        if flat is not None and flat[1] <= TEXT_STEP * 4:  # texts or numbers only: slices of self.chunk items
            self._count(flat[0], flat[1])
            chunk = self.chunk
            out.append(",".join(_dumps(entries[i: i + chunk])[1:-1] for i in range(0, len(entries), chunk)))
            out.append("]")
            return
        item_size = self.book.item
        limits = self.limits
        first, weight, text = True, 0, 0
        group: list[Any] = []
        for entry in entries:
            if is_map:
                key, item = entry
                key_nodes, key_chars, _ = item_size(key, limits.max_items, limits.max_output, "the JSON text", depth + 1)
            else:
                item, key_nodes, key_chars = entry, 0, 0
            nodes, chars, _ = item_size(item, limits.max_items - self.nodes, limits.max_output - self.chars, "the JSON text", depth + 1)
            self._count(nodes + key_nodes, chars + key_chars)
            if nodes > self.chunk or chars > TEXT_STEP:
                first = self._flush(group, is_map, first)
                group, weight, text = [], 0, 0
                if not first:
                    out.append(",")
                if is_map:
                    out.append(_dumps({key: None})[1:-5])  # the key as JSON writes it, and ':'
                self.nodes -= nodes  # counted again while it is written
                self.chars -= chars
                self.write(item, depth + 1)
                first = False
                continue
            group.append(entry)
            weight += nodes + key_nodes
            text += chars + key_chars
            if weight >= self.chunk or text >= TEXT_STEP:
                first = self._flush(group, is_map, first)
                group, weight, text = [], 0, 0
        self._flush(group, is_map, first)
        out.append("}" if is_map else "]")

    def _flush(self, group: list[Any], is_map: bool, first: bool) -> bool:
        """Write the items of ``group`` (without brackets); False once anything was written."""
        if not group:
            return first
        if not first:
            self.out.append(",")
        self.out.append(_dumps(dict(group) if is_map else group)[1:-1])
        return False


def parse_json(text: str | bytes, limits: Limits, what: str = "the JSON text") -> Any:
    """``json.loads`` of a text, refused *before* parsing when it could hold more than ``max_items`` items.

    A 10 MB text can hold five million numbers, built in C in one go: the
    items of a text are at most its commas, colons and opening brackets (those
    inside strings left out when the quick count is over the limit). A text
    of more than ``max_walk`` items is parsed by the json module's Python
    scanner instead of its C one: slower, but in steps the lock is free between.
    """
    if len(text) > limits.max_output:
        raise too_long(what, len(text), limits.max_output)
    sample = text.decode("utf-8", "replace") if isinstance(text, (bytes, bytearray)) else text
    count = _marks(sample)
    if count > limits.max_items:
        count = _marks(_STRING.sub('""', sample))
        if count > limits.max_items:
            raise too_many(what, count, limits.max_items, False)
    if count <= limits.max_walk:
        return json.loads(text)
    return _python_decoder().decode(sample)


def _python_decoder() -> json.JSONDecoder:
    decoder = json.JSONDecoder()
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder


def _marks(text: str) -> int:
    return text.count(",") + text.count(":") + text.count("[") + text.count("{")
