"""Internal storage on a real directory: files, isolation, traversal, namespace files, read()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.storage import READ_LIMIT, InternalStorage, StorageError, make_read_function


@pytest.fixture
def storage(tmp_path: Path) -> InternalStorage:
    return InternalStorage(tmp_path / "storage")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "src.csv"
    path.write_text("a,b\n1,2\n")
    return path


def test_task_file_round_trip(storage: InternalStorage, src: Path) -> None:
    uri = storage.put_task_file("company.team", "flow1", "ex1", "t1", "tr1", src, "out/result.csv")
    assert uri == "lanner:///company.team/flow1/executions/ex1/tasks/t1/tr1/out/result.csv"
    assert storage.read_text(uri, namespace="company.team") == "a,b\n1,2\n"
    assert storage.read_bytes(uri, namespace="company.team") == b"a,b\n1,2\n"
    with storage.open(uri, namespace="company.team") as fh:
        assert fh.read() == b"a,b\n1,2\n"
    assert storage.exists(uri, "company.team")
    assert storage.size(uri) == 8
    local = storage.local_path(uri, "company.team")
    assert local is not None and local.read_text() == "a,b\n1,2\n"
    # the namespace dots are kept as one folder
    assert (Path(storage.root) / "company.team" / "flow1" / "executions" / "ex1").is_dir()


def test_input_file_and_put_bytes(storage: InternalStorage, src: Path) -> None:
    uri = storage.put_input_file("a.b", "f", "ex9", "data", src)
    assert uri == "lanner:///a.b/f/executions/ex9/inputs/data/src.csv"
    assert storage.read_text(uri, namespace="a.b").startswith("a,b")
    other = storage.put_bytes("lanner:///a.b/f/executions/ex9/tasks/t/r/x.bin", b"\x00\x01", namespace="a.b")
    assert storage.read_bytes(other, namespace="a.b") == b"\x00\x01"


def test_max_bytes_is_enforced(storage: InternalStorage, src: Path) -> None:
    uri = storage.put_task_file("a", "f", "e", "t", "r", src, "x.csv")
    with pytest.raises(StorageError, match="more than"):
        storage.read_bytes(uri, namespace="a", max_bytes=4)


def test_namespaces_are_isolated(storage: InternalStorage, src: Path) -> None:
    uri = storage.put_task_file("company.team", "f", "e", "t", "r", src, "x.csv")
    for other in ("company", "company.team.sub", "other"):
        with pytest.raises(StorageError, match="belongs to namespace 'company.team'"):
            storage.read_bytes(uri, namespace=other)
        with pytest.raises(StorageError):
            storage.exists(uri, other)
        with pytest.raises(StorageError):
            storage.put_bytes(uri, b"overwrite", namespace=other)
    assert storage.read_text(uri, namespace="company.team") == src.read_text()


def test_missing_file_is_a_clear_error(storage: InternalStorage) -> None:
    uri = "lanner:///a/f/executions/e/tasks/t/r/none.csv"
    assert not storage.exists(uri, "a")
    with pytest.raises(StorageError, match="does not exist"):
        storage.read_bytes(uri, namespace="a")


@pytest.mark.parametrize(
    "uri",
    [
        "lanner:///a/f/executions/e/../../../../secret.txt",
        "lanner:///a/f/executions/e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "lanner:///a/f/executions/e/tasks/..%2f..%2f..%2f..%2fsecret.txt",
        "lanner:////" + "secret.txt",
    ],
)
def test_traversal_never_reads_outside(storage: InternalStorage, tmp_path: Path, uri: str) -> None:
    (tmp_path / "secret.txt").write_text("top secret")
    with pytest.raises(StorageError):
        storage.read_bytes(uri, namespace="a")


def test_put_task_file_refuses_escaping_names(storage: InternalStorage, src: Path, tmp_path: Path) -> None:
    for name in ("../../../../escaped.csv", "/abs.csv", "a\\..\\b.csv", "a\x00.csv", ""):
        with pytest.raises(StorageError):
            storage.put_task_file("a", "f", "e", "t", "r", src, name)
    for bad_id in ("..", "a/b", ""):
        with pytest.raises(StorageError):
            storage.put_task_file("a", "f", "e", bad_id, "r", src, "x.csv")
    assert not list(tmp_path.rglob("escaped.csv"))
    assert not (tmp_path / "abs.csv").exists()


def test_symlink_escaping_the_namespace_is_refused(storage: InternalStorage, src: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("top secret")
    uri = storage.put_task_file("a", "f", "e", "t", "r", src, "x.csv")
    folder = Path(storage.root) / "a" / "f" / "executions" / "e" / "tasks" / "t" / "r"
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")
    link_uri = uri.rsplit("/", 1)[0] + "/link.txt"
    with pytest.raises(StorageError, match="outside"):
        storage.read_bytes(link_uri, namespace="a")
    # a symlinked folder leading to another namespace is refused too
    other = storage.put_task_file("b", "f", "e", "t", "r", src, "theirs.csv")
    os.symlink(Path(storage.root) / "b", Path(storage.root) / "a" / "f" / "executions" / "e" / "tasks" / "b")
    sneaky = "lanner:///a/f/executions/e/tasks/b/f/executions/e/tasks/t/r/theirs.csv"
    with pytest.raises(StorageError, match="outside"):
        storage.read_bytes(sneaky, namespace="a")
    assert storage.read_text(other, namespace="b") == src.read_text()
    # writing through a symlink that points outside is refused as well
    os.symlink(tmp_path / "written.txt", folder / "out.txt")
    with pytest.raises(StorageError):
        storage.put_bytes(uri.rsplit("/", 1)[0] + "/out.txt", b"x", namespace="a")
    assert not (tmp_path / "written.txt").exists()


def test_delete_execution(storage: InternalStorage, src: Path) -> None:
    uri = storage.put_task_file("a", "f", "e1", "t", "r", src, "x.csv")
    keep = storage.put_task_file("a", "f", "e2", "t", "r", src, "x.csv")
    storage.delete_execution("a", "f", "e1")
    assert not storage.exists(uri, "a")
    assert storage.exists(keep, "a")
    storage.delete_execution("a", "f", "never")  # nothing to do is fine


def test_namespace_files_put_list_get_delete(storage: InternalStorage) -> None:
    storage.namespace_files_put("company.team", "scripts/etl.py", b"print('etl')")
    storage.namespace_files_put("company.team", "./data/x.csv", b"1,2")
    storage.namespace_files_put("company", "parent.txt", b"parent")
    assert storage.namespace_files_list("company.team") == ["data/x.csv", "scripts/etl.py"]
    assert storage.namespace_files_list("company.team", prefix="scripts/") == ["scripts/etl.py"]
    assert storage.namespace_files_list("company") == ["parent.txt"]
    assert storage.namespace_files_list("nobody") == []
    assert storage.namespace_files_get("company.team", "scripts/etl.py") == b"print('etl')"
    with pytest.raises(StorageError, match="has no file"):
        storage.namespace_files_get("company.team", "parent.txt")
    storage.namespace_files_delete("company.team", "data/x.csv")
    assert storage.namespace_files_list("company.team") == ["scripts/etl.py"]
    with pytest.raises(StorageError, match="has no file"):
        storage.namespace_files_delete("company.team", "data/x.csv")


@pytest.mark.parametrize("path", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "..\\x", "a/\x00"])
def test_namespace_files_refuse_traversal(storage: InternalStorage, tmp_path: Path, path: str) -> None:
    with pytest.raises(StorageError):
        storage.namespace_files_put("a", path, b"x")
    with pytest.raises(StorageError):
        storage.namespace_files_get("a", path)
    assert not list(tmp_path.rglob("escape.txt"))


def test_copy_namespace_files_with_globs(storage: InternalStorage, tmp_path: Path) -> None:
    for name in ("scripts/a.py", "scripts/test_a.py", "data/x.csv", "README.md"):
        storage.namespace_files_put("ns", name, name.encode())
    dest = tmp_path / "work"
    copied = storage.copy_namespace_files("ns", dest, include=["*.py", "data/*"], exclude=["*test_*"])
    assert copied == ["data/x.csv", "scripts/a.py"]
    assert (dest / "scripts" / "a.py").read_text() == "scripts/a.py"
    assert (dest / "data" / "x.csv").exists()
    assert not (dest / "README.md").exists() and not (dest / "scripts" / "test_a.py").exists()
    everything = storage.copy_namespace_files("ns", tmp_path / "all", None, None)
    assert len(everything) == 4


def test_upload_namespace_dir(storage: InternalStorage, tmp_path: Path) -> None:
    local = tmp_path / "project"
    (local / "sub").mkdir(parents=True)
    (local / "a.py").write_text("a")
    (local / "sub" / "b.csv").write_text("b")
    (local / "__pycache__").mkdir()
    (local / "__pycache__" / "a.pyc").write_bytes(b"\x00")
    assert storage.upload_namespace_dir("ns", local) == ["a.py", "sub/b.csv"]
    assert storage.namespace_files_get("ns", "sub/b.csv") == b"b"
    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", local / "leak.txt")
    with pytest.raises(StorageError, match="symlink"):
        storage.upload_namespace_dir("ns", local)
    assert "leak.txt" not in storage.namespace_files_list("ns")
    with pytest.raises(StorageError, match="not a directory"):
        storage.upload_namespace_dir("ns", tmp_path / "missing")


def test_namespace_file_symlink_escape_is_refused(storage: InternalStorage, tmp_path: Path) -> None:
    storage.namespace_files_put("ns", "ok.txt", b"ok")
    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", Path(storage.root) / "_namespace_files" / "ns" / "leak.txt")
    with pytest.raises(StorageError, match="outside"):
        storage.namespace_files_get("ns", "leak.txt")
    with pytest.raises(StorageError, match="outside"):
        storage.copy_namespace_files("ns", tmp_path / "dest", None, None)


def test_read_function(storage: InternalStorage, src: Path) -> None:
    uri = storage.put_task_file("a.b", "f", "e", "t", "r", src, "x.csv")
    storage.namespace_files_put("a.b", "queries/q.sql", b"select 1")
    read = make_read_function(storage, "a.b")
    assert read(uri) == "a,b\n1,2\n"
    assert read("queries/q.sql") == "select 1"
    assert read("nsfile:///queries/q.sql") == "select 1"
    assert storage.make_read_function("a.b")("queries/q.sql") == "select 1"
    with pytest.raises(StorageError, match="namespace 'a.b'"):
        make_read_function(storage, "other")(uri)
    with pytest.raises(StorageError):
        read("../../x")


def test_read_function_refuses_big_files(storage: InternalStorage, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (READ_LIMIT + 1))
    uri = storage.put_task_file("a", "f", "e", "t", "r", big, "big.txt")
    storage.namespace_files_put("a", "big.txt", big.read_bytes())
    read = make_read_function(storage, "a")
    with pytest.raises(StorageError, match="1.0 MiB"):
        read(uri)
    with pytest.raises(StorageError, match="1 MiB"):
        read("big.txt")
    exact = tmp_path / "exact.txt"
    exact.write_bytes(b"y" * READ_LIMIT)
    assert len(read(storage.put_task_file("a", "f", "e", "t", "r", exact, "exact.txt"))) == READ_LIMIT


def test_any_fsspec_root_works(src: Path, tmp_path: Path) -> None:
    storage = InternalStorage("memory://lanner-test-root")
    uri = storage.put_task_file("a", "f", "e", "t", "r", src, "x.csv")
    assert storage.read_text(uri, namespace="a") == src.read_text()
    assert storage.local_path(uri, "a") is None
    storage.namespace_files_put("a", "n/x.txt", b"n")
    assert storage.namespace_files_list("a") == ["n/x.txt"]
    assert storage.copy_namespace_files("a", tmp_path / "d", ["n/*"], None) == ["n/x.txt"]
    storage.delete_execution("a", "f", "e")
    assert not storage.exists(uri, "a")
    storage.namespace_files_delete("a", "n/x.txt")
