"""Internal storage: the files tasks produce and consume, and namespace files.

Files live under one root, which is any fsspec URL (a local directory by
default: ``$LANNER_STORAGE`` or ``$LANNER_HOME/storage``), so a shared volume or
an object store works without code changes. Tasks and expressions name a file
by a URI that mirrors its place under the root::

    lanner:///<namespace>/<flowId>/executions/<executionId>/tasks/<taskId>/<taskRunId>/<fileName>
    lanner:///<namespace>/<flowId>/executions/<executionId>/inputs/<inputId>/<fileName>

Namespace dots are kept as written (``company.team`` is one folder). Namespace
files (scripts, data shared by the flows of a namespace) live apart, under
``<root>/_namespace_files/<namespace>/``.

Isolation is strict: a URI may be read only by a caller of *the same*
namespace (neither parent nor child namespaces). Every name is validated
segment by segment after percent-decoding (no ``..``, ``.``, empty segments,
backslashes, NUL or control characters, no absolute paths) and, on a local
root, the real path of every file touched must stay inside its namespace's
folder, so a symlink cannot lead outside.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import quote, unquote

from engine.model.plain import Frozen, set_field

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

SCHEME = "lanner://"
#: Kestra's spelling of an internal-storage URI, read as Lanner's (flows copied from Kestra keep working).
KESTRA_SCHEME = "kestra://"
NSFILE_SCHEME = "nsfile://"
#: What ``read()`` returns at most; bigger files belong in a task's inputFiles.
READ_LIMIT = 1024 * 1024
NAMESPACE_FILES_DIR = "_namespace_files"
CACHE_DIR = "_cache"
#: Where the (deprecated) state tasks keep their documents.
STATES_DIR = "_states"
#: Folders never uploaded from a local directory: tool caches, not project files.
_SKIPPED_DIRS = {".git", "__pycache__", ".ipynb_checkpoints"}

_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class StorageError(ValueError):
    """A storage request refused or failed; the message is meant for users."""


class StorageUri(Frozen):
    """A parsed ``lanner:///`` URI: whose execution it belongs to, and the path inside it.

    ``rest`` is that path, e.g. ``("tasks", "t1", "<taskRunId>", "out.csv")``. A plain frozen class rather
    than a dataclass: every cold run imports it, and building a dataclass costs ~0.5 ms (see
    :mod:`engine.model.plain`).
    """

    __slots__ = ("namespace", "flow_id", "execution_id", "rest")
    namespace: str
    flow_id: str
    execution_id: str
    rest: tuple[str, ...]

    def __init__(self, namespace: str, flow_id: str, execution_id: str, rest: tuple[str, ...]) -> None:
        set_field(self, "namespace", namespace)
        set_field(self, "flow_id", flow_id)
        set_field(self, "execution_id", execution_id)
        set_field(self, "rest", rest)

    @property
    def key(self) -> str:
        """Path of the file relative to the storage root."""
        return "/".join((self.namespace, self.flow_id, "executions", self.execution_id, *self.rest))

    @property
    def name(self) -> str:
        return self.rest[-1]

    def __str__(self) -> str:
        return SCHEME + "/" + "/".join(quote(p, safe="") for p in self.key.split("/"))


# --- validation --------------------------------------------------------------------------------


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE_RE.match(namespace):
        raise StorageError(
            f"namespace {namespace!r} is invalid: use dotted words of letters, digits, '_' and '-' (e.g. company.team)"
        )
    return namespace


def _check_id(value: str, field: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value) or value in (".", ".."):
        raise StorageError(f"{field} {value!r} is invalid: use letters, digits, '.', '_' and '-'")
    return value


def _segment(seg: str, field: str, original: str) -> str:
    if seg in ("", ".", ".."):
        reason = "an empty segment" if seg == "" else f"a {seg!r} segment"
        raise StorageError(f"{field} {original!r} is refused: it contains {reason}")
    if "\\" in seg or "/" in seg or _CONTROL_RE.search(seg):  # "/" only gets here percent-encoded (%2F)
        raise StorageError(f"{field} {original!r} is refused: it contains an encoded slash, a backslash or a control character")
    return seg


def safe_relative_path(path: str, field: str = "path") -> str:
    """Validate a relative, slash-separated file path; return it normalised (no leading './')."""
    if not isinstance(path, str) or not path:
        raise StorageError(f"{field} is empty: give a relative file path such as data/file.csv")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise StorageError(f"{field} {path!r} is refused: it must be relative, not absolute")
    parts = path.split("/")
    while len(parts) > 1 and parts[0] == ".":
        parts = parts[1:]
    return "/".join(_segment(p, field, path) for p in parts)


def is_storage_uri(text: object) -> bool:
    """Whether ``text`` names an internal-storage file: ``lanner:///...``, or Kestra's ``kestra:///...``."""
    return isinstance(text, str) and (text.startswith(SCHEME) or text.startswith(KESTRA_SCHEME))


