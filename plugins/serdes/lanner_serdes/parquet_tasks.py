"""``IonToParquet`` and ``ParquetToIon`` with pyarrow, a batch of rows at a time.

The Parquet schema is Kestra's: an Avro schema (``schema``, JSON) when given,
else inferred from the first ``numberOfRowsToScan`` rows. With a schema, text
values (what ``CsvToIon`` produces) are converted to the declared types with
``trueValues``/``falseValues``/``nullValues``, ``decimalSeparator`` and the date
formats, as Kestra's Avro converter does.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, Literal

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, register_task
from lanner_serdes.common import GROUP, SerdesTask, json_default

BATCH_ROWS = 10_000
_CODECS = {"UNCOMPRESSED": "none", "SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd"}
_TRUE = ["t", "true", "enabled", "1", "on", "yes"]
_FALSE = ["f", "false", "disabled", "0", "off", "no", ""]
_NULLS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "1.#IND", "1.#QNAN", "NA", "n/a", "nan", "null"]


class _BadValue(ValueError):
    pass


@register_task(
    "io.kestra.plugin.serdes.parquet.IonToParquet",
    "io.kestra.plugin.serdes.parquet.ParquetWriter",
    group=GROUP,
    title="Ion to Parquet",
    icon="🧱",
    summary="Write Ion rows to a Parquet file, with an Avro schema or one inferred from the first rows.",
)
class IonToParquet(SerdesTask):
    schema_: str | dict[str, Any] | None = Field(
        default=None, alias="schema", description="Avro schema of the rows (JSON); inferred from the first rows when empty."
    )
    number_of_rows_to_scan: int = Field(default=100, gt=0, description="Rows read to infer the schema when none is given.")
    infer_all_fields: bool = Field(default=False, description="Accepted for Kestra compatibility; inference reads numberOfRowsToScan rows.")
    compression_codec: Literal["UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD"] = Field(default="GZIP", description="Compression of the pages.")
    parquet_version: Literal["V1", "V2"] = Field(default="V2", description="Parquet format version.")
    row_group_size: int = Field(default=128 * 1024 * 1024, gt=0, description="Target row group size in bytes.")
    page_size: int = Field(default=1024 * 1024, gt=0, description="Target data page size in bytes.")
    dictionary_page_size: int = Field(default=1024 * 1024, gt=0, description="Largest dictionary page in bytes.")
    true_values: list[str] = Field(default_factory=lambda: list(_TRUE), description="Texts read as true for boolean fields.")
    false_values: list[str] = Field(default_factory=lambda: list(_FALSE), description="Texts read as false for boolean fields.")
    null_values: list[str] = Field(default_factory=lambda: list(_NULLS), description="Texts read as null for non-string fields.")
    date_format: str = Field(default="yyyy-MM-dd[XXX]", description="Accepted for Kestra compatibility: dates given as text are read as ISO-8601.")
    time_format: str = Field(default="HH:mm[:ss][.SSSSSS][XXX]", description="Accepted for Kestra compatibility: times given as text are read as ISO-8601.")
    datetime_format: str = Field(
        default="yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]",
        description="Accepted for Kestra compatibility: date-times given as text are read as ISO-8601 (a space for the T works too).",
    )
    decimal_separator: str = Field(default=".", min_length=1, max_length=1, description="Decimal point of numbers given as text.")
    strict_schema: bool = Field(default=False, description="Fail on a field the schema does not declare (else it is dropped).")
    time_zone_id: str | None = Field(default=None, description="Zone of date-times without one (default UTC).")
    on_bad_lines: Literal["ERROR", "WARN", "SKIP"] = Field(default="ERROR", description="A row that does not fit the schema: fail, log and skip, or skip.")

    def run(self, ctx: RunContext) -> TaskResult:
        import pyarrow as pa
        import pyarrow.parquet as pq

        uri = self.source_uri(ctx)
        rows = self.rows(ctx, uri)
        schema_text = ctx.render(self.schema_)
        if schema_text:
            schema = avro_to_arrow(schema_text, self.id)
            convert = _Converter(self, ctx, schema)
            head: list[Any] = []
        else:
            head = list(islice(rows, self.number_of_rows_to_scan))
            schema = _infer(head, self.id)
            convert = _Converter(self, ctx, schema)
        count = 0
        with self.workspace() as tmp:
            path = tmp / self.result_name(ctx, "parquet", uri)
            writer = pq.ParquetWriter(
                path, schema, compression=_CODECS[self.compression_codec],
                version="1.0" if self.parquet_version == "V1" else "2.6",
                data_page_size=self.page_size, dictionary_pagesize_limit=self.dictionary_page_size,
            )
            try:
                pending = list(head)
                for row in rows:
                    pending.append(row)
                    if len(pending) >= BATCH_ROWS:
                        count += self._flush(writer, convert, pending, pa)
                        pending = []
                count += self._flush(writer, convert, pending, pa)
            finally:
                writer.close()
            stored = ctx.output_file(path)
        return TaskResult({"uri": stored, "size": count})

    def _flush(self, writer: Any, convert: _Converter, rows: list[Any], pa: Any) -> int:
        if not rows:
            return 0
        records = [r for r in (convert.row(row, n) for n, row in enumerate(rows)) if r is not None]
        if records:
            writer.write_batch(pa.RecordBatch.from_pylist(records, schema=writer.schema), row_group_size=None)
        return len(records)


def _infer(rows: list[Any], task_id: str) -> Any:
    """An Arrow schema from the first rows' Python types (decimals as doubles, empty columns as text)."""
    import pyarrow as pa

    sample = [_plain_for_inference(r) for r in rows if isinstance(r, dict)]
    if not sample:
        if rows:
            raise TaskFailed(f"{task_id}: Parquet needs rows that are structs (key: value), not {type(rows[0]).__name__}")
        return pa.schema([])
    names: dict[str, None] = {}
    for r in sample:
        names.update(dict.fromkeys(r))
    try:
        table = pa.Table.from_pylist([{k: r.get(k) for k in names} for r in sample])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TaskFailed(f"{task_id}: the rows' types cannot be inferred ({exc}); give an Avro 'schema'") from None
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema])


