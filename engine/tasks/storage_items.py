"""Kestra's internal-storage tasks on items, one per line (``io.kestra.plugin.core.storage.*``):
DeduplicateItems, FilterItems and Reverse.

DeduplicateItems and FilterItems read each line as an Ion (or JSON) value and
render an expression with the item's fields as variables (``{{ id }}``);
lines are written back unchanged. Reverse works on plain lines. They stream
(Reverse reads the file backwards by blocks), so memory stays flat whatever
the size, except DeduplicateItems' index of keys.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any, Literal

from pydantic import Field

from engine.sdk import (
    RowError,
    RunContext,
    RunnableTask,
    TaskFailed,
    TaskResult,
    parse_row,
    register_task,
)
from engine.tasks.splitting import extension_of
from engine.tasks.storage_files import storage_uri
from engine.tasks.values import storage_errors

FALSE_TEXTS = ("", "false", "0", "-0", "0.0")


def _lines(source: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(source, start=1):
        line = raw.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def _item(line: bytes, number: int, task_id: str) -> dict[str, Any]:
    try:
        value = parse_row(line, number)
    except RowError as exc:
        raise TaskFailed(f"{task_id}.from: {exc}") from None
    return value if isinstance(value, dict) else {"value": value}


def _copy_items(
    ctx: RunContext, task_id: str, source: str, name: str, keep: Callable[[int, bytes], bool]
) -> tuple[str, int, int]:
    """Write the lines of ``source`` that ``keep(number, line)`` accepts to a new file: (its URI, lines read, kept)."""
    storage = ctx.storage
    uri = ctx.file_uri(name)
    processed = kept = 0
    with storage_errors(task_id), storage.open(source, namespace=ctx.namespace) as src, storage.open_write(uri, namespace=ctx.namespace) as out:
        for number, line in _lines(src):
            processed += 1
            if keep(number, line):
                out.write(line + b"\n")
                kept += 1
    return uri, processed, kept


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@register_task(
    "deduplicate_items",
    "io.kestra.plugin.core.storage.DeduplicateItems",
    "io.kestra.core.tasks.storages.DeduplicateItems",
    group="Storage",
    title="Deduplicate items",
    icon="🧬",
    summary="Keep the last item of each key (an expression on the item's fields) of a stored file.",
)
class DeduplicateItems(RunnableTask):
    from_: str = Field(alias="from", description="URI of the file (one Ion or JSON item per line).")
    expr: str = Field(description="The key of an item, e.g. {{ id }} or {{ key ~ '-' ~ date }}.")

    def run(self, ctx: RunContext) -> TaskResult:
        source = storage_uri(ctx.render(self.from_), f"{self.id}.from")
        last: dict[str, int] = {}
        with storage_errors(self.id), ctx.storage.open(source, namespace=ctx.namespace) as src:
            for number, line in _lines(src):  # pass 1: the last line of each key
                last[str(ctx.render(self.expr, _item(line, number, self.id)))] = number
        wanted = set(last.values())
        uri, processed, kept = _copy_items(ctx, self.id, source, "deduplicated.ion", lambda number, _line: number in wanted)
        return TaskResult({"uri": uri, "numKeys": len(last), "processedItemsTotal": processed, "droppedItemsTotal": processed - kept})


@register_task(
    "filter_items",
    "io.kestra.plugin.core.storage.FilterItems",
    "io.kestra.core.tasks.storages.FilterItems",
    group="Storage",
    title="Filter items",
    icon="🔎",
    summary="Keep (or drop) the items of a stored file for which an expression on their fields is true.",
)
class FilterItems(RunnableTask):
    from_: str = Field(alias="from", description="URI of the file (one Ion or JSON item per line).")
    filter_condition: str = Field(description="True for the items it matches, e.g. {{ amount > 100 }}.")
    filter_type: Literal["INCLUDE", "EXCLUDE"] = Field(default="INCLUDE", description="Keep (INCLUDE) or drop (EXCLUDE) the matching items.")
    error_or_null_behavior: Literal["FAIL", "INCLUDE", "EXCLUDE"] = Field(
        default="FAIL", description="When the condition fails or gives null: fail the task, keep the item, or drop it."
    )

    def run(self, ctx: RunContext) -> TaskResult:
        source = storage_uri(ctx.render(self.from_), f"{self.id}.from")
        uri, processed, kept = _copy_items(
            ctx, self.id, source, "filtered.ion", lambda number, line: self._keep(ctx, _item(line, number, self.id), number)
        )
        return TaskResult({"uri": uri, "processedItemsTotal": processed, "droppedItemsTotal": processed - kept})

    def _keep(self, ctx: RunContext, item: dict[str, Any], number: int) -> bool:
        error: Exception | None = None
        try:
            rendered = _text(ctx.render(self.filter_condition, item))
        except Exception as exc:  # noqa: BLE001 - errorOrNullBehavior decides what an evaluation error means
            rendered, error = None, exc
        if rendered is None:
            if self.error_or_null_behavior == "FAIL":
                why = f"failed ({error})" if error else "gave null"
                raise TaskFailed(f"{self.id}.filterCondition {why} on line {number}")
            return self.error_or_null_behavior == "INCLUDE"
        match = rendered.strip().lower() not in FALSE_TEXTS
        return match if self.filter_type == "INCLUDE" else not match


@register_task(
    "storage_reverse",
    "io.kestra.plugin.core.storage.Reverse",
    "io.kestra.core.tasks.storages.Reverse",
    group="Storage",
    title="Reverse lines",
    icon="🔃",
    summary="Write the lines of a stored file in reverse order.",
)
class Reverse(RunnableTask):
    from_: str = Field(alias="from", description="URI of the file.")
    separator: str = Field(default="\n", description="Written after each line.")
    charset: str = Field(default="UTF-8", description="Encoding of the file.")

    def run(self, ctx: RunContext) -> TaskResult:
        source = storage_uri(ctx.render(self.from_), f"{self.id}.from")
        separator = str(ctx.render(self.separator))
        try:
            "".encode(self.charset)
        except LookupError:
            raise TaskFailed(f"{self.id}.charset: '{self.charset}' is not a known encoding (e.g. UTF-8, ISO-8859-1)") from None
        storage = ctx.storage
        uri = ctx.file_uri("reversed" + extension_of(source))
        with storage_errors(self.id):
            with tempfile.TemporaryFile() as local:
                with storage.open(source, namespace=ctx.namespace) as src:
                    while chunk := src.read(1024 * 1024):
                        local.write(chunk)
                with storage.open_write(uri, namespace=ctx.namespace) as out:
                    end = separator.encode(self.charset)
                    for line in _backwards(local, "\n".encode(self.charset)):
                        out.write(line.rstrip("\r".encode(self.charset)) + end)
        return TaskResult({"uri": uri})


def _backwards(fh: IO[bytes], newline: bytes, block: int = 64 * 1024) -> Iterator[bytes]:
    """The lines of a seekable file, last first, reading blocks from the end (a final newline ends no line)."""
    fh.seek(0, os.SEEK_END)
    pos = size = fh.tell()
    tail = b""
    first = True
    while pos > 0:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step) + tail
        parts = data.split(newline)
        tail = parts[0]
        lines = parts[1:]
        if first:
            first = False
            if lines and lines[-1] == b"":
                lines.pop()
        yield from reversed(lines)
    if size:
        yield tail  # the first line (empty when the file starts with a newline)
