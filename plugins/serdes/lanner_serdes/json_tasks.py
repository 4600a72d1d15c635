"""``JsonToIon``, ``IonToJson`` and ``JsonToJsonl``: JSON documents, JSON arrays and JSON lines, streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, register_task
from lanner_serdes.common import CHECK_EVERY, GROUP, SerdesTask, json_default, text_encoding

_CHUNK = 1 << 20
_DECODER = json.JSONDecoder()


def iter_json(text: IO[str], task_id: str) -> Iterator[Any]:
    """The values of a JSON text: the items of a top-level array, else each top-level value in turn.

    Reads in chunks and decodes one value at a time, so a 10 GB array of objects
    needs the memory of one object, not of the file.
    """
    buf, pos, eof = "", 0, False
    in_array = None  # decided by the first character

    def fill(minimum: int) -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        more = text.read(max(_CHUNK, minimum))
        if not more:
            eof = True
            return False
        buf = buf[pos:] + more
        pos = 0
        return True

    def skip(chars: str = " \t\r\n") -> str | None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in chars:
                pos += 1
            if pos < len(buf):
                return buf[pos]
            if not fill(0):
                return None

    first = skip()
    if first is None:
        return
    if first == "[":
        in_array = True
        pos += 1
    count = 0
    while True:
        c = skip()
        if c is None:
            if in_array:
                raise TaskFailed(f"{task_id}: the JSON array is not closed (missing ']')")
            return
        if in_array and count and c != "]":
            if c != ",":
                raise TaskFailed(f"{task_id}: invalid JSON: expected ',' or ']' between array items, found {c!r}")
            pos += 1
            c = skip()
        if in_array and c == "]":
            pos += 1
            if skip() is not None:
                raise TaskFailed(f"{task_id}: invalid JSON: text after the closing ']' of the array")
            return
        wanted = len(buf)
        while True:
            try:
                value, end = _DECODER.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(buf) - 64 or exc.msg.startswith("Unterminated string")
                if cut and fill(wanted * 2):
                    wanted *= 2
                    continue
                raise TaskFailed(f"{task_id}: invalid JSON: {exc.msg} at character {exc.pos}") from None
            if end == len(buf) and fill(0):  # a number cut at the chunk's end: read on and decode again
                continue
            break
        pos = end
        count += 1
        yield value


def _lines(text: IO[str], task_id: str) -> Iterator[Any]:
    for number, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskFailed(f"{task_id}: line {number} is not valid JSON ({exc.msg}); set newLine: false for a JSON document") from None


@register_task(
    "io.kestra.plugin.serdes.json.JsonToIon",
    "io.kestra.plugin.serdes.json.JsonReader",
    group=GROUP,
    title="JSON to Ion",
    icon="🧾",
    summary="Convert JSON lines (newLine: true) or a JSON array/document to Kestra's Ion rows, streaming.",
)
class JsonToIon(SerdesTask):
    charset: str = Field(default="UTF-8", description="Character set of the file.")
    new_line: bool = Field(default=True, description="One JSON value per line (JSON lines); false reads a JSON document or array.")

    def run(self, ctx: RunContext) -> TaskResult:
        uri = self.source_uri(ctx)
        with self.workspace() as tmp, self.open_text(ctx, str(ctx.render(self.charset)), uri) as text:
            values = _lines(text, self.id) if self.new_line else iter_json(text, self.id)
            path = tmp / self.result_name(ctx, "ion", uri)
            count = self.write_ion(ctx, path, values)
            stored = ctx.output_file(path)
        return TaskResult({"uri": stored, "size": count})


@register_task(
    "io.kestra.plugin.serdes.json.IonToJson",
    "io.kestra.plugin.serdes.json.JsonWriter",
    group=GROUP,
    title="Ion to JSON",
    icon="🧾",
    summary="Convert Ion rows to JSON lines (newLine: true) or one JSON array, dates as ISO-8601 text.",
)
class IonToJson(SerdesTask):
    charset: str = Field(default="UTF-8", description="Character set of the written file.")
    new_line: bool = Field(default=True, description="Write JSON lines (.jsonl); false writes one JSON array (one row: that value).")
    time_zone_id: str | None = Field(default=None, description="Accepted for Kestra compatibility: dates keep their own offset.")
    should_keep_annotations: bool = Field(default=False, description="Not supported: Ion annotations are not kept in JSON.")

    def run(self, ctx: RunContext) -> TaskResult:
        if self.should_keep_annotations:
            ctx.logger.warn("shouldKeepAnnotations is not supported: Ion annotations are dropped")
        encoding = text_encoding(str(ctx.render(self.charset)), self.id)
        uri = self.source_uri(ctx)
        with self.workspace() as tmp:
            path = tmp / self.result_name(ctx, "jsonl" if self.new_line else "json", uri)
            with path.open("w", encoding=encoding, newline="\n") as out:
                count = self._write(ctx, out, uri)
            stored = ctx.output_file(path)
        return TaskResult({"uri": stored, "size": count})

    def _write(self, ctx: RunContext, out: IO[str], uri: str) -> int:
        dumps = json.JSONEncoder(default=json_default, ensure_ascii=False, separators=(",", ":")).encode
        count = 0
        first: str | None = None
        for row in self.rows(ctx, uri):
            text = dumps(row)
            if self.new_line:
                out.write(text + "\n")
            elif count == 0:
                first = text  # one row is written alone, like Kestra; more make an array
            else:
                out.write(("[" + first if count == 1 else "") + "," + text)
            count += 1
        if not self.new_line:
            out.write(first if count == 1 else ("[]" if count == 0 else "]"))
        return count


@register_task(
    "io.kestra.plugin.serdes.json.JsonToJsonl",
    group=GROUP,
    title="JSON to JSON lines",
    icon="🧾",
    summary="Turn a JSON array (or concatenated JSON objects) into JSON lines, one value per line, streaming.",
)
class JsonToJsonl(SerdesTask):
    charset: str = Field(default="UTF-8", description="Character set of the file, read and written.")

    def run(self, ctx: RunContext) -> TaskResult:
        charset = str(ctx.render(self.charset))
        uri = self.source_uri(ctx)
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        count = 0
        with self.workspace() as tmp, self.open_text(ctx, charset, uri) as text:
            path = tmp / self.result_name(ctx, "jsonl", uri)
            with path.open("w", encoding=text_encoding(charset, self.id), newline="\n") as out:
                for value in iter_json(text, self.id):
                    out.write(dumps(value) + "\n")
                    count += 1
                    if count % CHECK_EVERY == 0:
                        ctx.raise_if_killed()
            stored = ctx.output_file(path)
        return TaskResult({"uri": stored, "size": count})