def normalize_uri(uri: str) -> str:
    """A storage URI in Lanner's spelling (``kestra:///`` read as ``lanner:///``); other text unchanged."""
    if isinstance(uri, str) and uri.startswith(KESTRA_SCHEME):
        try:
            return str(parse_uri(uri))
        except StorageError:
            return SCHEME + uri[len(KESTRA_SCHEME):]
    return uri


def parse_uri(uri: str) -> StorageUri:
    """Parse and validate a ``lanner:///`` URI (percent-encoding is decoded once, then checked).

    Kestra's ``kestra:///`` is another spelling; in it a namespace may also be written with
    slashes, as Kestra lays its files out (``kestra:///company/team/flow/executions/...``).
    """
    kestra = isinstance(uri, str) and uri.startswith(KESTRA_SCHEME)
    if not isinstance(uri, str) or not (uri.startswith(SCHEME) or kestra):
        raise StorageError(f"{uri!r} is not an internal storage URI: it must start with {SCHEME}/")
    body = uri[len(KESTRA_SCHEME if kestra else SCHEME):]
    if not body.startswith("/") or body.startswith("//"):
        raise StorageError(f"{uri!r} is malformed: expected lanner:///<namespace>/<flowId>/executions/<executionId>/...")
    body = body[1:]
    if "?" in body or "#" in body:
        raise StorageError(f"{uri!r} is malformed: query strings and fragments are not allowed")
    parts = [_segment(unquote(p), "URI", uri) for p in body.split("/")]
    if kestra and len(parts) >= 5 and parts[2] != "executions" and "executions" in parts[3:-2]:
        at = parts.index("executions", 3)
        parts = [".".join(parts[: at - 1]), *parts[at - 1:]]
    if len(parts) < 5 or parts[2] != "executions":
        raise StorageError(f"{uri!r} is malformed: expected lanner:///<namespace>/<flowId>/executions/<executionId>/<path>")
    try:
        check_namespace(parts[0])
        _check_id(parts[1], "flow id")
        _check_id(parts[3], "execution id")
    except StorageError as exc:
        raise StorageError(f"{uri!r} is malformed: {exc}") from None
    return StorageUri(parts[0], parts[1], parts[3], tuple(parts[4:]))


def matches(path: str, include: Iterable[str] | None, exclude: Iterable[str] | None) -> bool:
    """Glob filter on a relative path; ``*`` also matches ``/`` (so ``*.py`` selects at any depth)."""
    inc = list(include or [])
    if inc and not any(fnmatch.fnmatchcase(path, p.replace("**", "*")) for p in inc):
        return False
    return not any(fnmatch.fnmatchcase(path, p.replace("**", "*")) for p in exclude or [])


def default_root(home: str | Path | None = None) -> str:
    """``$LANNER_STORAGE``, else ``<home>/storage`` (home defaults to ``$LANNER_HOME`` or ``./.lanner``)."""
    env = os.environ.get("LANNER_STORAGE")
    if env:
        return env
    base = Path(home) if home is not None else Path(os.environ.get("LANNER_HOME", ".lanner"))
    return str(base.resolve() / "storage")


# --- the storage -------------------------------------------------------------------------------


