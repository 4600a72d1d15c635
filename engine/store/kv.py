"""Key-value store per namespace: ``/api/v1/namespaces/{ns}/kv/{key}`` and ``{{ kv('key') }}``.

Values are JSON documents kept in the same database as flows and executions
(one table defined on the shared ``metadata`` of :mod:`engine.store.sql`), so a
flow sees the value the API wrote in the same transaction order, on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from engine.model.ids import now_iso
from engine.store.sql import SqlStore
from engine.store.tables import kv_entries

KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
MAX_VALUE_BYTES = 1024 * 1024



class KvError(ValueError):
    """A refused key or value; the message is meant for users."""


class KvMissing(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class KvEntry:
    namespace: str
    key: str
    value: Any
    type: str
    updated: str

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "key": self.key, "type": self.type, "value": self.value, "updated": self.updated}


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise KvError(f"kv key {key!r} is invalid: use up to 255 letters, digits, '.', '_' and '-', starting with a letter or digit")
    return key


def type_of(value: Any) -> str:
    """Kestra's KV type names."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, (int, float)):
        return "NUMBER"
    if isinstance(value, str):
        return "STRING"
    return "JSON"


class KvStore:
    """Namespace-scoped values in the shared SQL store."""

    def __init__(self, store: SqlStore):
        self.store = store

    def put(self, namespace: str, key: str, value: Any) -> KvEntry:
        check_key(key)
        text = json.dumps(value, separators=(",", ":"), default=str)
        if len(text.encode()) > MAX_VALUE_BYTES:
            raise KvError(f"kv value of {key!r} is larger than 1 MiB; store big data as a namespace file instead")
        row = {"value": text, "type": type_of(value), "updated": now_iso()}
        with self.store.engine.begin() as conn:
            n = conn.execute(
                update(kv_entries).where(kv_entries.c.namespace == namespace, kv_entries.c.key == key).values(**row)
            ).rowcount
            if not n:
                conn.execute(insert(kv_entries).values(namespace=namespace, key=key, **row))
        return KvEntry(namespace, key, value, row["type"], row["updated"])

    def get(self, namespace: str, key: str) -> KvEntry | None:
        check_key(key)
        with self.store.read_engine.begin() as conn:
            r = conn.execute(select(kv_entries).where(kv_entries.c.namespace == namespace, kv_entries.c.key == key)).first()
        if r is None:
            return None
        return KvEntry(r.namespace, r.key, json.loads(r.value), r.type, r.updated)

    def delete(self, namespace: str, key: str) -> bool:
        check_key(key)
        with self.store.engine.begin() as conn:
            n = conn.execute(delete(kv_entries).where(kv_entries.c.namespace == namespace, kv_entries.c.key == key)).rowcount
        return bool(n)

    def list(self, namespace: str) -> list[KvEntry]:
        with self.store.read_engine.begin() as conn:
            rows = conn.execute(select(kv_entries).where(kv_entries.c.namespace == namespace).order_by(kv_entries.c.key)).all()
        return [KvEntry(r.namespace, r.key, json.loads(r.value), r.type, r.updated) for r in rows]

    def namespaces(self) -> list[str]:
        with self.store.read_engine.begin() as conn:
            return [r[0] for r in conn.execute(select(kv_entries.c.namespace).distinct())]


def kv_function(store: SqlStore, namespace: str) -> Callable[..., Any]:
    """The ``kv()`` function of expressions, bound to the flow's namespace.

    ``kv('key')`` returns the value; ``kv('key', errorOnMissing=false)`` returns
    None for a missing key. Another namespace's keys are never readable.
    """
    kv = KvStore(store)

    def read(key: Any, namespace_arg: Any = None, errorOnMissing: bool = True, **kwargs: Any) -> Any:  # noqa: N803 - Kestra's name
        ns = kwargs.pop("namespace", namespace_arg)
        if ns is not None and str(ns) != namespace:
            raise KvError(f"kv(): a flow of namespace {namespace!r} may not read keys of namespace {ns!r}")
        entry = kv.get(namespace, str(key))
        if entry is None:
            if not errorOnMissing or not kwargs.get("error_on_missing", True):
                return None
            raise KvMissing(f"kv(): key {key!r} does not exist in namespace {namespace!r}; set it with PUT /api/v1/namespaces/{namespace}/kv/{key}")
        return entry.value

    return read