def _plain_for_inference(row: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}


# --- Avro schema -> Arrow ---------------------------------------------------------------------------

_AVRO_PRIMITIVES = {
    "string": "string", "boolean": "bool_", "int": "int32", "long": "int64", "float": "float32",
    "double": "float64", "bytes": "binary", "null": "null",
}  # fmt: skip


def avro_to_arrow(schema: Any, task_id: str) -> Any:
    """An Arrow schema from an Avro record schema (JSON text or data)."""
    import pyarrow as pa

    try:
        data = json.loads(schema) if isinstance(schema, str) else schema
    except json.JSONDecodeError as exc:
        raise TaskFailed(f"{task_id}: schema is not valid JSON ({exc.msg}); give an Avro record schema") from None
    if not isinstance(data, dict) or data.get("type") != "record" or not isinstance(data.get("fields"), list):
        raise TaskFailed(f"{task_id}: schema must be an Avro record: {{\"type\": \"record\", \"fields\": [...]}}")
    fields = []
    for field in data["fields"]:
        try:
            arrow_type, nullable = _avro_type(field["type"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TaskFailed(f"{task_id}: schema field {field.get('name', '?')!r} has a type Lanner cannot map: {exc}") from None
        fields.append(pa.field(field["name"], arrow_type, nullable=nullable))
    return pa.schema(fields)


def _avro_type(avro: Any) -> tuple[Any, bool]:
    import pyarrow as pa

    if isinstance(avro, list):
        others = [t for t in avro if t != "null"]
        if len(others) != 1:
            raise ValueError("only unions of null and one type are supported")
        return _avro_type(others[0])[0], "null" in avro
    if isinstance(avro, str):
        if avro not in _AVRO_PRIMITIVES:
            raise ValueError(f"unknown type {avro!r}")
        return getattr(pa, _AVRO_PRIMITIVES[avro])(), avro == "null"
    if isinstance(avro, dict):
        logical, base = avro.get("logicalType"), avro.get("type")
        if logical == "decimal":
            return pa.decimal128(int(avro["precision"]), int(avro.get("scale", 0))), False
        if logical == "date":
            return pa.date32(), False
        if logical in ("time-millis", "time-micros"):
            return (pa.time32("ms") if logical == "time-millis" else pa.time64("us")), False
        if logical in ("timestamp-millis", "timestamp-micros"):
            return pa.timestamp("ms" if logical == "timestamp-millis" else "us", tz="UTC"), False
        if logical in ("local-timestamp-millis", "local-timestamp-micros"):
            return pa.timestamp("ms" if logical.endswith("millis") else "us"), False
        if base == "array":
            return pa.list_(_avro_type(avro["items"])[0]), False
        if base == "map":
            return pa.map_(pa.string(), _avro_type(avro["values"])[0]), False
        if base == "enum":
            return pa.string(), False
        if base == "record":
            return pa.struct([pa.field(f["name"], *_avro_type(f["type"])) for f in avro["fields"]]), False
        if isinstance(base, (str, list, dict)):
            return _avro_type(base)
    raise ValueError(f"unsupported type {avro!r}")


class _Converter:
    """Fits rows to the schema: text to typed values, undeclared fields per strictSchema, bad rows per onBadLines."""

    def __init__(self, task: IonToParquet, ctx: RunContext, schema: Any):
        from engine.sdk import time_zone

        self.task, self.ctx, self.schema = task, ctx, schema
        self.names = schema.names
        self.types = {f.name: f.type for f in schema}
        self.nullable = {f.name: f.nullable for f in schema}
        self.true = set(task.true_values)
        self.false = set(task.false_values)
        self.nulls = set(task.null_values)
        self.zone = time_zone(task.time_zone_id or "UTC")
        self.warned = False

    def row(self, row: Any, index: int) -> dict[str, Any] | None:
        try:
            if not isinstance(row, dict):
                raise _BadValue(f"a row is {type(row).__name__}, not a struct")
            extra = [k for k in row if k not in self.types]
            if extra and self.task.strict_schema:
                raise _BadValue(f"fields {', '.join(extra)} are not in the schema (strictSchema: true)")
            return {name: self.value(name, row.get(name)) for name in self.names}
        except _BadValue as exc:
            message = f"row {index + 1} of a batch does not fit the schema: {exc}"
            if self.task.on_bad_lines == "ERROR":
                raise TaskFailed(f"{self.task.id}: {message}; fix the data or the schema, or set onBadLines") from None
            if self.task.on_bad_lines == "WARN":
                self.ctx.logger.warn(message + " (skipped)")
            return None

    def value(self, name: str, value: Any) -> Any:
        import pyarrow as pa

        kind = self.types[name]
        if isinstance(value, str) and not pa.types.is_string(kind) and value.strip() in self.nulls:
            value = None
        if value is None:
            if not self.nullable[name]:
                raise _BadValue(f"{name} is null but the schema does not allow null")
            return None
        try:
            if pa.types.is_boolean(kind) and isinstance(value, str):
                if value.strip().lower() in self.true:
                    return True
                if value.strip().lower() in self.false:
                    return False
                raise _BadValue(f"{name}: {value!r} is neither a true nor a false value")
            if pa.types.is_integer(kind) and isinstance(value, (str, float, Decimal)):
                return int(str(value).strip()) if isinstance(value, str) else int(value)
            if pa.types.is_floating(kind) and isinstance(value, (str, Decimal)):
                return float(str(value).strip().replace(self.task.decimal_separator, "."))
            if pa.types.is_decimal(kind):
                return Decimal(str(value).strip().replace(self.task.decimal_separator, "."))
            if pa.types.is_string(kind) and not isinstance(value, str):
                return json.dumps(value, default=json_default) if isinstance(value, (dict, list)) else json_default(value)
            if pa.types.is_timestamp(kind):
                return self._datetime(value, kind.tz is not None)
            if pa.types.is_date(kind):
                return value.date() if isinstance(value, dt.datetime) else value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value).strip()[:10])
            if pa.types.is_time(kind) and isinstance(value, str):
                return dt.time.fromisoformat(str(value).strip())
        except (ValueError, InvalidOperation, TypeError) as exc:
            if isinstance(exc, _BadValue):
                raise
            raise _BadValue(f"{name}: {value!r} is not a valid {kind}") from None
        return value

    def _datetime(self, value: Any, aware: bool) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        if not isinstance(value, dt.datetime):
            raise _BadValue(f"{value!r} is not a date-time")
        if aware and value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value