class InternalStorage:
    """fsspec-backed storage of execution files and namespace files under one root."""

    def __init__(self, root: str | Path):
        # fsspec is imported only for a remote root, or by the first file stored (``fs``): a task that
        # only names StorageError or SCHEME, or a run that stores no file, never pays for it.
        root_str = str(root)
        self._fs: AbstractFileSystem | None = None
        if "://" in root_str and not root_str.startswith("file://"):
            import fsspec
            from fsspec.implementations.local import LocalFileSystem

            self._fs, path = fsspec.core.url_to_fs(root_str)
            self.root = path.rstrip("/")
            self.is_local = isinstance(self._fs, LocalFileSystem)
        else:
            local = Path(root_str.removeprefix("file://")).resolve()
            local.mkdir(parents=True, exist_ok=True)
            self.root = str(local)
            self.is_local = True

    @property
    def fs(self) -> AbstractFileSystem:
        """The file system, made on first use: a run that stores no file never imports fsspec."""
        if self._fs is None:
            from fsspec.implementations.local import LocalFileSystem

            self._fs = LocalFileSystem()
        return self._fs

    def __repr__(self) -> str:
        return f"InternalStorage({self.root!r})"

    # -- paths --

    def _full(self, key: str, boundary: str) -> str:
        """Absolute path of ``key``; on a local root its real path must stay inside ``boundary``."""
        full = f"{self.root}/{key}"
        if self.is_local:
            real_root = os.path.realpath(self.root)
            real_boundary = os.path.realpath(f"{self.root}/{boundary}")
            real = os.path.realpath(full)
            inside_root = real_boundary.startswith(real_root + os.sep)
            if not inside_root or (real != real_boundary and not real.startswith(real_boundary + os.sep)):
                raise StorageError(f"{key!r} is refused: it resolves outside its namespace's storage (symlink?)")
        return full

    def _uri_path(self, uri: str | StorageUri, namespace: str | None) -> tuple[StorageUri, str]:
        parsed = uri if isinstance(uri, StorageUri) else parse_uri(uri)
        if namespace is not None and parsed.namespace != check_namespace(namespace):
            raise StorageError(
                f"{uri} belongs to namespace {parsed.namespace!r}; a flow of namespace {namespace!r} may not read it"
            )
        return parsed, self._full(parsed.key, parsed.namespace)

    def _write_file(self, full: str, local_path: Path | None = None, data: bytes | None = None) -> None:
        self.fs.makedirs(full.rsplit("/", 1)[0], exist_ok=True)
        if local_path is not None:
            if not Path(local_path).is_file():
                raise StorageError(f"{local_path} is not a file: nothing to store")
            self.fs.put_file(str(local_path), full)
        else:
            with self.fs.open(full, "wb") as fh:
                fh.write(data or b"")

    # -- execution files --

    def task_uri(self, namespace: str, flow_id: str, execution_id: str, task_id: str, task_run_id: str, name: str) -> str:
        """The URI a task file gets (validated, nothing written)."""
        rel = safe_relative_path(name, "file name")
        rest = ("tasks", _check_id(task_id, "task id"), _check_id(task_run_id, "task run id"), *rel.split("/"))
        return str(StorageUri(check_namespace(namespace), _check_id(flow_id, "flow id"), _check_id(execution_id, "execution id"), rest))

    def put_task_file(
        self, namespace: str, flow_id: str, execution_id: str, task_id: str, task_run_id: str, local_path: Path, name: str
    ) -> str:
        """Copy a local file produced by a task run; return its ``lanner:///`` URI."""
        uri = self.task_uri(namespace, flow_id, execution_id, task_id, task_run_id, name)
        _, full = self._uri_path(uri, namespace)
        self._write_file(full, local_path=Path(local_path))
        return uri

    def put_input_file(self, namespace: str, flow_id: str, execution_id: str, input_id: str, local_path: Path, name: str | None = None) -> str:
        """Copy an uploaded FILE input; return ``lanner:///.../executions/<id>/inputs/<inputId>/<file>``."""
        rel = safe_relative_path(name or Path(local_path).name, "file name")
        parsed = StorageUri(
            check_namespace(namespace), _check_id(flow_id, "flow id"), _check_id(execution_id, "execution id"),
            ("inputs", _check_id(input_id, "input id"), *rel.split("/")),
        )
        _, full = self._uri_path(parsed, namespace)
        self._write_file(full, local_path=Path(local_path))
        return str(parsed)

    def put_bytes(self, uri: str, data: bytes, *, namespace: str) -> str:
        """Write ``data`` at ``uri`` (of the caller's namespace); return the URI normalised."""
        parsed, full = self._uri_path(uri, namespace)
        self._write_file(full, data=bytes(data))
        return str(parsed)

    def put_file(self, uri: str, local_path: Path, *, namespace: str) -> str:
        """Copy a local file to ``uri`` (of the caller's namespace) without reading it into memory; the URI normalised."""
        parsed, full = self._uri_path(uri, namespace)
        self._write_file(full, local_path=Path(local_path))
        return str(parsed)

    def open(self, uri: str, *, namespace: str) -> IO[bytes]:
        """Open a stored file for reading (binary). Refused for another namespace's files."""
        _, full = self._uri_path(uri, namespace)
        if not self.fs.isfile(full):
            raise StorageError(f"{uri} does not exist in internal storage")
        return self.fs.open(full, "rb")

    def read_bytes(self, uri: str, *, namespace: str, max_bytes: int | None = None) -> bytes:
        _, full = self._uri_path(uri, namespace)
        if not self.fs.isfile(full):
            raise StorageError(f"{uri} does not exist in internal storage")
        if max_bytes is not None:
            size = self.fs.size(full)
            if size > max_bytes:
                raise StorageError(f"{uri} is {_human(size)}, more than the {_human(max_bytes)} allowed here")
        with self.fs.open(full, "rb") as fh:
            return fh.read()

    def read_text(self, uri: str, *, namespace: str, max_bytes: int | None = READ_LIMIT) -> str:
        data = self.read_bytes(uri, namespace=namespace, max_bytes=max_bytes)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise StorageError(f"{uri} is not UTF-8 text") from None

    def open_write(self, uri: str, *, namespace: str) -> IO[bytes]:
        """Open ``uri`` (of the caller's namespace) for writing, streaming: big files never sit in memory."""
        _, full = self._uri_path(uri, namespace)
        self.fs.makedirs(full.rsplit("/", 1)[0], exist_ok=True)
        return self.fs.open(full, "wb")

    def delete(self, uri: str, *, namespace: str) -> bool:
        """Delete one stored file; False when there was none."""
        _, full = self._uri_path(uri, namespace)
        if not self.fs.isfile(full):
            return False
        self.fs.rm(full)
        return True

    def execution_files(self, namespace: str, flow_id: str, execution_id: str) -> list[str]:
        """The URIs of every file of one execution (inputs and task files), sorted."""
        key = "/".join((check_namespace(namespace), _check_id(flow_id, "flow id"), "executions", _check_id(execution_id, "execution id")))
        base = self._full(key, namespace)
        if not self.fs.exists(base):
            return []
        stripped = self.fs._strip_protocol(base).rstrip("/")
        out = []
        for found in self.fs.find(base):
            rel = self.fs._strip_protocol(found)[len(stripped) + 1 :]
            rest = tuple(rel.split("/"))
            out.append(str(StorageUri(namespace, flow_id, execution_id, rest)))
        return sorted(out)

    def exists(self, uri: str, namespace: str) -> bool:
        _, full = self._uri_path(uri, namespace)
        return bool(self.fs.isfile(full))

    def size(self, uri: str, namespace: str | None = None) -> int:
        _, full = self._uri_path(uri, namespace)
        if not self.fs.isfile(full):
            raise StorageError(f"{uri} does not exist in internal storage")
        return int(self.fs.size(full))

    def local_path(self, uri: str, namespace: str) -> Path | None:
        """The file's local path when the root is a local directory (else None)."""
        _, full = self._uri_path(uri, namespace)
        return Path(full) if self.is_local and os.path.isfile(full) else None

    def delete_execution(self, namespace: str, flow_id: str, execution_id: str) -> None:
        """Remove every file of one execution (purge)."""
        key = "/".join((check_namespace(namespace), _check_id(flow_id, "flow id"), "executions", _check_id(execution_id, "execution id")))
        full = self._full(key, namespace)
        if self.fs.exists(full):
            self.fs.rm(full, recursive=True)

    # -- caches (a WorkingDirectory's files, a task's cached outputs) --

    def _cache_full(self, namespace: str, flow_id: str, name: str) -> str:
        boundary = f"{CACHE_DIR}/{check_namespace(namespace)}"
        key = f"{boundary}/{_check_id(flow_id, 'flow id')}/{safe_relative_path(name, 'cache name')}"
        return self._full(key, boundary)

    def cache_put(self, namespace: str, flow_id: str, name: str, data: bytes) -> None:
        """Keep ``data`` under ``name`` for a flow (replacing what was there), stamped with the time."""
        full = self._cache_full(namespace, flow_id, name)
        self._write_file(full, data=bytes(data))
        self._write_file(full + ".created", data=f"{time.time():.3f}".encode())

    def cache_get(self, namespace: str, flow_id: str, name: str, ttl: float | None) -> bytes | None:
        """What :meth:`cache_put` kept, if it is younger than ``ttl`` seconds (None: no limit); else None."""
        full = self._cache_full(namespace, flow_id, name)
        if not self.fs.isfile(full) or not self.fs.isfile(full + ".created"):
            return None
        with self.fs.open(full + ".created", "rb") as fh:
            try:
                created = float(fh.read().decode() or 0)
            except ValueError:
                return None
        if ttl is not None and time.time() - created > ttl:
            return None
        with self.fs.open(full, "rb") as fh:
            return fh.read()

    # -- namespace files --

    def _ns_full(self, namespace: str, path: str = "") -> str:
        boundary = f"{NAMESPACE_FILES_DIR}/{check_namespace(namespace)}"
        key = f"{boundary}/{safe_relative_path(path, 'namespace file path')}" if path else boundary
        return self._full(key, boundary)

    def namespace_files_put(self, namespace: str, path: str, data: bytes) -> str:
        """Store a namespace file; return its normalised relative path."""
        rel = safe_relative_path(path, "namespace file path")
        self._write_file(self._ns_full(namespace, rel), data=bytes(data))
        return rel

    def namespace_files_get(self, namespace: str, path: str) -> bytes:
        full = self._ns_full(namespace, path)
        if not self.fs.isfile(full):
            raise StorageError(f"namespace {namespace!r} has no file {path!r}")
        with self.fs.open(full, "rb") as fh:
            return fh.read()

    def namespace_files_size(self, namespace: str, path: str) -> int:
        full = self._ns_full(namespace, path)
        if not self.fs.isfile(full):
            raise StorageError(f"namespace {namespace!r} has no file {path!r}")
        return int(self.fs.size(full))

    def namespace_files_list(self, namespace: str, prefix: str = "") -> list[str]:
        """Relative paths of the namespace's files (sorted), optionally under ``prefix``."""
        base = self._ns_full(namespace)
        if not self.fs.exists(base):
            return []
        out = []
        stripped = self.fs._strip_protocol(base).rstrip("/")
        for found in self.fs.find(base):
            rel = self.fs._strip_protocol(found)[len(stripped) + 1 :]
            if self.is_local:
                self._full(f"{NAMESPACE_FILES_DIR}/{namespace}/{rel}", f"{NAMESPACE_FILES_DIR}/{namespace}")
            if rel.startswith(prefix):
                out.append(rel)
        return sorted(out)

    def namespace_files_delete(self, namespace: str, path: str) -> None:
        full = self._ns_full(namespace, path)
        if not self.fs.exists(full):
            raise StorageError(f"namespace {namespace!r} has no file {path!r}")
        self.fs.rm(full, recursive=True)

    def upload_namespace_dir(self, namespace: str, local_dir: Path) -> list[str]:
        """Upload every file of ``local_dir`` (recursively) as namespace files; return their paths.

        ``.git``, ``__pycache__`` and ``.ipynb_checkpoints`` folders are skipped, and
        symlinks that lead outside ``local_dir`` are refused.
        """
        check_namespace(namespace)
        uploaded = []
        for rel, real in local_files(local_dir):
            self._write_file(self._ns_full(namespace, safe_relative_path(rel, "namespace file path")), local_path=real)
            uploaded.append(rel)
        return uploaded

    def copy_namespace_files(
        self, namespace: str, dest_dir: Path, include: list[str] | None = None, exclude: list[str] | None = None
    ) -> list[str]:
        """Copy the namespace files selected by the globs into ``dest_dir``; return their paths."""
        dest = Path(dest_dir).resolve()
        copied = []
        for rel in self.namespace_files_list(namespace):
            if not matches(rel, include, exclude):
                continue
            target = (dest / rel).resolve()
            if not target.is_relative_to(dest):
                raise StorageError(f"namespace file {rel!r} is refused: it would be written outside {dest_dir}")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(self._ns_full(namespace, rel), str(target))
            copied.append(rel)
        return copied

    # -- task states (Kestra's state.Set/Get/Delete) --

    def _state_full(self, namespace: str, flow_id: str | None, name: str, value: str | None) -> str:
        """Where one state lives: per namespace (and flow unless shared), per name and loop value."""
        import hashlib

        boundary = f"{STATES_DIR}/{check_namespace(namespace)}"
        scope = f"{boundary}/{_check_id(flow_id, 'flow id')}" if flow_id else f"{boundary}/_namespace"
        digest = hashlib.sha256(f"{name}\x00{value or ''}".encode()).hexdigest()[:32]
        return self._full(f"{scope}/{digest}.json", boundary)

    def state_get(self, namespace: str, flow_id: str | None, name: str, value: str | None) -> bytes | None:
        full = self._state_full(namespace, flow_id, name, value)
        if not self.fs.isfile(full):
            return None
        with self.fs.open(full, "rb") as fh:
            return fh.read()

    def state_put(self, namespace: str, flow_id: str | None, name: str, value: str | None, data: bytes) -> str:
        """Store a state; return its key (the name, and the loop value when it has one)."""
        self._write_file(self._state_full(namespace, flow_id, name, value), data=data)
        return f"{name}/{value}" if value else name

    def state_delete(self, namespace: str, flow_id: str | None, name: str, value: str | None) -> bool:
        full = self._state_full(namespace, flow_id, name, value)
        if not self.fs.isfile(full):
            return False
        self.fs.rm(full)
        return True

    # -- expressions --

    def make_read_function(self, namespace: str) -> Callable[[str], str]:
        return make_read_function(self, namespace)


