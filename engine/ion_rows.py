"""Rows of Kestra's internal-storage files: one Amazon Ion text value per line.

Kestra's tasks that produce records (log Fetch, the serdes and SQL plugins,
ForEachItem's merged outputs) write one Ion value per line, and the tasks
that consume them (DeduplicateItems, FilterItems, ForEachItem) read a file
line by line, so any size streams with flat memory. JSON lines are Ion too;
they are read with the much faster JSON parser first.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import IO, Any


class RowError(ValueError):
    """A line that is not an Ion (or JSON) value; the message names the line."""


def plain(value: object) -> Any:
    """An Ion value as plain data: maps, lists, texts, numbers, booleans, null; timestamps as ISO texts."""
    if value is None or type(value).__name__ == "IonPyNull":
        return None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return str(value)
    return value


def parse_row(line: str | bytes, number: int | None = None) -> Any:
    """One line as plain data (JSON first, then Ion text)."""
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    try:
        return json.loads(text)
    except ValueError:
        pass
    from amazon.ion import simpleion  # imported on first use: it takes a while
    from amazon.ion.exceptions import IonException

    try:
        return plain(simpleion.loads(text, single_value=True))
    except (IonException, ValueError, TypeError) as exc:
        where = f"line {number}" if number is not None else "a line"
        raise RowError(f"{where} is not an Ion or JSON value ({exc}): {text[:80]!r}") from None


def dump_row(value: object) -> bytes:
    """One value as an Ion text line (ending with a newline)."""
    from amazon.ion import simpleion

    return simpleion.dumps(_ionable(value), binary=False, omit_version_marker=True).encode("utf-8") + b"\n"


def _ionable(value: object) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _ionable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_ionable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float, Decimal)):
        return value
    return str(value)


def read_rows(stream: IO[bytes]) -> Iterator[Any]:
    """Every non-empty line of a binary stream as plain data, one at a time."""
    for number, line in enumerate(stream, start=1):
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield parse_row(line, number)


def write_rows(stream: IO[bytes], rows: Iterable[Any]) -> int:
    """Write rows as Ion lines; return how many."""
    n = 0
    for row in rows:
        stream.write(dump_row(row))
        n += 1
    return n
