"""Splitting a stored file into smaller stored files (storage.Split, ForEachItem's batches).

Kestra's rules: the file is read line by line, each line is written back
followed by ``separator``; a new part starts once the current one has
``rows`` lines or ``bytes`` bytes, or the lines are dealt round robin over
``partitions`` parts (empty parts dropped). One line is in memory at a time,
so a file of any size splits with flat memory.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from pydantic import Field

from engine.sdk import LannerModel, RunContext, TaskFailed

_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?B?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3, "T": 1024**4, "TB": 1024**4}


def parse_size(value: object, field: str) -> int:
    """``10MB``, ``512KB``, ``1024`` (bytes) as a number of bytes."""
    match = _SIZE.match(str(value))
    if not match or int(match.group(1)) <= 0:
        raise TaskFailed(f"{field}: {value!r} is not a size such as 512KB, 10MB or 1048576")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


class SplitOptions(LannerModel):
    """How to cut a file into parts: give one of rows, bytes or partitions."""

    rows: int | str | None = Field(default=None, description="Lines per part (may be an expression).")
    bytes: int | str | None = Field(default=None, description="Size of a part, e.g. 10MB (a number: bytes).")
    partitions: int | str | None = Field(default=None, description="Deal the lines round robin over this many parts.")
    separator: str = Field(default="\n", description="Written after each line.")


@dataclass(frozen=True)
class Plan:
    rows: int | None
    bytes: int | None
    partitions: int | None
    separator: builtins.bytes


def plan(options: SplitOptions, ctx: RunContext, field: str, *, default_rows: int | None = None) -> Plan:
    """The rendered options; exactly one way of cutting."""

    def positive(value: object, name: str) -> int:
        rendered = ctx.render(value)
        try:
            number = int(str(rendered).strip())
        except ValueError:
            raise TaskFailed(f"{field}.{name}: {rendered!r} is not a whole number") from None
        if number <= 0:
            raise TaskFailed(f"{field}.{name}: must be at least 1, got {number}")
        return number

    given = [name for name in ("rows", "bytes", "partitions") if getattr(options, name) is not None]
    if len(given) > 1:
        raise TaskFailed(f"{field}: give one of rows, bytes or partitions, not {' and '.join(given)}")
    rows = positive(options.rows, "rows") if options.rows is not None else None
    size = parse_size(ctx.render(options.bytes), f"{field}.bytes") if options.bytes is not None else None
    partitions = positive(options.partitions, "partitions") if options.partitions is not None else None
    if not given:
        if default_rows is None:
            raise TaskFailed(f"{field}: give rows, bytes or partitions")
        rows = default_rows
    return Plan(rows, size, partitions, str(ctx.render(options.separator)).encode("utf-8"))


def extension_of(uri: str) -> str:
    name = uri.rsplit("/", 1)[-1]
    return name[name.rindex("."):] if "." in name else ".tmp"


def split_file(ctx: RunContext, uri: str, how: Plan, name: Callable[[int], str]) -> list[str]:
    """Cut the stored file ``uri`` into parts named ``name(1)``, ``name(2)`` ...; return their URIs in order."""
    storage = ctx.storage
    source = storage.open(uri, namespace=ctx.namespace)
    parts: list[str] = []
    try:
        if how.partitions:
            return _partition(ctx, source, how, name)
        out: IO[bytes] | None = None
        rows = size = 0
        try:
            for raw in source:
                if out is None or (how.rows and rows >= how.rows) or (how.bytes and size >= how.bytes):
                    if out is not None:
                        out.close()
                    parts.append(ctx.file_uri(name(len(parts) + 1)))
                    out = storage.open_write(parts[-1], namespace=ctx.namespace)
                    rows = size = 0
                line = raw.rstrip(b"\r\n") + how.separator
                out.write(line)
                rows += 1
                size += len(line)
        finally:
            if out is not None:
                out.close()
        return parts
    finally:
        source.close()


def _partition(ctx: RunContext, source: IO[bytes], how: Plan, name: Callable[[int], str]) -> list[str]:
    storage = ctx.storage
    uris = [ctx.file_uri(name(i + 1)) for i in range(how.partitions or 0)]
    outs = [storage.open_write(u, namespace=ctx.namespace) for u in uris]
    used = [False] * len(outs)
    try:
        for i, raw in enumerate(source):
            outs[i % len(outs)].write(raw.rstrip(b"\r\n") + how.separator)
            used[i % len(outs)] = True
    finally:
        for out in outs:
            out.close()
    for uri, was_used in zip(uris, used, strict=True):
        if not was_used:
            storage.delete(uri, namespace=ctx.namespace)
    return [u for u, was_used in zip(uris, used, strict=True) if was_used]