def local_files(local_dir: Path) -> list[tuple[str, Path]]:
    """(relative path, real path) of every file under ``local_dir``, the way namespace files are uploaded.

    ``.git``, ``__pycache__`` and ``.ipynb_checkpoints`` folders are skipped, and a
    symlink that leads outside ``local_dir`` is refused (StorageError).
    """
    base = Path(local_dir).resolve()
    if not base.is_dir():
        raise StorageError(f"{local_dir} is not a directory")
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for fname in sorted(filenames):
            path = Path(dirpath) / fname
            real = path.resolve()
            if not real.is_relative_to(base):
                raise StorageError(f"{path} is refused: it is a symlink leading outside {local_dir}")
            found.append((path.relative_to(base).as_posix(), real))
    return found


def resolve_nsfile(ref: str, namespace: str) -> str:
    """Relative path of a namespace file given as ``nsfile:///path`` or ``nsfile://<namespace>/path``.

    The second form is accepted only for the caller's own namespace.
    """
    body = ref[len(NSFILE_SCHEME):]
    if body.startswith("/"):
        return safe_relative_path(body[1:], "namespace file path")
    owner, _, path = body.partition("/")
    if owner != namespace:
        raise StorageError(f"{ref!r} names a file of namespace {owner!r}; a flow of namespace {namespace!r} may not read it")
    return safe_relative_path(path, "namespace file path")


