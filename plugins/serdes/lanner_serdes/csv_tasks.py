"""``CsvToIon`` and ``IonToCsv``: Kestra's CSV conversions, one row at a time (any file size, little memory)."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # C string escaper, valid in Ion
from typing import Any, Literal

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, ion_symbol, register_task
from lanner_serdes.common import CHECK_EVERY, GROUP, SerdesTask, TextFormats, one_char, text_encoding

csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))

OnBadLines = Literal["ERROR", "WARN", "SKIP"]
_NUMERIC = re.compile(r"[+-]?\d+(?:\.\d*)?")


class _BadLine(Exception):
    pass


@register_task(
    "io.kestra.plugin.serdes.csv.CsvToIon",
    "io.kestra.plugin.serdes.csv.CsvReader",
    group=GROUP,
    title="CSV to Ion",
    icon="📄",
    summary="Convert a CSV file to Kestra's Ion rows (one struct per line, or a list without header), streaming.",
)
class CsvToIon(SerdesTask):
    header: bool = Field(default=True, description="The first line names the columns (rows become structs); else rows are lists.")
    field_separator: str = Field(default=",", description="The field separator character.")
    text_delimiter: str = Field(default='"', description="The character that quotes a field.")
    skip_empty_rows: bool = Field(default=False, description="Skip rows whose fields are all empty (blank lines are always skipped).")
    skip_rows: int = Field(default=0, ge=0, description="Data rows to skip after the header.")
    charset: str = Field(default="UTF-8", description="Character set of the file (a UTF-8 byte-order mark is dropped).")
    on_bad_lines: OnBadLines = Field(default="ERROR", description="A row with the wrong number of fields or broken quoting: fail (ERROR), log and skip (WARN) or skip (SKIP).")
    on_empty_header: Literal["DROP", "RENAME"] = Field(
        default="DROP", description="Columns without a name: drop the trailing ones (DROP) or name them col_0, col_1... (RENAME)."
    )
    error_on_different_field_count: bool | None = Field(
        default=None, json_schema_extra={"deprecated": True}, description="Deprecated: use onBadLines (true is onBadLines: ERROR)."
    )
    max_buffer_size: int | None = Field(default=None, description="Accepted for Kestra compatibility; rows are read one at a time.")
    max_field_size: int = Field(default=16 * 1024 * 1024, gt=0, description="Largest field accepted, in characters.")
    allow_extra_chars_after_closing_quote: bool = Field(default=False, description="Accept text after a closing quote (kept in the field).")

    def run(self, ctx: RunContext) -> TaskResult:
        separator = one_char(ctx.render(self.field_separator), "fieldSeparator", self.id)
        quote = one_char(ctx.render(self.text_delimiter), "textDelimiter", self.id)
        charset = str(ctx.render(self.charset))
        on_bad = "ERROR" if self.error_on_different_field_count else self.on_bad_lines
        if self.max_field_size > csv.field_size_limit():
            csv.field_size_limit(self.max_field_size)
        uri = self.source_uri(ctx)
        with self.workspace() as tmp, self.open_text(ctx, charset, uri, newline="") as text:
            reader = csv.reader(text, delimiter=separator, quotechar=quote, strict=not self.allow_extra_chars_after_closing_quote)
            path = tmp / self.result_name(ctx, "ion", uri)
            with path.open("w", encoding="utf-8", newline="\n") as out:
                count = self._convert(ctx, reader, out, on_bad)
            stored = ctx.output_file(path)
        ctx.logger.info(f"{count} row(s) converted from CSV to Ion")
        return TaskResult({"uri": stored, "size": count})

    def _convert(self, ctx: RunContext, reader: Any, out: Any, on_bad: str) -> int:
        write = out.write
        count = skipped = 0
        prefixes: list[str] | None = None
        width = 0
        rows = _guarded(reader, on_bad, ctx, self.id)
        for row in rows:
            if not row or (self.skip_empty_rows and not any(row)):
                continue
            if self.header and prefixes is None:
                names = _header(row, self.on_empty_header, ctx)
                width = len(row)
                prefixes = [ion_symbol(name) + ":" for name in names]
                continue
            if skipped < self.skip_rows:
                skipped += 1
                continue
            if prefixes is not None:
                if len(row) != width:
                    message = f"Bad line encountered (field count mismatch) at line {reader.line_num}: expected {width}, got {len(row)} fields"
                    if on_bad == "ERROR":
                        raise TaskFailed(f"{self.id}: {message}; set onBadLines to WARN or SKIP to go on")
                    if on_bad == "WARN":
                        ctx.logger.warn(message)
                    continue
                write("{" + ",".join([p + ("null" if v == "\\N" else encode_basestring(v)) for p, v in zip(prefixes, row, strict=False)]) + "}\n")
            else:
                write("[" + ",".join(["null" if v == "\\N" else encode_basestring(v) for v in row]) + "]\n")
            count += 1
            if count % CHECK_EVERY == 0:
                ctx.raise_if_killed()
        return count


def _guarded(reader: Any, on_bad: str, ctx: RunContext, task_id: str) -> Any:
    """The reader's rows; a row Python's csv module refuses (broken quoting, huge field) per onBadLines."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = f"Bad line encountered at line {reader.line_num}: {exc}"
            if on_bad == "ERROR":
                raise TaskFailed(f"{task_id}: {message}; set onBadLines to WARN or SKIP to go on") from None
            if on_bad == "WARN":
                ctx.logger.warn(message + " (skipped)")


