"""Kestra's namespace-file tasks (``io.kestra.plugin.core.namespace.*``): UploadFiles, DownloadFiles, DeleteFiles.

Namespace files are the scripts and data shared by the flows of a namespace
(``lanner namespace files upload``, ``/api/v1/namespaces/{ns}/files``). Paths
are written as Kestra writes them, from the namespace root (``/data/a.csv``),
and matched with Ant-style globs (``/**``, ``**/*.sql``). A flow may use the
files of its own namespace and of the namespaces above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.sdk import (
    RunContext,
    RunnableTask,
    StorageError,
    TaskFailed,
    TaskResult,
    register_task,
    safe_relative_path,
)

if TYPE_CHECKING:
    from engine.sdk import InternalStorage
from engine.tasks.globs import matches_any
from engine.tasks.kv import namespace_of
from engine.tasks.storage_files import storage_uri
from engine.tasks.values import storage_errors, structured

_NS_DOC = "The namespace (default: the flow's); the flow's own namespace or one above it."


def _patterns(task: DownloadFiles | DeleteFiles, ctx: RunContext) -> list[str]:
    files = task.files
    rendered = ctx.render(files)
    if isinstance(rendered, str):
        return [rendered]
    if isinstance(rendered, list) and all(isinstance(f, str) for f in rendered):
        return rendered
    raise TaskFailed(f"{task.id}.files: give a glob or a list of globs, e.g. /**/*.sql")


def _matching(storage: InternalStorage, namespace: str, patterns: list[str]) -> list[str]:
    """The namespace's files (relative paths) that one of the globs matches."""
    return [rel for rel in storage.namespace_files_list(namespace) if matches_any(rel, patterns)]


def _destination(value: object, field: str) -> str:
    """A folder inside the namespace, without leading or trailing slash ('' is the root)."""
    text = str(value or "").strip().strip("/")
    if not text:
        return ""
    try:
        return safe_relative_path(text, field)
    except StorageError as exc:
        raise TaskFailed(str(exc)) from None


@register_task(
    "namespace_upload_files",
    "io.kestra.plugin.core.namespace.UploadFiles",
    group="Namespace files",
    title="Upload namespace files",
    icon="⬆️",
    summary="Store files of the working directory (globs) or stored files (filesMap) as namespace files.",
)
class UploadFiles(RunnableTask):
    namespace: str | None = Field(default=None, description=_NS_DOC)
    files: list[str] | None = Field(default=None, description="Globs of files of the working directory, e.g. **/*.py.")
    files_map: dict[str, Any] | str | None = Field(default=None, description="Namespace path -> URI of a stored file (a map or JSON).")
    destination: str = Field(default="/", description="The folder the files go to.")
    conflict: Literal["OVERWRITE", "ERROR", "SKIP"] = Field(default="OVERWRITE", description="What to do when a file is already there.")

    def run(self, ctx: RunContext) -> TaskResult:
        if self.files is None and self.files_map is None:
            raise TaskFailed(f"{self.id}: give files (globs of the working directory) or filesMap")
        namespace = namespace_of(self, ctx)
        folder = _destination(ctx.render(self.destination), f"{self.id}.destination")
        storage = ctx.storage
        existing = set(storage.namespace_files_list(namespace))
        uploaded: dict[str, str] = {}

        def put(rel: str, data: bytes) -> None:
            target = f"{folder}/{rel}" if folder else rel
            if target in existing:
                if self.conflict == "ERROR":
                    raise TaskFailed(f"{self.id}: namespace file /{target} already exists (conflict is ERROR)")
                if self.conflict == "SKIP":
                    return
            storage.namespace_files_put(namespace, target, data)
            uploaded["/" + target] = f"nsfile:///{target}"

        with storage_errors(self.id):
            if self.files is not None:
                workdir = ctx.working_dir
                if workdir is None:
                    raise TaskFailed(f"{self.id}.files: globs need a working directory; put the task in a WorkingDirectory")
                patterns = [str(ctx.render(p)) for p in self.files]
                for path in sorted(Path(workdir).rglob("*")):
                    rel = path.relative_to(workdir).as_posix()
                    if path.is_file() and matches_any(rel, patterns):
                        put(rel, path.read_bytes())
            if self.files_map is not None:
                mapping = structured(ctx.render(self.files_map), f"{self.id}.filesMap", dict, "a map of path -> URI")
                for name, uri in mapping.items():
                    rel = safe_relative_path(str(name).lstrip("/"), f"{self.id}.filesMap key")
                    put(rel, storage.read_bytes(storage_uri(uri, f"{self.id}.filesMap.{name}"), namespace=ctx.namespace))
        ctx.metric("counter", "uploaded", len(uploaded))
        return TaskResult({"files": uploaded})


@register_task(
    "namespace_download_files",
    "io.kestra.plugin.core.namespace.DownloadFiles",
    group="Namespace files",
    title="Download namespace files",
    icon="⬇️",
    summary="Copy the namespace files matching globs into internal storage; outputs.<id>.files maps path -> URI.",
)
class DownloadFiles(RunnableTask):
    namespace: str | None = Field(default=None, description=_NS_DOC)
    files: list[str] | str = Field(description="A glob or a list of globs, e.g. /scripts/**.")
    destination: str = Field(default="", description="A folder prefix for the stored copies.")

    def run(self, ctx: RunContext) -> TaskResult:
        namespace = namespace_of(self, ctx)
        patterns = _patterns(self, ctx)
        prefix = _destination(ctx.render(self.destination), f"{self.id}.destination")
        storage = ctx.storage
        downloaded: dict[str, str] = {}
        with storage_errors(self.id):
            for rel in _matching(storage, namespace, patterns):
                uri = ctx.file_uri(f"{prefix}/{rel}" if prefix else rel)
                with storage.open_write(uri, namespace=ctx.namespace) as out:
                    out.write(storage.namespace_files_get(namespace, rel))
                downloaded["/" + rel] = uri
        ctx.metric("counter", "downloaded", len(downloaded))
        return TaskResult({"files": downloaded})


@register_task(
    "namespace_delete_files",
    "io.kestra.plugin.core.namespace.DeleteFiles",
    group="Namespace files",
    title="Delete namespace files",
    icon="🗑️",
    summary="Delete the namespace files matching globs.",
)
class DeleteFiles(RunnableTask):
    namespace: str | None = Field(default=None, description=_NS_DOC)
    files: list[str] | str = Field(description="A glob or a list of globs, e.g. /tmp/**.")

    def run(self, ctx: RunContext) -> TaskResult:
        namespace = namespace_of(self, ctx)
        patterns = _patterns(self, ctx)
        storage = ctx.storage
        deleted: list[str] = []
        with storage_errors(self.id):
            for rel in _matching(storage, namespace, patterns):
                storage.namespace_files_delete(namespace, rel)
                deleted.append("/" + rel)
        ctx.metric("counter", "deleted", len(deleted))
        ctx.logger.info(f"deleted {len(deleted)} namespace files")
        return TaskResult({"files": deleted})


