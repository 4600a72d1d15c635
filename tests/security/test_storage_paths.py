"""Namespace files and internal storage: no path leads outside a namespace's root.

``../``, ``/./``, absolute paths, backslashes, encoded dots, symlinks, and
"zip-slip" entry names (a file name chosen by someone else: an uploaded
file's name, a download's Content-Disposition, a script's inputFiles key or
outputFiles match) are refused after normalisation, through the Python API,
the REST API and task runs. After every attempt the test checks that nothing
was written outside the namespace's folder.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent

import pytest

from engine.storage import InternalStorage, StorageError, make_read_function
from tests.security.conftest import Server, json_body

BAD_PATHS = [
    "../escape.txt", "../../escape.txt", "a/../../escape.txt", "a/../b.txt", "./../escape.txt", "a/./b.txt", "/./a.txt",
    "/etc/passwd", "//etc/passwd", "a//b.txt", "a\\..\\..\\escape.txt", "..\\escape.txt", "C:\\escape.txt", "C:/x.txt",
    "a/..", "..", ".", "", "a/\x00b", "a/\nb",
]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def storage(tmp_path: Path) -> InternalStorage:
    return InternalStorage(tmp_path / "root")


@pytest.mark.parametrize("path", BAD_PATHS)
def test_bad_namespace_file_paths_are_refused_by_the_python_api(tmp_path: Path, storage: InternalStorage, path: str):
    before = _tree(tmp_path)
    with pytest.raises(StorageError):
        storage.namespace_files_put("sec.ns", path, b"x")
    with pytest.raises(StorageError):
        storage.namespace_files_get("sec.ns", path)
    with pytest.raises(StorageError):
        storage.namespace_files_delete("sec.ns", path)
    assert _tree(tmp_path) - before <= {"root/_namespace_files"}, _tree(tmp_path) - before


def test_encoded_dots_are_plain_names_that_stay_inside(storage: InternalStorage):
    assert storage.namespace_files_put("sec.ns", "%2e%2e/x.txt", b"x") == "%2e%2e/x.txt"
    written = Path(storage.root) / "_namespace_files" / "sec.ns" / "%2e%2e" / "x.txt"
    assert written.read_bytes() == b"x"
    assert storage.namespace_files_put("sec.ns", "./ok.txt", b"y") == "ok.txt"


@pytest.mark.parametrize("namespace", ["..", "../x", "a/b", "a..b", ".a", "a.", "/a", "", "a b", "a\\b"])
def test_bad_namespaces_are_refused(storage: InternalStorage, namespace: str):
    with pytest.raises(StorageError):
        storage.namespace_files_put(namespace, "x.txt", b"x")


def test_symlinks_cannot_lead_outside_the_namespace(tmp_path: Path, storage: InternalStorage):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    storage.namespace_files_put("sec.ns", "keep.txt", b"k")
    ns_root = Path(storage.root) / "_namespace_files" / "sec.ns"
    (ns_root / "link.txt").symlink_to(outside / "secret.txt")
    (ns_root / "dir").symlink_to(outside, target_is_directory=True)
    other = Path(storage.root) / "_namespace_files" / "sec.other"
    other.mkdir(parents=True)
    (other / "theirs.txt").write_text("theirs")
    (ns_root / "sibling").symlink_to(other, target_is_directory=True)
    for path in ("link.txt", "dir/secret.txt", "sibling/theirs.txt"):
        with pytest.raises(StorageError, match="outside"):
            storage.namespace_files_get("sec.ns", path)
    for path in ("dir/new.txt", "link.txt", "sibling/new.txt"):
        with pytest.raises(StorageError, match="outside"):
            storage.namespace_files_put("sec.ns", path, b"overwrite")
    with pytest.raises(StorageError, match="outside"):
        storage.namespace_files_list("sec.ns")
    assert (outside / "secret.txt").read_text() == "top secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert sorted(p.name for p in other.iterdir()) == ["theirs.txt"]
    read = make_read_function(storage, "sec.ns")
    with pytest.raises(StorageError):
        read("link.txt")


def test_a_symlinked_namespace_folder_is_refused(tmp_path: Path, storage: InternalStorage):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.txt").write_text("x")
    base = Path(storage.root) / "_namespace_files"
    base.mkdir(parents=True, exist_ok=True)
    (base / "sec.evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StorageError, match="outside"):
        storage.namespace_files_get("sec.evil", "x.txt")
    with pytest.raises(StorageError, match="outside"):
        storage.namespace_files_put("sec.evil", "y.txt", b"y")
    assert sorted(p.name for p in outside.iterdir()) == ["x.txt"]


@pytest.mark.parametrize("uri", [
    "lanner:///sec.ns/f/executions/e1/../../../../escape.txt",
    "lanner:///sec.ns/f/executions/e1/%2e%2e/%2e%2e/%2e%2e/x",
    "lanner:///sec.ns/f/executions/e1/tasks/%2F..%2F..%2Fx",
    "lanner:///sec.ns/f/executions/e1/tasks/a%5C..%5Cx",
    "lanner:///sec.ns/f/executions/e1/./x",
    "lanner:////etc/passwd",
    "lanner://sec.ns/f/executions/e1/x",
    "lanner:///sec.ns/f/executions/e1/x%00.txt",
    "lanner:///sec.other/f/executions/e1/x.txt",  # another namespace's file
    "lanner:///sec/f/executions/e1/x.txt",  # the parent namespace's file
    "lanner:///sec.ns.child/f/executions/e1/x.txt",  # a child namespace's file
    "file:///etc/passwd",
])
def test_storage_uris_cannot_escape_or_cross_namespaces(tmp_path: Path, storage: InternalStorage, uri: str):
    before = _tree(tmp_path)
    with pytest.raises(StorageError):
        storage.put_bytes(uri, b"x", namespace="sec.ns")
    with pytest.raises(StorageError):
        storage.read_bytes(uri, namespace="sec.ns")
    with pytest.raises(StorageError):
        make_read_function(storage, "sec.ns")(uri)
    assert _tree(tmp_path) == before


def test_read_refuses_other_namespaces_and_escapes(storage: InternalStorage):
    storage.namespace_files_put("sec.other", "x.txt", b"theirs")
    read = make_read_function(storage, "sec.ns")
    for ref in ("nsfile://sec.other/x.txt", "../sec.other/x.txt", "/etc/passwd", "nsfile:///../sec.other/x.txt",
                "nsfile:///%2e%2e/sec.other/x.txt"):
        with pytest.raises(StorageError):
            read(ref)


def test_task_file_names_chosen_by_others_stay_inside(tmp_path: Path, storage: InternalStorage):
    src = tmp_path / "payload.bin"
    src.write_bytes(b"p")
    before = _tree(tmp_path)
    for name in ("../../../../evil", "/abs/evil", "..\\evil", "a/../../evil"):
        with pytest.raises(StorageError):
            storage.put_task_file("sec.ns", "f", "e1", "t", "tr1", src, name)
        with pytest.raises(StorageError):
            storage.put_input_file("sec.ns", "f", "e1", "in", src, name)
    assert _tree(tmp_path) == before
    for bad_id in ("..", "../x", "a/b"):
        with pytest.raises(StorageError):
            storage.put_task_file("sec.ns", "f", bad_id, "t", "tr1", src, "ok.txt")


# --- through the REST API -----------------------------------------------------------------------


def _files_url(namespace: str, path: str) -> str:
    return f"/api/v1/namespaces/{namespace}/files?path={urllib.parse.quote(path, safe='')}"


def test_the_api_refuses_escaping_namespace_file_paths(server: Server):
    storage_root = server.home / "storage"
    status, _, raw = server.request("PUT", _files_url("sec.api", "ok/fine.txt"), body=b"fine")
    assert status == 201, raw
    before = _tree(server.home.parent)
    for path in BAD_PATHS[:-2] + ["%2e%2e/%2e%2e/escape.txt"]:
        for method, body in (("PUT", b"evil"), ("GET", None), ("DELETE", None)):
            status, _, raw = server.request(method, _files_url("sec.api", path), body=body)
            if path.startswith("%2e%2e"):
                # Decoded once by the server: a literal folder named "%2e%2e" inside the namespace.
                assert status in (200, 201, 204), (method, status, raw[:200])
                assert method != "PUT" or json_body(raw)["path"] == path
                continue
            assert status in (404, 422), (method, path, status, raw[:200])
            assert b"root:" not in raw
    # Raw (unencoded) dots and slashes in the URL path itself.
    for raw_path in ("/api/v1/namespaces/sec.api/files?path=../../../../etc/passwd",
                     "/api/v1/namespaces/sec.api/files?path=..%2f..%2f..%2fetc%2fpasswd",
                     "/api/v1/namespaces/../files?path=x", "/api/v1/namespaces/%2e%2e/files?path=x",
                     "/api/v1/namespaces/sec.api%2f..%2f..%2f/files?path=x"):
        status, _, raw = server.request("GET", raw_path)
        assert status in (404, 422), (raw_path, status)
        assert b"root:" not in raw
    added = _tree(server.home.parent) - before
    ns_root = "home/storage/_namespace_files/sec.api/"
    assert all(p.startswith(ns_root) or p.startswith("home/lanner.db") for p in added), sorted(added)
    assert storage_root.exists()


def test_the_api_refuses_files_behind_a_symlink(server: Server, tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("root:x:0:0 outside secret")
    status, _, _ = server.request("PUT", _files_url("sec.api", "real.txt"), body=b"r")
    assert status == 201
    ns_root = server.home / "storage" / "_namespace_files" / "sec.api"
    (ns_root / "sneaky.txt").symlink_to(outside)
    try:
        status, _, raw = server.request("GET", _files_url("sec.api", "sneaky.txt"))
        assert status == 422 and b"outside" in raw, (status, raw[:200])
        status, _, raw = server.request("PUT", _files_url("sec.api", "sneaky.txt"), body=b"overwritten")
        assert status == 422
        assert outside.read_text() == "root:x:0:0 outside secret"
        status, _, raw = server.request("GET", "/api/v1/namespaces/sec.api/files/directory")
        assert b"outside secret" not in raw
    finally:
        (ns_root / "sneaky.txt").unlink()


def test_a_multipart_file_name_does_not_choose_the_path(server: Server):
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"fileContent\"; filename=\"../../../../evil.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\nzip-slip\r\n--{boundary}--\r\n").encode()
    status, _, raw = server.request("POST", _files_url("sec.api", "uploads/safe.txt"), body=body,
                                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 201, raw
    assert json_body(raw)["path"] == "uploads/safe.txt"
    assert not list(server.home.parent.rglob("evil.txt"))


# --- names chosen by others inside task runs -------------------------------------------------------


class _Download(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        name = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)["name"][0]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"evil")


@pytest.fixture
def download_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Download)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_download_name_from_the_server_cannot_leave_the_execution(runner, download_server, monkeypatch, lanner_home):
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "127.0.0.1")
    names = ["../../../../../../evil.txt", "/etc/evil.txt", "..\\..\\evil.txt", "....//....//evil.txt"]
    tasks = [{"id": f"d{i}", "type": "http_download", "uri": f"{download_server}/f?name={urllib.parse.quote(n)}"}
             for i, n in enumerate(names)]
    summary = runner.run(json.dumps({"id": "dl", "namespace": "sec.dl", "tasks": tasks}), timeout=60)
    assert summary["state"] == "SUCCESS", summary
    for tr in summary["taskRuns"]:
        uri = tr["outputs"]["uri"]
        assert uri.startswith(f"lanner:///sec.dl/dl/executions/{summary['id']}/tasks/{tr['taskId']}/"), uri
        assert ".." not in uri.split("/")[-1] and uri.endswith("evil.txt")
    found = [p for p in lanner_home.parent.rglob("*evil.txt*")]
    root = lanner_home / "storage" / "sec.dl" / "dl" / "executions" / summary["id"]
    assert found and all(p.resolve().is_relative_to(root) for p in found), found


def test_input_file_names_rendered_at_run_time_cannot_leave_the_working_directory(runner, tmp_path: Path):
    for i, key in enumerate(["../../escaped.txt", str(tmp_path / "escaped.txt"), "a/../../escaped.txt"]):
        summary = runner.run(dedent(f"""
            id: files{i}
            namespace: sec.files
            tasks:
              - id: dynamic
                type: python
                inputFiles: '{json.dumps({key: "x"})}'
                script: print("never runs")
        """), timeout=60)
        (tr,) = summary["taskRuns"]
        assert tr["state"] == "FAILED"
        assert "relative path inside the working directory" in tr["attempts"][-1]["message"]
    assert not list(tmp_path.rglob("escaped.txt"))


@pytest.mark.parametrize("key", ["../x.txt", "/etc/x.txt", "a/../../x.txt"])
def test_static_input_file_names_are_refused_at_validation(runner, key: str):
    from engine.model.validation import FlowValidationError

    with pytest.raises(FlowValidationError, match="relative path"):
        runner.deploy(dedent(f"""
            id: v
            namespace: sec.files
            tasks:
              - id: t
                type: python
                script: print(1)
                inputFiles:
                  "{key}": x
        """))


def test_output_files_do_not_follow_symlinks_outside(runner, tmp_path: Path):
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("do not collect me")
    summary = runner.run(dedent(f"""
        id: collect
        namespace: sec.files
        tasks:
          - id: collect
            type: shell
            commands:
              - ln -s {outside} link.txt
              - echo inside > inside.txt
            outputFiles:
              - "*.txt"
    """), timeout=60)
    (tr,) = summary["taskRuns"]
    files = tr["outputs"]["outputFiles"]
    assert set(files) == {"inside.txt"}, files
    assert os.path.exists(outside)
