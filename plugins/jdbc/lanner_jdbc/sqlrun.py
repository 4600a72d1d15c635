"""Running SQL on SQLAlchemy: connecting, splitting statements, fetching rows the four Kestra ways.

``FETCH`` keeps every row in the outputs, ``FETCH_ONE`` the first, ``STORE``
streams them into an Ion file in internal storage (server-side cursors on
PostgreSQL and MySQL, so a table of any size passes in ``fetchSize`` rows at a
time), ``NONE`` keeps nothing. Failures become one sentence that says where
(host, database, user; never the password) and what the server answered.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.sdk import IonWriter, TaskFailed, time_zone
from lanner_jdbc.urls import Target

FETCH_TYPES = ("FETCH", "FETCH_ONE", "STORE", "NONE")


# --- statements --------------------------------------------------------------------------------------

_TOKENS = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|(\$[A-Za-z_]*\$).*?\1|;", re.S)


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql``, split at semicolons outside quotes, comments and $$ bodies."""
    out, start = [], 0
    for m in _TOKENS.finditer(sql):
        if m.group() == ";":
            out.append(sql[start : m.start()])
            start = m.end()
    out.append(sql[start:])
    return [s.strip() for s in out if _code(s)]


_NO_ROWS = {"create", "insert", "update", "delete", "copy", "drop", "alter", "attach", "detach", "set", "load", "install",
            "truncate", "grant", "revoke", "begin", "commit", "rollback", "use", "checkpoint", "vacuum"}


def returns_rows(statement: str) -> bool:
    """False for statements whose only result is a row count (DuckDB answers CREATE/COPY with one 'Count' row)."""
    code = re.sub(r"--[^\n]*|/\*.*?\*/", " ", statement, flags=re.S).strip().lower()
    first = code.split(None, 1)[0] if code else ""
    return first not in _NO_ROWS or " returning " in f" {code} "


def _code(statement: str) -> bool:
    """True when a piece holds more than comments and blanks."""
    return bool(re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S).strip())


# --- values ------------------------------------------------------------------------------------------


def _duration(value: dt.timedelta) -> str:
    total = value.total_seconds()
    days, rest = divmod(abs(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{'-' if total < 0 else ''}P{int(days)}DT{int(hours)}H{int(minutes)}M{seconds:g}S"
    return text


class Values:
    """Turns driver values into what outputs (JSON) and Ion files hold, in the task's time zone."""

    def __init__(self, zone_id: str | None):
        self.zone = time_zone(zone_id) if zone_id else None

    def _moment(self, value: dt.datetime) -> dt.datetime:
        return value.astimezone(self.zone) if self.zone is not None and value.tzinfo is not None else value

    def for_ion(self, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return self._moment(value)
        if isinstance(value, memoryview):
            return value.tobytes()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, dt.timedelta):
            return _duration(value)
        if isinstance(value, (list, tuple)):
            return [self.for_ion(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.for_ion(v) for k, v in value.items()}
        return value

    def for_output(self, value: Any) -> Any:
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
        if isinstance(value, dt.datetime):
            return self._moment(value).isoformat()
        if isinstance(value, (dt.date, dt.time)):
            return value.isoformat()
        if isinstance(value, dt.timedelta):
            return _duration(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(value)).decode("ascii")
        if isinstance(value, (list, tuple)):
            return [self.for_output(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.for_output(v) for k, v in value.items()}
        return str(value)


# --- errors ------------------------------------------------------------------------------------------


def reason(exc: BaseException) -> str:
    """The server's or driver's answer in one line (pymysql's (code, text) tuples too)."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]
    else:
        text = str(orig)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(("HINT", "LINE", "^"))]
    text = " ".join(lines) or type(orig).__name__
    text = re.sub(r"\s+", " ", re.sub(r"\(Background on this error at:.*?\)", "", text)).strip()
    return text[:400]


def failure(task_id: str, phase: str, target: Target, exc: BaseException) -> TaskFailed:
    if phase == "connect":
        return TaskFailed(f"{task_id}: cannot connect to {target.where}: {reason(exc)}")
    return TaskFailed(f"{task_id}: the SQL failed on {target.where}: {reason(exc)}")


# --- running -----------------------------------------------------------------------------------------


@contextmanager
def connect(task_id: str, target: Target, kill_event: threading.Event) -> Iterator[Any]:
    """An open SQLAlchemy connection (no pool), cancelled on kill/timeout, closed at the end."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    engine = create_engine(target.url, poolclass=NullPool)
    try:
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise failure(task_id, "connect", target, exc) from None
        done = threading.Event()
        watcher = threading.Thread(target=_cancel_on_kill, args=(conn, kill_event, done), daemon=True)
        watcher.start()
        try:
            yield conn
        finally:
            done.set()
            try:
                conn.close()
            except SQLAlchemyError:
                pass
    finally:
        engine.dispose()


def _cancel_on_kill(conn: Any, kill_event: threading.Event, done: threading.Event) -> None:
    while not done.is_set():
        if kill_event.wait(0.2):
            raw = getattr(getattr(conn, "connection", None), "dbapi_connection", None)
            for name in ("cancel", "interrupt"):
                method = getattr(raw, name, None) or getattr(getattr(raw, "_ConnectionWrapper__c", None), name, None)
                if callable(method):
                    try:
                        method()
                    except Exception:  # noqa: BLE001 - the statement may have ended meanwhile
                        pass
                    return
            return


def execute(conn: Any, statement: str, parameters: dict[str, Any] | None, stream: bool, fetch_size: int) -> Any:
    """Run one statement; ``:name`` placeholders are bound from ``parameters`` (Kestra's named parameters)."""
    from sqlalchemy import text

    options = {"stream_results": True, "max_row_buffer": fetch_size} if stream else {}
    if parameters:
        return conn.execution_options(**options).execute(text(statement), parameters)
    return conn.execution_options(**options).exec_driver_sql(statement)


def collect(result: Any, fetch_type: str, values: Values, store: Callable[[Path], str] | None, tmp: Path, index: int,
            check: Callable[[], None]) -> dict[str, Any] | None:
    """The outputs of one statement's rows (None when it returns none)."""
    if not result.returns_rows:
        return None
    columns = [str(c) for c in result.keys()]
    if fetch_type == "NONE":
        result.close()
        return {}
    if fetch_type == "FETCH_ONE":
        first = result.fetchone()
        result.close()
        row = None if first is None else dict(zip(columns, (values.for_output(v) for v in first), strict=True))
        return {"row": row, "size": 0 if first is None else 1}
    if fetch_type == "FETCH":
        rows = [dict(zip(columns, (values.for_output(v) for v in r), strict=True)) for r in result]
        return {"rows": rows, "size": len(rows)}
    path = tmp / f"result-{index}.ion" if index else tmp / "result.ion"
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        writer = IonWriter(fh)
        for r in result:
            writer.write(dict(zip(columns, (values.for_ion(v) for v in r), strict=True)))
            if writer.count % 10_000 == 0:
                check()
    assert store is not None
    return {"uri": store(path), "size": writer.count}
