"""Key-value store per namespace: ``/api/v1/namespaces/{ns}/kv/{key}`` and ``{{ kv('key') }}``.

Values are JSON documents kept in the same database as flows and executions
(one table defined on the shared ``metadata`` of :mod:`engine.store.sql`), so a
flow sees the value the API wrote in the same transaction order, on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import builtins
import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, insert, or_, select, update

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
    expiration: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"namespace": self.namespace, "key": self.key, "type": self.type, "value": self.value, "updated": self.updated}
        if self.expiration:
            out["expirationDate"] = self.expiration
        return out


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise KvError(f"kv key {key!r} is invalid: use up to 255 letters, digits, '.', '_' and '-', starting with a letter or digit")
    return key


def type_of(value: object) -> str:
    """Kestra's KV type names."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, (int, float)):
        return "NUMBER"
    if isinstance(value, str):
        return "STRING"
    return "JSON"


def _now() -> str:
    """The current UTC time as stored in ``expiration`` (fixed width, so texts compare as times)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _live(now: str) -> Any:
    """SQL condition: the entry has not expired at ``now``."""
    return or_(kv_entries.c.expiration.is_(None), kv_entries.c.expiration > now)


def _entry(r: Row[Any]) -> KvEntry:
    return KvEntry(r.namespace, r.key, json.loads(r.value), r.type, r.updated, r.expiration)


def in_namespaces(namespace: str, roots: list[str], include_children: bool) -> bool:
    """``namespace`` is one of ``roots`` (or, with ``include_children``, below one of them)."""
    return any(namespace == root or (include_children and namespace.startswith(root + ".")) for root in roots)


class KvStore:
    """Namespace-scoped values in the shared SQL store; a value may expire (its ``ttl``)."""

    def __init__(self, store: SqlStore):
        self.store = store

    def put(
        self, namespace: str, key: str, value: object, *, type: str | None = None, ttl: timedelta | None = None, overwrite: bool = True
    ) -> KvEntry:
        check_key(key)
        text = json.dumps(value, separators=(",", ":"), default=str)
        if len(text.encode()) > MAX_VALUE_BYTES:
            raise KvError(f"kv value of {key!r} is larger than 1 MiB; store big data as a namespace file instead")
        if ttl is not None and ttl.total_seconds() <= 0:
            raise KvError(f"kv key {key!r}: ttl must be a positive duration such as PT1H")
        now = datetime.now(UTC)
        expiration = (now + ttl).isoformat(timespec="microseconds") if ttl is not None else None
        kind, updated = type or type_of(value), now_iso()
        row = {"value": text, "type": kind, "updated": updated, "expiration": expiration}
        with self.store.engine.begin() as conn:
            where = (kv_entries.c.namespace == namespace, kv_entries.c.key == key)
            if not overwrite:
                live = conn.execute(select(kv_entries.c.key).where(*where, _live(now.isoformat(timespec="microseconds")))).first()
                if live is not None:
                    raise KvError(f"kv key {key!r} already exists in namespace {namespace!r} and overwrite is false")
            n = conn.execute(update(kv_entries).where(*where).values(**row)).rowcount
            if not n:
                conn.execute(insert(kv_entries).values(namespace=namespace, key=key, **row))
        return KvEntry(namespace, key, value, kind, updated, expiration)

    def get(self, namespace: str, key: str) -> KvEntry | None:
        """The live value of ``key`` (an expired one reads as missing)."""
        check_key(key)
        now = _now()
        with self.store.read_engine.begin() as conn:
            r = conn.execute(
                select(kv_entries).where(kv_entries.c.namespace == namespace, kv_entries.c.key == key, _live(now))
            ).first()
        return None if r is None else _entry(r)

    def delete(self, namespace: str, key: str) -> bool:
        check_key(key)
        with self.store.engine.begin() as conn:
            n = conn.execute(delete(kv_entries).where(kv_entries.c.namespace == namespace, kv_entries.c.key == key)).rowcount
        return bool(n)

    def list(self, namespace: str) -> list[KvEntry]:
        now = _now()
        with self.store.read_engine.begin() as conn:
            rows = conn.execute(
                select(kv_entries).where(kv_entries.c.namespace == namespace, _live(now)).order_by(kv_entries.c.key)
            ).all()
        return [_entry(r) for r in rows]

    def namespaces(self) -> builtins.list[str]:
        with self.store.read_engine.begin() as conn:
            return [r[0] for r in conn.execute(select(kv_entries.c.namespace).distinct())]

    def purge(
        self,
        namespaces: builtins.list[str] | None = None,
        *,
        namespace_glob: str | None = None,
        key_glob: str | None = None,
        include_children: bool = True,
        expired_only: bool = True,
    ) -> int:
        """Delete the keys of some namespaces (all when none is named); only expired ones by default."""
        now = _now()
        with self.store.engine.begin() as conn:
            q = select(kv_entries.c.namespace, kv_entries.c.key)
            if expired_only:
                q = q.where(kv_entries.c.expiration.is_not(None), kv_entries.c.expiration <= now)
            doomed = [
                (r.namespace, r.key)
                for r in conn.execute(q)
                if (namespaces is None or in_namespaces(r.namespace, namespaces, include_children))
                and (namespace_glob is None or fnmatch.fnmatchcase(r.namespace, namespace_glob))
                and (key_glob is None or fnmatch.fnmatchcase(r.key, key_glob))
            ]
            for ns, key in doomed:
                conn.execute(delete(kv_entries).where(kv_entries.c.namespace == ns, kv_entries.c.key == key))
        return len(doomed)


def kv_function(store: SqlStore, namespace: str) -> Callable[..., Any]:
    """The ``kv()`` function of expressions, bound to the flow's namespace.

    ``kv('key')`` returns the value; ``kv('key', errorOnMissing=false)`` returns
    None for a missing key; ``kv('key', 'company')`` reads a namespace above the
    flow's (as the kv tasks may). A sibling's keys are never readable.
    """
    kv = KvStore(store)

    def read(key: object, namespace_arg: object = None, errorOnMissing: bool = True, **kwargs: object) -> Any:  # noqa: N803 - Kestra's name
        ns = kwargs.pop("namespace", namespace_arg)
        target = namespace if ns is None else str(ns)
        if target != namespace and not namespace.startswith(target + "."):
            raise KvError(
                f"kv(): a flow of namespace {namespace!r} may read the keys of its own namespace and of those above it, not of {target!r}"
            )
        entry = kv.get(target, str(key))
        if entry is None:
            if not errorOnMissing or not kwargs.get("error_on_missing", True):
                return None
            raise KvMissing(f"kv(): key {key!r} does not exist in namespace {target!r}; set it with PUT /api/v1/namespaces/{target}/kv/{key}")
        return entry.value

    return read
