"""Riding out a database that goes away for a while (PostgreSQL restart, failover, network blip).

The runner commits every batch of state changes before it acts on them. When
that commit fails because the connection broke, dropping the batch would lose
worker results (their task runs would stay RUNNING in the store while the
process believes them done). Instead the commit is retried, with backoff, until
the database answers again: the loop simply pauses, workers that print wait on
the bounded log buffer, and nothing is acted on before it is stored. A failed
transaction was rolled back as a whole, so writing the same batch again is safe.

``pool_pre_ping`` on the engine replaces the dead pooled connections on the
next checkout, so no manual action is needed once the server is back.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable

#: Longest pause between two attempts (seconds).
MAX_BACKOFF = 2.0


def is_transient(exc: BaseException) -> bool:
    """A lost or refused connection (worth retrying), not a bad statement or a constraint violation.

    SQLAlchemy's errors, or the ``sqlite3`` module's own from the native SQLite
    store (engine/store/sqlite_native.py), which SQLAlchemy would have wrapped
    in the same classes. SQLAlchemy is not imported for that: an error of it
    can only exist once it is.
    """
    if isinstance(exc, sqlite3.OperationalError | sqlite3.InterfaceError):
        return True
    if "sqlalchemy.exc" not in sys.modules:
        return False
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def retry_transient[T](fn: Callable[[], T], *, stop: threading.Event | None = None, what: str = "store write") -> T:
    """Call ``fn`` until it succeeds; transient database errors are retried until ``stop`` is set."""
    delay = 0.1
    failures = 0
    while True:
        try:
            result = fn()
        except Exception as exc:
            if not is_transient(exc) or (stop is not None and stop.is_set()):
                raise
            failures += 1
            if failures == 1 or failures % 20 == 0:
                first = f"{type(exc).__name__}: {exc}".splitlines()[0]
                print(f"lanner: {what} failed ({first}); retrying until the database is back", file=sys.stderr, flush=True)
            time.sleep(delay)
            delay = min(MAX_BACKOFF, delay * 2)
            continue
        if failures:
            print(f"lanner: {what} succeeded again after {failures} failed attempt(s)", file=sys.stderr, flush=True)
        return result
