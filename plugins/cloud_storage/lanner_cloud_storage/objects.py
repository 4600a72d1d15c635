"""The provider-neutral core: one bucket (or container) of an fsspec file system, as Kestra's tasks use it.

Every provider (S3 through s3fs, GCS through gcsfs, Azure Blob through adlfs)
goes through :class:`ObjectStore`: listing with Kestra's filters (``prefix``,
``delimiter``, ``marker``, a ``regexp`` matched against the whole key like
Java's ``String.matches``, ``filter`` FILES / DIRECTORY / BOTH, ``maxKeys``),
transfers streamed in chunks between the store and local files (so a large
object never sits in memory, and a kill or the task's ``timeout`` stops a
transfer between two chunks without committing a partial object), copies and
deletes. Every call runs under :func:`~lanner_cloud_storage.errors.storage_errors`,
so a failure is one sentence naming the task, the object and what to check.
A provider subclass overrides only what its SDK does better (S3 lists with
``ListObjectsV2`` to honour ``maxKeys`` and ``marker`` on the server).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from engine.sdk import TaskFailed
from lanner_cloud_storage.errors import storage_errors

#: Bytes moved between two checks of kill / timeout.
CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Listing:
    """Which objects a list, a multi-download, a delete-list or a trigger takes (Kestra's ``ListInterface``)."""

    prefix: str = ""
    delimiter: str | None = None
    marker: str | None = None
    regexp: str | None = None
    filter: str = "BOTH"
    max_keys: int = 1000
    encoding_type: str | None = None
    expected_bucket_owner: str | None = None
    request_payer: str | None = None
    all_versions: bool = False


def compile_regexp(pattern: str | None, field: str, task: str) -> Callable[[str], bool] | None:
    """A full-match test for ``pattern`` (RE2: linear time whatever the key); a bad pattern fails in one sentence."""
    if not pattern:
        return None
    import re2

    try:
        compiled = re2.compile(pattern)
    except Exception as exc:  # noqa: BLE001 - re2 raises its own error class
        raise TaskFailed(f"{task}: {field} {pattern!r} is not a valid regular expression ({exc})") from None
    return lambda key: compiled.fullmatch(key) is not None


def iso(value: Any) -> str | None:
    """A listing's timestamp as ISO-8601 UTC (SDKs give datetimes, sometimes strings)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


class ObjectStore:
    """Objects of one provider, reached through an fsspec file system (paths are ``bucket/key``)."""

    provider = "object storage"
    scheme = ""
    credential_fields = "the credentials"
    #: What to check when the endpoint is out of reach.
    endpoint_fields = "endpointOverride, region"

    def __init__(self, fs: Any, *, task: str, endpoint: str | None = None, killed: Callable[[], bool] | None = None):
        self.fs = fs
        self.task = task
        self.endpoint = endpoint
        self._killed = killed or (lambda: False)

    # -- naming and errors --

    def url(self, bucket: str, key: str = "") -> str:
        return f"{self.scheme}://{bucket}/{key}" if key else f"{self.scheme}://{bucket}"

    def guard(self, action: str, target: str) -> AbstractContextManager[None]:
        """Failures inside become one sentence: ``<task>: S3 at <endpoint> refused the credentials while <action> <target> ...``."""
        return storage_errors(task=self.task, provider=self.provider, action=action, target=target,
                              endpoint=self.endpoint, credential_fields=self.credential_fields, endpoint_fields=self.endpoint_fields)

    def check_killed(self) -> None:
        if self._killed():
            raise TaskFailed("Killed")

    # -- listing --

    def list(self, bucket: str, listing: Listing) -> list[dict[str, Any]]:
        """Objects of ``bucket`` as Kestra describes them (key, etag, size, lastModified...), filtered, at most ``maxKeys``."""
        matches = compile_regexp(listing.regexp, "regexp", self.task)
        with self.guard("listing", self.url(bucket, listing.prefix)):
            raw = self._list(bucket, listing)
        out = []
        for entry in raw:
            key = entry["key"]
            is_dir = bool(entry.pop("directory", False)) or key.endswith("/")
            if listing.filter == "FILES" and is_dir or listing.filter == "DIRECTORY" and not is_dir:
                continue
            if matches is not None and not matches(self.regexp_subject(bucket, key)):
                continue
            out.append({name: value for name, value in entry.items() if value is not None})
        return out

    def regexp_subject(self, bucket: str, key: str) -> str:
        """What ``regexp`` must match as a whole: the key (GCS matches the ``gs://`` URI, like Kestra)."""
        return key

    def _list(self, bucket: str, listing: Listing) -> list[dict[str, Any]]:
        """Generic listing through ``fs.find`` under the prefix's folder (providers override it where the SDK does better)."""
        folder = listing.prefix.rpartition("/")[0]
        root = f"{bucket}/{folder}" if folder else bucket
        found = self.fs.find(root, detail=True, withdirs=listing.delimiter is not None,
                             maxdepth=1 if listing.delimiter else None)
        entries = []
        for name, info in sorted(found.items()):
            path = name.lstrip("/")
            key = path[len(bucket) + 1:] if path.startswith(bucket + "/") else ""
            if not key or not key.startswith(listing.prefix) or (listing.marker and key <= listing.marker):
                continue
            directory = info.get("type") == "directory"
            entries.append({
                "key": key + "/" if directory and not key.endswith("/") else key,
                "etag": info.get("ETag") or info.get("etag"),
                "size": int(info.get("size") or 0),
                "lastModified": iso(info.get("LastModified") or info.get("updated") or info.get("last_modified")
                                    or info.get("created")),
                "directory": directory,
            })
            if len(entries) >= listing.max_keys:
                break
        return entries

    # -- transfers --

    def download(self, bucket: str, key: str, dest: Path, **open_kwargs: Any) -> dict[str, Any]:
        """Stream one object into ``dest``; what the store said about it (fsspec ``details``)."""
        with self.guard("downloading", self.url(bucket, key)):
            with self.fs.open(f"{bucket}/{key}", "rb", **open_kwargs) as src, dest.open("wb") as out:
                details = dict(getattr(src, "details", None) or {})
                for chunk in _chunks(src):
                    self.check_killed()
                    out.write(chunk)
        return details

    def upload(self, source: IO[bytes], bucket: str, key: str, **open_kwargs: Any) -> int:
        """Stream ``source`` into a new object; nothing is committed when it fails or is killed half-way."""
        size = 0
        with self.guard("uploading to", self.url(bucket, key)):
            out = self.fs.open(f"{bucket}/{key}", "wb", **open_kwargs)
            try:
                for chunk in _chunks(source):
                    self.check_killed()
                    out.write(chunk)
                    size += len(chunk)
                out.close()
            except BaseException:
                _discard(out)
                raise
        return size

    def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, **kwargs: Any) -> None:
        with self.guard("copying", f"{self.url(src_bucket, src_key)} to {self.url(dst_bucket, dst_key)}"):
            self.fs.copy(f"{src_bucket}/{src_key}", f"{dst_bucket}/{dst_key}", **kwargs)

    def delete(self, bucket: str, key: str, **kwargs: Any) -> dict[str, Any]:
        with self.guard("deleting", self.url(bucket, key)):
            self.fs.rm_file(f"{bucket}/{key}", **kwargs)
        return {}

    def move(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> None:
        """Copy then delete (object stores have no rename)."""
        self.copy(bucket, key, dst_bucket, dst_key)
        self.delete(bucket, key)

    def head(self, bucket: str, key: str) -> dict[str, Any]:
        with self.guard("reading", self.url(bucket, key)):
            return dict(self.fs.info(f"{bucket}/{key}"))

    def close(self) -> None:
        """Let go of the file system's connections (fsspec closes its session when the object goes)."""
        self.fs = None


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _discard(handle: Any) -> None:
    """Abort a file being written (a multipart upload is aborted, a buffered one dropped), never commit it."""
    try:
        handle.discard()
    except Exception:  # noqa: BLE001 - best effort: the failure that got us here is what the user reads
        pass
    try:
        handle.closed = True  # so that garbage collection does not commit what was buffered
    except Exception:  # noqa: BLE001
        pass