def _header(names: list[str], on_empty: str, ctx: RunContext) -> list[str]:
    """Column names, with Kestra's onEmptyHeader rule for unnamed columns."""
    if on_empty == "RENAME":
        taken = set(names)
        out = []
        for i, name in enumerate(names):
            if not name:
                candidate, n = f"col_{i}", 1
                while candidate in taken:
                    n += 1
                    candidate = f"col_{i}_{n}"
                taken.add(candidate)
                name = candidate
            out.append(name)
        return out
    kept = max((i for i, n in enumerate(names) if n), default=len(names) - 1) + 1
    if kept < len(names):
        ctx.logger.warn(
            f"Dropped {len(names) - kept} trailing unnamed header column(s); their values are not emitted. "
            "Set onEmptyHeader=RENAME to keep them."
        )
    if len(set(names[:kept])) < kept:
        ctx.logger.warn("The header has duplicate or empty column names: only the last value of each is kept. Set onEmptyHeader=RENAME.")
    return names[:kept]


@register_task(
    "io.kestra.plugin.serdes.csv.IonToCsv",
    "io.kestra.plugin.serdes.csv.CsvWriter",
    group=GROUP,
    title="Ion to CSV",
    icon="📄",
    summary="Convert Ion rows (e.g. a query's stored result) to a CSV file, with header, separator and quoting options.",
)
class IonToCsv(SerdesTask):
    header: bool = Field(default=True, description="Write the column names (keys of the first row) as the first line.")
    field_separator: str = Field(default=",", description="The field separator character.")
    text_delimiter: str = Field(default='"', description="The character that quotes a field.")
    line_delimiter: str = Field(default="\n", description="The characters that end a row.")
    always_delimit_text: bool = Field(default=False, description="Deprecated: quote every field (use quoteMode: ALWAYS).")
    quote_mode: Literal["ALWAYS", "REQUIRED", "NON_NUMERIC"] | None = Field(
        default=None, description="When fields are quoted: ALWAYS, REQUIRED (only when needed, the default) or NON_NUMERIC."
    )
    charset: str = Field(default="UTF-8", description="Character set of the written file.")
    date_format: str = Field(default="yyyy-MM-dd", description="Java pattern for dates.")
    time_format: str = Field(default="HH:mm:ss[XXX]", description="Java pattern for times.")
    date_time_format: str = Field(default="yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]", description="Java pattern for date-times.")
    time_zone_id: str | None = Field(default=None, description="Time zone date-times are written in (default UTC).")

    def run(self, ctx: RunContext) -> TaskResult:
        formats = TextFormats(
            ctx.render(self.date_format), ctx.render(self.time_format), ctx.render(self.date_time_format),
            ctx.render(self.time_zone_id), self.id,
        )
        mode = self.quote_mode or ("ALWAYS" if self.always_delimit_text else "REQUIRED")
        # A null is an empty field, never quoted (QUOTE_NOTNULL, QUOTE_STRINGS: Python 3.12).
        quoting = {"ALWAYS": csv.QUOTE_NOTNULL, "REQUIRED": csv.QUOTE_MINIMAL, "NON_NUMERIC": csv.QUOTE_STRINGS}[mode]
        encoding = text_encoding(str(ctx.render(self.charset)), self.id)
        uri = self.source_uri(ctx)
        with self.workspace() as tmp:
            path = tmp / self.result_name(ctx, "csv", uri)
            with path.open("w", encoding=encoding, newline="") as out:
                writer = csv.writer(
                    out,
                    delimiter=one_char(ctx.render(self.field_separator), "fieldSeparator", self.id),
                    quotechar=one_char(ctx.render(self.text_delimiter), "textDelimiter", self.id),
                    lineterminator=str(ctx.render(self.line_delimiter)),
                    quoting=quoting,
                )
                count = self._write(ctx, writer, formats, uri, numeric=mode == "NON_NUMERIC")
            stored = ctx.output_file(path)
        ctx.logger.info(f"{count} row(s) converted from Ion to CSV")
        return TaskResult({"uri": stored, "size": count})

    def _write(self, ctx: RunContext, writer: Any, formats: TextFormats, uri: str, numeric: bool) -> int:
        keys: list[str] | None = None
        key_set: set[str] = set()
        count = 0
        warned = False
        text = formats.text

        def cell(value: Any) -> Any:
            out = text(value)
            # NON_NUMERIC: Python's csv leaves numbers unquoted; Decimal keeps the text as written.
            return Decimal(out) if numeric and out is not None and _NUMERIC.fullmatch(out) else out

        for row in self.rows(ctx, uri):
            if isinstance(row, dict):
                if keys is None:
                    keys = list(row)
                    key_set = set(keys)
                    if self.header:
                        writer.writerow(keys)
                if not warned and not key_set.issuperset(row):
                    ctx.logger.warn("Rows have keys the first row lacks: those values are not written (the header comes from the first row)")
                    warned = True
                writer.writerow([cell(row.get(k)) for k in keys])
            elif isinstance(row, list):
                if self.header:
                    raise TaskFailed(f"{self.id}: rows are lists, which have no column names; set header: false")
                writer.writerow([cell(v) for v in row])
            else:
                writer.writerow([cell(row)])
            count += 1
        return count
