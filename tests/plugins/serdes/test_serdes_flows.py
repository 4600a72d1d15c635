"""The serdes conversions in flows: CSV, JSON, JSON lines, Ion, Excel and Parquet, read back and compared."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from engine.iontext import loads

MAKE_FILES = """
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles: ["*.csv", "*.json"]
    commands:
      - |
        printf 'id;name;note;;\\n1;Ann;"a ""quoted""; note";x;\\n2;Bob;\\\\N;y;\\n3;Cy\\n' > people.csv
        printf '[{"a": 1, "b": {"c": [1, 2]}}, {"a": 2.5, "b": null}, {"a": "three", "d": true}]' > items.json
"""


def test_csv_to_ion_and_back_with_kestra_options(flow):
    s = flow("""
        id: csv
        namespace: tests.serdes
        tasks:""" + MAKE_FILES.replace("\n", "\n        ") + """
          - id: strict
            type: io.kestra.plugin.serdes.csv.CsvToIon
            from: "{{ outputs.make.outputFiles['people.csv'] }}"
            fieldSeparator: ";"
            allowFailure: true
          - id: lenient
            type: io.kestra.plugin.serdes.csv.CsvReader
            from: "{{ outputs.make.outputFiles['people.csv'] }}"
            fieldSeparator: ";"
            onBadLines: WARN
          - id: back
            type: io.kestra.plugin.serdes.csv.IonToCsv
            from: "{{ outputs.lenient.uri }}"
            fieldSeparator: "|"
            quoteMode: NON_NUMERIC
    """)
    assert flow.task(s, "strict")["state"] == "WARNING"  # failed, allowed to
    errors = [log["message"] for log in flow.logs(s, "strict") if log["level"] == "ERROR"]
    assert any("field count mismatch" in m and "expected 5, got 2" in m and "onBadLines" in m for m in errors), errors
    lenient = flow.task(s, "lenient")["outputs"]
    assert lenient["size"] == 2
    rows = loads(flow.file(lenient["uri"]).read_text())
    assert rows == [{"id": "1", "name": "Ann", "note": 'a "quoted"; note'}, {"id": "2", "name": "Bob", "note": None}]
    warnings = [log["message"] for log in flow.logs(s, "lenient") if log["level"] == "WARN"]
    assert any("Dropped 2 trailing unnamed header column" in m for m in warnings)
    assert flow.file(flow.task(s, "back")["outputs"]["uri"]).read_text().splitlines() == [
        '"id"|"name"|"note"', '1|"Ann"|"a ""quoted""; note"', '2|"Bob"|']


def test_json_array_to_ion_to_json_lines_and_jsonl(flow):
    s = flow("""
        id: json
        namespace: tests.serdes
        tasks:""" + MAKE_FILES.replace("\n", "\n        ") + """
          - id: ion
            type: io.kestra.plugin.serdes.json.JsonToIon
            from: "{{ outputs.make.outputFiles['items.json'] }}"
            newLine: false
          - id: lines
            type: io.kestra.plugin.serdes.json.IonToJson
            from: "{{ outputs.ion.uri }}"
          - id: array
            type: io.kestra.plugin.serdes.json.IonToJson
            from: "{{ outputs.ion.uri }}"
            newLine: false
          - id: jsonl
            type: io.kestra.plugin.serdes.json.JsonToJsonl
            from: "{{ outputs.make.outputFiles['items.json'] }}"
    """)
    assert s["state"] == "SUCCESS", s
    expected = [{"a": 1, "b": {"c": [1, 2]}}, {"a": 2.5, "b": None}, {"a": "three", "d": True}]
    assert loads(flow.file(flow.task(s, "ion")["outputs"]["uri"]).read_text()) == expected
    lines = flow.file(flow.task(s, "lines")["outputs"]["uri"]).read_text().splitlines()
    assert [json.loads(line) for line in lines] == expected
    assert json.loads(flow.file(flow.task(s, "array")["outputs"]["uri"]).read_text()) == expected
    jsonl = flow.task(s, "jsonl")["outputs"]
    assert jsonl["size"] == 3 and [json.loads(x) for x in flow.file(jsonl["uri"]).read_text().splitlines()] == expected


ROWS_ION = (
    '{id:1,name:"pen",price:2.50,day:2024-05-01,at:2024-05-01T10:00:00Z,ok:true}\n'
    '{id:2,name:"ink",price:7.00,day:2024-05-02,at:2024-05-02T11:30:00Z,ok:false}\n'
)


def test_excel_and_parquet_round_trips(flow, tmp_path):
    (tmp_path / "rows.ion").write_text(ROWS_ION)
    s = flow(f"""
        id: excel-parquet
        namespace: tests.serdes
        tasks:
          - id: make
            type: io.kestra.plugin.scripts.shell.Commands
            outputFiles: [rows.ion]
            commands:
              - cp {tmp_path}/rows.ion rows.ion
          - id: xlsx
            type: io.kestra.plugin.serdes.excel.IonToExcel
            from:
              Items: "{{{{ outputs.make.outputFiles['rows.ion'] }}}}"
              Again: "{{{{ outputs.make.outputFiles['rows.ion'] }}}}"
          - id: read_xlsx
            type: io.kestra.plugin.serdes.excel.ExcelToIon
            from: "{{{{ outputs.xlsx.uri }}}}"
            sheetsTitle: [Items]
          - id: parquet
            type: io.kestra.plugin.serdes.parquet.IonToParquet
            from: "{{{{ outputs.make.outputFiles['rows.ion'] }}}}"
            compressionCodec: SNAPPY
          - id: read_parquet
            type: io.kestra.plugin.serdes.parquet.ParquetToIon
            from: "{{{{ outputs.parquet.uri }}}}"
          - id: bad_schema
            type: io.kestra.plugin.serdes.parquet.IonToParquet
            from: "{{{{ outputs.make.outputFiles['rows.ion'] }}}}"
            schema: '{{"type": "record", "name": "r", "fields": [{{"name": "name", "type": "int"}}]}}'
            allowFailure: true
    """)
    assert flow.task(s, "xlsx")["outputs"]["size"] == 4
    read = flow.task(s, "read_xlsx")["outputs"]
    assert list(read["uris"]) == ["Items"] and read["size"] == 2
    assert loads(flow.file(read["uris"]["Items"]).read_text())[0] == {
        "id": 1, "name": "pen", "price": 2.5, "day": dt.date(2024, 5, 1), "at": dt.datetime(2024, 5, 1, 10), "ok": True}
    back = loads(flow.file(flow.task(s, "read_parquet")["outputs"]["uri"]).read_text())
    assert back[1] == {"id": 2, "name": "ink", "price": 7.0, "day": dt.date(2024, 5, 2),
                       "at": dt.datetime(2024, 5, 2, 11, 30, tzinfo=dt.UTC), "ok": False}
    assert isinstance(back[0]["price"], float) and not isinstance(back[0]["price"], Decimal)
    assert flow.task(s, "bad_schema")["state"] == "WARNING"  # failed, allowed to
    errors = [log["message"] for log in flow.logs(s, "bad_schema") if log["level"] == "ERROR"]
    assert any("does not fit the schema: name: 'pen' is not a valid int32" in m for m in errors), errors