def make_read_function(storage: InternalStorage, namespace: str) -> Callable[[str], str]:
    """The ``read()`` of expressions: text of a ``lanner:///`` URI or of a namespace file (<= 1 MiB).

    ``read('lanner:///...')`` reads an execution file of the caller's namespace;
    ``read('nsfile:///path')`` or ``read('path')`` reads a namespace file.
    """
    check_namespace(namespace)

    def read(ref: object) -> str:
        ref = str(ref)
        if ref.startswith(SCHEME):
            try:
                return storage.read_text(ref, namespace=namespace, max_bytes=READ_LIMIT)
            except StorageError as exc:
                raise StorageError(f"read(): {exc}; pass big files to a task instead") from None
        path = resolve_nsfile(ref, namespace) if ref.startswith(NSFILE_SCHEME) else safe_relative_path(ref, "read() path")
        size = storage.namespace_files_size(namespace, path)
        if size > READ_LIMIT:
            raise StorageError(f"read(): namespace file {path!r} is {_human(size)}, more than the 1 MiB read() allows")
        try:
            return storage.namespace_files_get(namespace, path).decode("utf-8")
        except UnicodeDecodeError:
            raise StorageError(f"read(): namespace file {path!r} is not UTF-8 text") from None

    return read


def storage_for_context(ctx: object) -> InternalStorage:
    """The storage a task attempt uses: ``ctx.extra['storage']`` if the runner set one, else the default root."""
    extra = getattr(ctx, "extra", None) or {}
    storage = extra.get("storage")
    if isinstance(storage, InternalStorage):
        return storage
    return InternalStorage(default_root(getattr(ctx, "home", None)))


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"