@register_task(
    "io.kestra.plugin.serdes.parquet.ParquetToIon",
    "io.kestra.plugin.serdes.parquet.ParquetReader",
    group=GROUP,
    title="Parquet to Ion",
    icon="🧱",
    summary="Read a Parquet file into Ion rows, a row group batch at a time.",
)
class ParquetToIon(SerdesTask):
    def run(self, ctx: RunContext) -> TaskResult:
        import pyarrow as pa
        import pyarrow.parquet as pq

        uri = self.source_uri(ctx)
        local = ctx.storage.local_path(uri, ctx.namespace) if ctx.storage.exists(uri, ctx.namespace) else None
        with self.workspace() as tmp, self.open_source(ctx, uri) as raw:
            try:
                parquet = pq.ParquetFile(str(local) if local is not None else raw)
            except (pa.ArrowInvalid, OSError) as exc:
                raise TaskFailed(f"{self.id}: 'from' is not a Parquet file ({exc})") from None
            rows = (row for batch in parquet.iter_batches(batch_size=BATCH_ROWS) for row in batch.to_pylist())
            path = tmp / self.result_name(ctx, "ion", uri)
            count = self.write_ion(ctx, path, rows)
            stored = ctx.output_file(path)
        return TaskResult({"uri": stored, "size": count})
