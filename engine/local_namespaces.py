"""Namespaces, namespace files and the key-value store of the in-process Engine (a part of LocalEngine)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.model.validation import FlowError
from engine.service import Invalid, NotFound, check_namespace, invalid
from engine.storage import StorageError

if TYPE_CHECKING:
    from engine.model.views_workspace import KvEntry, NamespaceFile, NamespaceInfo
    from engine.storage import InternalStorage
    from engine.store.kv import KvStore
    from engine.store.sql import SqlStore


class NamespaceOps:
    """What LocalEngine answers about namespaces: their tree, their files and their key-value entries."""

    if TYPE_CHECKING:  # provided by LocalEngine
        @property
        def store(self) -> SqlStore: ...

        @property
        def storage(self) -> InternalStorage: ...

        @property
        def kv(self) -> KvStore: ...

        def mask(self, data: object) -> Any: ...

    def namespaces(self) -> list[NamespaceInfo]:
        from engine.model.views_workspace import NamespaceInfo
        counts: dict[str, int] = {}
        for rec in self.store.list_flows():
            counts[rec.namespace] = counts.get(rec.namespace, 0) + 1
        names = set(counts) | set(self.kv.namespaces())
        for name in list(names):
            parts = name.split(".")
            names.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return [NamespaceInfo(id=n, parent=n.rpartition(".")[0] or None, flow_count=counts.get(n, 0)) for n in sorted(names)]

    def namespace_files(self, namespace: str, prefix: str = "") -> list[NamespaceFile]:
        from engine.model.views_workspace import NamespaceFile
        storage = self.storage
        with _storage_errors():
            names = storage.namespace_files_list(check_namespace(namespace), prefix)
            return [NamespaceFile(path=n, size=storage.namespace_files_size(namespace, n)) for n in names]

    def read_namespace_file(self, namespace: str, path: str) -> bytes:
        storage = self.storage
        with _storage_errors():
            return storage.namespace_files_get(check_namespace(namespace), path)

    def write_namespace_file(self, namespace: str, path: str, data: bytes) -> NamespaceFile:
        from engine.model.views_workspace import NamespaceFile
        storage = self.storage
        check_namespace(namespace)
        if any(len(part.encode()) > 255 for part in path.split("/")):
            raise invalid("path", "path: each part of a namespace file path must be at most 255 bytes",
                          "a path segment is longer than 255 bytes")
        with _storage_errors():
            return NamespaceFile(path=storage.namespace_files_put(namespace, path, data), size=len(data))

    def upload_namespace_dir(self, namespace: str, directory: Path) -> list[NamespaceFile]:
        from engine.model.views_workspace import NamespaceFile
        storage = self.storage
        with _storage_errors("directory"):
            names = storage.upload_namespace_dir(check_namespace(namespace), Path(directory))
            return [NamespaceFile(path=n, size=storage.namespace_files_size(namespace, n)) for n in names]

    def delete_namespace_file(self, namespace: str, path: str) -> None:
        storage = self.storage
        with _storage_errors():
            storage.namespace_files_delete(check_namespace(namespace), path)

    def kv_list(self, namespace: str) -> list[KvEntry]:
        return [self._kv_view(e.to_dict()) for e in self.kv.list(check_namespace(namespace))]

    def kv_get(self, namespace: str, key: str) -> KvEntry | None:
        with _kv_errors():
            entry = self.kv.get(check_namespace(namespace), key)
        return None if entry is None else self._kv_view(entry.to_dict())

    def kv_put(self, namespace: str, key: str, value: object, *, ttl: str | None = None) -> KvEntry:
        from engine.model.durations import parse_duration

        lifetime = None
        if ttl:
            try:
                lifetime = parse_duration(ttl)
            except (ValueError, TypeError):
                raise invalid("ttl", f"ttl {ttl!r} is not an ISO-8601 duration such as PT1H or P7D",
                              "not an ISO-8601 duration") from None
        with _kv_errors():
            return self._kv_view(self.kv.put(check_namespace(namespace), key, value, ttl=lifetime).to_dict())

    def kv_delete(self, namespace: str, key: str) -> None:
        with _kv_errors():
            if not self.kv.delete(check_namespace(namespace), key):
                raise NotFound(f"namespace {namespace} has no key {key!r}")

    def _kv_view(self, data: dict[str, Any]) -> KvEntry:
        from engine.model.views_workspace import KvEntry
        return KvEntry.model_validate(self.mask(data))


@contextmanager
def _storage_errors(field: str = "path") -> Iterator[None]:
    """Storage refusals as engine errors: a missing file is NotFound, a bad path or a failed write Invalid."""
    try:
        yield
    except OSError as exc:
        message = f"{field}: the file cannot be stored ({exc.strerror or exc})"
        raise Invalid(message, [FlowError(field, message)]) from None
    except StorageError as exc:
        message = str(exc)
        if "has no file" in message or "does not exist" in message:
            raise NotFound(message) from None
        raise invalid(field, message) from None


@contextmanager
def _kv_errors() -> Iterator[None]:
    from engine.store.kv import KvError

    try:
        yield
    except KvError as exc:
        raise invalid("key", str(exc)) from None
