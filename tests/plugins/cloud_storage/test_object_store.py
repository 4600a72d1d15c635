"""The provider-neutral core on fsspec's in-memory file system: what GCS (gcsfs) and Azure Blob (adlfs) get,
since they go through the generic paths S3 overrides (listing, download, upload, copy, delete)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from fsspec.implementations.memory import MemoryFileSystem
from lanner_cloud_storage import objects
from lanner_cloud_storage.errors import StorageFailure
from lanner_cloud_storage.objects import Listing, ObjectStore

from engine.sdk import TaskFailed
from tests.plugins.cloud_storage.helpers import S3Server


@pytest.fixture
def store() -> tuple[ObjectStore, str]:
    fs = MemoryFileSystem()
    bucket = f"b{uuid.uuid4().hex[:10]}"
    for key, body in {"in/a.csv": b"a", "in/b.csv": b"bb", "in/sub/c.csv": b"ccc", "in/notes.txt": b"n", "out/x.csv": b"x"}.items():
        fs.pipe(f"/{bucket}/{key}", body)
    return ObjectStore(fs, task="t"), bucket


def test_listing_applies_prefix_delimiter_marker_regexp_filter_and_max_keys(store: tuple[ObjectStore, str]) -> None:
    s, bucket = store
    keys = lambda **kw: [o["key"] for o in s.list(bucket, Listing(**kw))]  # noqa: E731
    assert keys(prefix="in/") == ["in/a.csv", "in/b.csv", "in/notes.txt", "in/sub/c.csv"]
    assert keys(prefix="in/", regexp=r".*\.csv") == ["in/a.csv", "in/b.csv", "in/sub/c.csv"]
    assert keys(prefix="in/", regexp=r"\.csv") == []  # the whole key must match, like Java's String.matches
    assert keys(prefix="in/", delimiter="/") == ["in/a.csv", "in/b.csv", "in/notes.txt", "in/sub/"]
    assert keys(prefix="in/", delimiter="/", filter="DIRECTORY") == ["in/sub/"]
    assert keys(prefix="in/", delimiter="/", filter="FILES") == ["in/a.csv", "in/b.csv", "in/notes.txt"]
    assert keys(prefix="in/", marker="in/b.csv") == ["in/notes.txt", "in/sub/c.csv"]
    assert keys(prefix="in/", max_keys=2) == ["in/a.csv", "in/b.csv"]
    assert keys(prefix="in/b") == ["in/b.csv"]
    assert s.list(bucket, Listing(prefix="out/"))[0]["size"] == 1


def test_transfers_copies_moves_and_deletes(store: tuple[ObjectStore, str], tmp_path: Path) -> None:
    s, bucket = store
    s.upload(io.BytesIO(b"new data"), bucket, "up/new.bin")
    dest = tmp_path / "got"
    s.download(bucket, "up/new.bin", dest)
    assert dest.read_bytes() == b"new data"
    s.copy(bucket, "up/new.bin", bucket, "copy/new.bin")
    s.move(bucket, "in/a.csv", bucket, "done/a.csv")
    s.delete(bucket, "in/b.csv")
    assert [o["key"] for o in s.list(bucket, Listing())] == [
        "copy/new.bin", "done/a.csv", "in/notes.txt", "in/sub/c.csv", "out/x.csv", "up/new.bin"]


def test_a_missing_object_or_a_bad_regexp_fails_in_one_sentence(store: tuple[ObjectStore, str], tmp_path: Path) -> None:
    s, bucket = store
    with pytest.raises(StorageFailure) as missing:
        s.download(bucket, "in/none.csv", tmp_path / "x")
    assert missing.value.reason == "missing" and missing.value.message.startswith(f"t: ://{bucket}/in/none.csv does not exist")
    with pytest.raises(TaskFailed, match=r"t: regexp '\(' is not a valid regular expression"):
        s.list(bucket, Listing(regexp="("))


def test_a_killed_s3_upload_commits_nothing(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the S3 server: an upload killed between two chunks leaves no object (nor a half one) behind."""
    import s3fs
    from lanner_cloud_storage.s3_store import S3Store

    bucket = s3_server.bucket()
    fs = s3fs.S3FileSystem(key=s3_server.access_key, secret=s3_server.secret_key, endpoint_url=s3_server.endpoint,
                           skip_instance_cache=True)
    monkeypatch.setattr(objects, "CHUNK", 4)
    checks = iter([False, True])
    store = S3Store(fs, task="t", killed=lambda: next(checks))
    with pytest.raises(TaskFailed, match="Killed"):
        store.upload(io.BytesIO(b"0123456789abcdef"), bucket, "up/partial.bin")
    assert s3_server.keys(bucket) == []
