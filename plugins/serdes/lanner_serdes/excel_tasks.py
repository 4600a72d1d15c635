"""``IonToExcel`` and ``ExcelToIon`` with openpyxl in its streaming modes (write-only, read-only)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Literal

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, register_task
from lanner_serdes.common import CHECK_EVERY, GROUP, SerdesTask, TextFormats, json_default

EXCEL_MAX_ROWS = 1_048_576
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


@register_task(
    "io.kestra.plugin.serdes.excel.IonToExcel",
    "io.kestra.plugin.serdes.excel.ExcelWriter",
    group=GROUP,
    title="Ion to Excel",
    icon="📊",
    summary="Write Ion rows to an .xlsx workbook: one sheet, or one sheet per entry of a {title: uri} map.",
)
class IonToExcel(SerdesTask):
    from_: str | dict[str, str] = Field(  # type: ignore[assignment]
        alias="from", description="URI of the Ion file, or a map of sheet title -> Ion file URI (one sheet each)."
    )
    sheets_title: str = Field(default="Sheet", description="Title of the sheet when 'from' is one URI.")
    header: bool = Field(default=True, description="Write the column names (keys of the first row) as the first row.")
    styles: bool = Field(default=True, description="Give dates and times an Excel date format; false writes them as text.")
    charset: str = Field(default="UTF-8", description="Accepted for Kestra compatibility (xlsx files are always UTF-8).")
    date_format: str = Field(default="yyyy-MM-dd", description="Java pattern for dates written as text (styles: false).")
    time_format: str = Field(default="HH:mm:ss[XXX]", description="Java pattern for times written as text (styles: false).")
    date_time_format: str = Field(default="yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]", description="Java pattern for date-times written as text.")
    time_zone_id: str | None = Field(default=None, description="Time zone date-times are shown in (Excel has no zones; default UTC).")

    def run(self, ctx: RunContext) -> TaskResult:
        from openpyxl import Workbook

        source = ctx.render(self.from_)
        sheets = {str(ctx.render(self.sheets_title)): str(source).strip()} if isinstance(source, str) else {
            str(k): str(v).strip() for k, v in dict(source).items()
        }
        formats = TextFormats(
            ctx.render(self.date_format), ctx.render(self.time_format), ctx.render(self.date_time_format),
            ctx.render(self.time_zone_id), self.id,
        )
        workbook = Workbook(write_only=True)
        total = 0
        with self.workspace() as tmp:
            for title, uri in sheets.items():
                total += self._sheet(ctx, workbook.create_sheet(title=title[:31]), uri, formats)
            first = next(iter(sheets.values()))
            path = tmp / self.result_name(ctx, "xlsx", first)
            workbook.save(path)
            stored = ctx.output_file(path)
        ctx.logger.info(f"{total} row(s) written to {len(sheets)} sheet(s)")
        return TaskResult({"uri": stored, "size": total})

    def _sheet(self, ctx: RunContext, sheet: Any, uri: str, formats: TextFormats) -> int:
        keys: list[str] | None = None
        count = 0
        for row in self.rows(ctx, uri):
            if isinstance(row, dict):
                if keys is None:
                    keys = list(row)
                    if self.header:
                        sheet.append(keys)
                values = [row.get(k) for k in keys]
            else:
                values = row if isinstance(row, list) else [row]
            count += 1
            if count + (1 if self.header else 0) > EXCEL_MAX_ROWS:
                raise TaskFailed(f"{self.id}: more than {EXCEL_MAX_ROWS:,} rows do not fit in one Excel sheet; split the data or use IonToCsv")
            sheet.append([self._cell(v, formats) for v in values])
        return count

    def _cell(self, value: Any, formats: TextFormats) -> Any:
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            if not self.styles:
                return formats.text(value)
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                return value.astimezone(formats.zone).replace(tzinfo=None)
            if isinstance(value, dt.time) and value.tzinfo is not None:
                return value.replace(tzinfo=None)
            return value
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=json_default, ensure_ascii=False)
        return formats.text(value)


@register_task(
    "io.kestra.plugin.serdes.excel.ExcelToIon",
    "io.kestra.plugin.serdes.excel.ExcelReader",
    group=GROUP,
    title="Excel to Ion",
    icon="📊",
    summary="Read the sheets of an .xlsx workbook into Ion rows: outputs.<id>.uris.<sheet> for each sheet.",
)
class ExcelToIon(SerdesTask):
    sheets_title: list[str] | None = Field(default=None, description="Titles of the sheets to read (default: every sheet).")
    charset: str = Field(default="UTF-8", description="Accepted for Kestra compatibility (xlsx files are always UTF-8).")
    value_render: Literal["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"] = Field(
        default="UNFORMATTED_VALUE",
        description="UNFORMATTED_VALUE: typed values; FORMATTED_VALUE: every value as text; FORMULA: formulas as written (=SUM(A1:A3)).",
    )
    date_time_render: Literal["UNFORMATTED_VALUE", "SERIAL_NUMBER", "FORMATTED_STRING"] = Field(
        default="UNFORMATTED_VALUE",
        description="Dates as dates (UNFORMATTED_VALUE), as Excel serial numbers (SERIAL_NUMBER) or as ISO-8601 text (FORMATTED_STRING).",
    )
    header: bool = Field(default=True, description="The first row names the columns (rows become structs); else rows are lists.")
    skip_empty_rows: bool = Field(default=False, description="Skip rows whose cells are all empty.")
    skip_rows: int = Field(default=0, ge=0, description="Rows to skip at the top of each sheet (a title, notes), before the header.")

    def run(self, ctx: RunContext) -> TaskResult:
        from openpyxl import load_workbook

        uri = self.source_uri(ctx)
        uris: dict[str, str] = {}
        total = 0
        with self.workspace() as tmp, self.open_source(ctx, uri) as raw:
            try:
                workbook = load_workbook(raw, read_only=True, data_only=self.value_render != "FORMULA")
            except Exception as exc:  # noqa: BLE001 - zipfile/XML errors: the file is not a workbook
                raise TaskFailed(f"{self.id}: 'from' is not an Excel .xlsx workbook ({type(exc).__name__}: {exc})") from None
            wanted = [str(t) for t in ctx.render(self.sheets_title or [])]
            missing = [t for t in wanted if t not in workbook.sheetnames]
            if missing:
                raise TaskFailed(f"{self.id}: sheetsTitle names sheets the workbook lacks: {', '.join(missing)} (it has {', '.join(workbook.sheetnames)})")
            try:
                for title in wanted or workbook.sheetnames:
                    path = tmp / f"{title}.ion"
                    count = self.write_ion(ctx, path, self._rows(ctx, workbook[title]))
                    uris[title] = ctx.output_file(path)
                    total += count
            finally:
                workbook.close()
        return TaskResult({"uris": uris, "size": total})

    def _rows(self, ctx: RunContext, sheet: Any) -> Any:
        names: list[str] | None = None
        for index, cells in enumerate(sheet.iter_rows(values_only=True)):
            if index < self.skip_rows:
                continue
            values = [self._value(v) for v in cells]
            if self.skip_empty_rows and all(v is None or v == "" for v in values):
                continue
            if self.header and names is None:
                names = [str(v) if v is not None else f"col_{i}" for i, v in enumerate(values)]
                continue
            if names is not None:
                yield dict(zip(names, values + [None] * (len(names) - len(values)), strict=False))
            else:
                yield values
            if index % CHECK_EVERY == 0:
                ctx.raise_if_killed()

    def _value(self, value: Any) -> Any:
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            if self.date_time_render == "SERIAL_NUMBER" and not isinstance(value, dt.time):
                moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
                return (moment - _EXCEL_EPOCH).total_seconds() / 86400
            if isinstance(value, dt.datetime) and value.time() == dt.time() and self.date_time_render != "FORMATTED_STRING":
                value = value.date()  # a date cell (Excel has no date-only type)
            if self.date_time_render == "FORMATTED_STRING" or self.value_render == "FORMATTED_VALUE":
                return value.isoformat()
            return value
        if self.value_render == "FORMATTED_VALUE" and value is not None and not isinstance(value, str):
            return ("TRUE" if value else "FALSE") if isinstance(value, bool) else str(value)
        return value
