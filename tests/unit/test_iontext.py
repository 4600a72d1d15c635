"""Kestra's Ion row files: written like Kestra writes them, read whatever Ion text syntax they use."""

from __future__ import annotations

import datetime as dt
import io
import math
from decimal import Decimal

import pytest

from engine.iontext import IonError, IonWriter, dumps, iter_values, loads

# A line as Kestra's serializer writes it (plugin-serdes test resources), with typed strings and a blob.
KESTRA_LINE = (
    "{policyID:\"119736\",county:'Formula:UPPER(\"clay county\")',limit:922337203685478,big:9223372036854775808,"
    "tiv:792148.9,date:2023-06-06,x:null.int,ok:true,g:{bytes:{{MQ==}},length:1},"
    't:LocalDateTime::"2020-01-01T10:00:00",z:ZonedDateTime::"2011-12-03T10:15:30+01:00[Europe/Paris]",'
    "ts:2020-01-01T00:00:00.000Z,f:1.5e0,l:[1,\"a\"],s:(a + b),'$1x':'''long''' '''er'''}"
)


def test_reads_kestras_rows_into_plain_python_values():
    (row,) = loads(KESTRA_LINE)
    assert row["policyID"] == "119736" and row["county"] == 'Formula:UPPER("clay county")'
    assert row["big"] == 9223372036854775808 and row["tiv"] == Decimal("792148.9")
    assert row["date"] == dt.date(2023, 6, 6) and row["x"] is None and row["ok"] is True
    assert row["g"] == {"bytes": b"1", "length": 1}
    assert row["t"] == dt.datetime(2020, 1, 1, 10)
    assert row["z"] == dt.datetime(2011, 12, 3, 10, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert row["ts"] == dt.datetime(2020, 1, 1, tzinfo=dt.UTC) and row["f"] == 1.5
    assert row["l"] == [1, "a"] and row["s"] == ["a", "+", "b"] and row["$1x"] == "longer"


def test_writes_values_as_kestra_does_and_reads_them_back():
    row = {"a": 1, "b": 'x\n"y"é', "c": Decimal("1.50"), "d": dt.date(2020, 1, 2), "e": dt.datetime(2020, 1, 1, 10, tzinfo=dt.UTC),
           "f": dt.datetime(2020, 1, 1, 10), "g": None, "h": 1.5, "i": b"\x01", "j": [1, {"k": 2}], "weird key": True,
           "null": False, "t": dt.time(10, 0)}
    text = dumps(row)
    assert text == ('{a:1,b:"x\\n\\"y\\"é",c:1.50,d:2020-01-02,e:2020-01-01T10:00:00Z,f:LocalDateTime::"2020-01-01T10:00:00",'
                    "g:null,h:1.5e0,i:{{AQ==}},j:[1,{k:2}],'weird key':true,'null':false,t:LocalTime::\"10:00:00\"}")
    assert loads(text) == [row]
    assert dumps(Decimal("5")) == "5." and dumps(Decimal("1E+3")) == "1d+3" and dumps(math.inf) == "+inf"


def test_streams_values_spread_over_lines_comments_and_system_values():
    text = "$ion_1_0\n{a:1,\n b:[1,\n2]}\n/* c */ 3 // x\n'''a\nb'''\nsym\n{c:\"d\"}"
    assert list(iter_values(io.StringIO(text))) == [{"a": 1, "b": [1, 2]}, 3, "a\nb", "sym", {"c": "d"}]


def test_the_fast_paths_agree_with_the_full_parser():
    lines = ['{a:"x",b:"y"}', '{a:"x\\ty",b:1,c:2.5,d:null,e:2024-01-01T,f:true}', "{'q k':\"v\",n:-3}", "{}"]
    for line in lines:
        assert list(iter_values([line + "\n"])) == loads(line), line


def test_writer_counts_and_bad_text_names_the_place():
    out = io.StringIO()
    writer = IonWriter(out)
    assert writer.write_all([{"a": 1}, [1, 2]]) == 2 and out.getvalue() == "{a:1}\n[1,2]\n"
    with pytest.raises(IonError, match="line 2"):
        loads('{a:1}\n{b: @}')
    with pytest.raises(IonError, match="ends inside a value"):
        list(iter_values(["{a:1,\n", "b:2\n"]))
