"""What every conversion shares: reading ``from`` out of internal storage, writing the result back, and
turning typed values into text the way Kestra's writers do (Java date patterns, a time zone)."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any

from engine.sdk import (
    Field,
    IonError,
    IonWriter,
    RunContext,
    RunnableTask,
    StorageError,
    TaskFailed,
    format_date,
    read_ion,
    time_zone,
)

GROUP = "File formats"
#: Rows converted between two checks of kill/timeout.
CHECK_EVERY = 10_000
_OFFSET_LETTERS = set("XxZOVz")


class SerdesTask(RunnableTask):
    """A conversion from one stored file (``from``) to another; outputs ``uri`` and ``size`` (rows)."""

    from_: str = Field(alias="from", min_length=1, description="URI of the source file in internal storage (lanner:///...).")

    def source_uri(self, ctx: RunContext) -> str:
        return str(ctx.render(self.from_)).strip()

    @contextmanager
    def open_source(self, ctx: RunContext, uri: str | None = None) -> Iterator[IO[bytes]]:
        """The source file as a binary stream; a missing or foreign file fails with one sentence."""
        uri = uri or self.source_uri(ctx)
        try:
            fh = ctx.storage.open(uri, namespace=ctx.namespace)
        except StorageError as exc:
            raise TaskFailed(f"{self.id}: cannot read 'from': {exc}") from None
        try:
            yield fh
        finally:
            fh.close()

    @contextmanager
    def open_text(self, ctx: RunContext, charset: str, uri: str | None = None, newline: str | None = None) -> Iterator[IO[str]]:
        """The source as text in ``charset``; a UTF-8 byte-order mark is dropped."""
        encoding = text_encoding(charset, self.id, reading=True)
        with self.open_source(ctx, uri) as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, newline=newline, errors="strict")
            try:
                yield text
            except UnicodeDecodeError as exc:
                raise TaskFailed(f"{self.id}: the file is not valid {charset} text ({exc.reason} at byte {exc.start}); set 'charset'") from None
            finally:
                text.detach()

    def rows(self, ctx: RunContext, uri: str | None = None) -> Iterator[Any]:
        """The values of an Ion source file, one by one."""
        with self.open_text(ctx, "UTF-8", uri) as text:
            try:
                for i, row in enumerate(read_ion(text)):
                    if i % CHECK_EVERY == 0:
                        ctx.raise_if_killed()
                    yield row
            except IonError as exc:
                raise TaskFailed(f"{self.id}: 'from' is not a valid Ion file: {exc}") from None

    @contextmanager
    def workspace(self) -> Iterator[Path]:
        tmp = Path(tempfile.mkdtemp(prefix=f"lanner-{self.id}-"))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def result_name(self, ctx: RunContext, extension: str, uri: str | None = None) -> str:
        """The stored file's name: the source's name with the new extension (sales.csv -> sales.ion)."""
        stem = PurePosixPath((uri or self.source_uri(ctx)).rsplit("/", 1)[-1]).stem or self.id
        return f"{stem}.{extension}"

    def write_ion(self, ctx: RunContext, path: Path, rows: Iterator[Any]) -> int:
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            writer = IonWriter(fh)
            for row in rows:
                writer.write(row)
                if writer.count % CHECK_EVERY == 0:
                    ctx.raise_if_killed()
            return writer.count


def text_encoding(charset: str, task_id: str, reading: bool = False) -> str:
    """Python's name for a Java charset name; a UTF-8 source drops its byte-order mark."""
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        raise TaskFailed(f"{task_id}: charset {charset!r} is unknown; use a name such as UTF-8 or ISO-8859-1") from None
    return "utf-8-sig" if reading and name == "utf-8" else name


def one_char(value: str, field: str, task_id: str) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise TaskFailed(f"{task_id}: {field} must be exactly one character, not {value!r}")
    return value


class TextFormats:
    """Kestra's ``dateFormat``/``timeFormat``/``dateTimeFormat``/``timeZoneId`` for values written as text."""

    def __init__(self, date_format: str, time_format: str, date_time_format: str, zone_id: str | None, task_id: str):
        self.date_format = date_format
        self.time_format = time_format
        self.naive_time_format = _without_offset_sections(time_format)
        self.date_time_format = date_time_format
        self.zone_name = zone_id or "UTC"
        try:
            self.zone = time_zone(self.zone_name)
            format_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), date_time_format)
            format_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), date_format)
            format_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), time_format)
        except Exception as exc:  # noqa: BLE001 - DateError from the expression layer: a bad pattern or zone
            raise TaskFailed(f"{task_id}: invalid date format or timeZoneId: {exc}") from None

    def text(self, value: Any) -> str | None:
        """A value as Kestra's writers print it (None stays None)."""
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float, Decimal)):
            return str(value) if not isinstance(value, float) else repr(value)
        if isinstance(value, dt.datetime):
            aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
            zone = self.zone_name if value.tzinfo is not None else "UTC"
            return format_date(aware, self.date_time_format, zone)
        if isinstance(value, dt.date):
            return format_date(value, self.date_format)
        if isinstance(value, dt.time):
            moment = dt.datetime.combine(dt.date(1970, 1, 1), value)
            if value.tzinfo is None:
                return format_date(moment.replace(tzinfo=dt.UTC), self.naive_time_format)
            return format_date(moment, self.time_format)
        if isinstance(value, (bytes, bytearray)):
            import base64

            return base64.b64encode(bytes(value)).decode("ascii")
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=json_default, ensure_ascii=False)
        return str(value)


def _without_offset_sections(pattern: str) -> str:
    """Drop ``[...]`` optional sections that print an offset: a time without zone has none (Java skips them)."""
    out, depth, section = [], 0, []
    for c in pattern:
        if c == "[":
            depth += 1
            section = []
        elif c == "]" and depth:
            depth -= 1
            if not (_OFFSET_LETTERS & set(section)):
                out.extend(section)
        elif depth:
            section.append(c)
        else:
            out.append(c)
    return "".join(out)


def json_default(value: Any) -> Any:
    """JSON for the typed values Ion rows carry (dates as ISO-8601 text, decimals as numbers)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)
