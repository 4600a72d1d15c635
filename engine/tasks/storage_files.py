"""Kestra's internal-storage tasks on whole files (``io.kestra.plugin.core.storage.*``): Write, LocalFiles,
Concat, Split, Size, Delete and PurgeCurrentExecutionFiles.

Files are named by ``lanner:///`` URIs (Kestra's ``kestra:///`` spelling is
read as the same) and a flow only touches the files of its own namespace.
Every task streams: a file is never read into memory whole.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

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
from engine.tasks.globs import matches_any
from engine.tasks.splitting import SplitOptions, extension_of, plan, split_file
from engine.tasks.values import storage_errors, structured

KESTRA_SCHEME = "kestra://"


def storage_uri(value: object, field: str) -> str:
    """A rendered URI of internal storage (``kestra:///`` accepted as Kestra's spelling of ``lanner:///``)."""
    text = str(value).strip()
    if text.startswith(KESTRA_SCHEME):
        text = "lanner://" + text[len(KESTRA_SCHEME):]
    if not text.startswith("lanner:///"):
        raise TaskFailed(f"{field}: {text!r} is not an internal storage URI (lanner:///...): pass a file output or a FILE input")
    return text


def _extension(value: object) -> str:
    ext = str(value or "").strip()
    if ext and not ext.startswith("."):
        ext = "." + ext
    if "/" in ext or "\\" in ext:
        raise TaskFailed(f"extension {ext!r} may not contain a slash")
    return ext


@register_task(
    "storage_write",
    "io.kestra.plugin.core.storage.Write",
    group="Storage",
    title="Write a file",
    icon="✏️",
    summary="Write a text to a file in internal storage; its URI is outputs.<id>.uri.",
)
class Write(RunnableTask):
    content: Any = Field(description="The content of the file (expressions rendered).")
    extension: str | None = Field(default=None, description="The file's extension, e.g. .txt (default .ion).")

    def run(self, ctx: RunContext) -> TaskResult:
        content = ctx.render(self.content)
        data = content if isinstance(content, str) else json.dumps(content, default=str)
        uri = ctx.file_uri("content" + (_extension(ctx.render(self.extension)) if self.extension else ".ion"))
        with ctx.storage.open_write(uri, namespace=ctx.namespace) as out:
            out.write(data.encode("utf-8"))
        return TaskResult({"uri": uri})


@register_task(
    "storage_concat",
    "io.kestra.plugin.core.storage.Concat",
    "io.kestra.core.tasks.storages.Concat",
    group="Storage",
    title="Concatenate files",
    icon="🧷",
    summary="Join stored files one after another into a new file.",
)
class Concat(RunnableTask):
    files: list[str] | str = Field(description="URIs of the files, in order (a list, or an expression/JSON text giving one).")
    separator: str | None = Field(default=None, description="Written after each file.")
    extension: str = Field(default=".tmp", description="Extension of the new file.")

    def run(self, ctx: RunContext) -> TaskResult:
        files = structured(ctx.render(self.files), f"{self.id}.files", list, "a list of URIs")
        uri = ctx.file_uri("concat" + _extension(self.extension))
        separator = ctx.render(self.separator).encode("utf-8") if self.separator is not None else b""
        storage = ctx.storage
        with storage_errors(self.id), storage.open_write(uri, namespace=ctx.namespace) as out:
            for i, item in enumerate(files):
                with storage.open(storage_uri(item, f"{self.id}.files[{i}]"), namespace=ctx.namespace) as src:
                    shutil.copyfileobj(src, out, 1024 * 1024)
                out.write(separator)
        return TaskResult({"uri": uri})


@register_task(
    "storage_split",
    "io.kestra.plugin.core.storage.Split",
    "io.kestra.core.tasks.storages.Split",
    group="Storage",
    title="Split a file",
    icon="✂️",
    summary="Cut a stored file into parts by lines, size or a number of partitions; outputs.<id>.uris lists them.",
)
class Split(RunnableTask, SplitOptions):
    from_: str = Field(alias="from", description="URI of the file to split.")

    def run(self, ctx: RunContext) -> TaskResult:
        source = storage_uri(ctx.render(self.from_), f"{self.id}.from")
        how = plan(self, ctx, self.id)
        ext = extension_of(source)
        with storage_errors(self.id):
            uris = split_file(ctx, source, how, lambda n: f"split-{n}{ext}")
        return TaskResult({"uris": uris})


@register_task(
    "storage_size",
    "io.kestra.plugin.core.storage.Size",
    "io.kestra.core.tasks.storages.Size",
    group="Storage",
    title="Size of a file",
    icon="📏",
    summary="The size in bytes of a stored file, as outputs.<id>.size.",
)
class Size(RunnableTask):
    uri: str = Field(description="URI of the file.")

    def run(self, ctx: RunContext) -> TaskResult:
        uri = storage_uri(ctx.render(self.uri), f"{self.id}.uri")
        with storage_errors(self.id):
            return TaskResult({"size": ctx.storage.size(uri, namespace=ctx.namespace)})


@register_task(
    "storage_delete",
    "io.kestra.plugin.core.storage.Delete",
    "io.kestra.core.tasks.storages.Delete",
    group="Storage",
    title="Delete a file",
    icon="🗑️",
    summary="Delete a stored file; outputs.<id>.deleted says whether it existed.",
)
class Delete(RunnableTask):
    uri: str = Field(description="URI of the file.")
    error_on_missing: bool = Field(default=False, description="Fail when the file does not exist.")

    def run(self, ctx: RunContext) -> TaskResult:
        uri = storage_uri(ctx.render(self.uri), f"{self.id}.uri")
        with storage_errors(self.id):
            deleted = ctx.storage.delete(uri, namespace=ctx.namespace)
        if not deleted and self.error_on_missing:
            raise TaskFailed(f"{self.id}: {uri} does not exist (errorOnMissing is true)")
        return TaskResult({"uri": uri, "deleted": deleted})


@register_task(
    "purge_current_execution_files",
    "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    "io.kestra.plugin.core.storage.PurgeExecution",
    "io.kestra.core.tasks.storages.PurgeExecution",
    group="Storage",
    title="Delete this execution's files",
    icon="🧹",
    summary="Delete every file of the current execution from internal storage (inputs and task outputs).",
)
class PurgeCurrentExecutionFiles(RunnableTask):
    def run(self, ctx: RunContext) -> TaskResult:
        storage = ctx.storage
        uris = storage.execution_files(ctx.namespace, ctx.flow_id, ctx.execution_id)
        for uri in uris:
            storage.delete(uri, namespace=ctx.namespace)
        ctx.logger.info(f"deleted {len(uris)} files of execution {ctx.execution_id}")
        return TaskResult({"uris": uris})


@register_task(
    "local_files",
    "io.kestra.plugin.core.storage.LocalFiles",
    "io.kestra.core.tasks.storages.LocalFiles",
    group="Storage",
    title="Local files",
    icon="📄",
    summary="Create files in the working directory from texts or stored files, and store files it holds.",
)
class LocalFiles(RunnableTask):
    inputs: dict[str, Any] | str | None = Field(
        default=None, description="File name -> content (a text, or the URI of a stored file to copy); a map or JSON text."
    )
    outputs: list[str] | None = Field(default=None, description="Globs of files of the working directory to store, e.g. out/*.csv.")

    def run(self, ctx: RunContext) -> TaskResult:
        with ExitStack() as stack:
            workdir = ctx.working_dir
            if workdir is None:  # outside a WorkingDirectory: a folder of its own, gone afterwards
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lanner-localfiles-")))
            self._write_inputs(ctx, workdir)
            return TaskResult({"uris": self._store_outputs(ctx, workdir)})

    def _write_inputs(self, ctx: RunContext, workdir: Path) -> None:
        files = structured(ctx.render(self.inputs or {}), f"{self.id}.inputs", dict, "a map of file name -> content")
        for name, content in files.items():
            try:
                rel = safe_relative_path(str(name), f"{self.id}.inputs key")
            except StorageError as exc:
                raise TaskFailed(str(exc)) from None
            target = workdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            text = content if isinstance(content, str) else json.dumps(content, default=str)
            if text.startswith(("lanner:///", KESTRA_SCHEME + "/")):
                with ctx.storage.open(storage_uri(text, f"{self.id}.inputs.{name}"), namespace=ctx.namespace) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, 1024 * 1024)
            else:
                target.write_text(text)

    def _store_outputs(self, ctx: RunContext, workdir: Path) -> dict[str, str]:
        uris: dict[str, str] = {}
        patterns = [str(ctx.render(p)) for p in self.outputs or []]
        if not patterns:
            return uris
        root = workdir.resolve()
        for path in sorted(workdir.rglob("*")):
            rel = path.relative_to(workdir).as_posix()
            if path.is_file() and path.resolve().is_relative_to(root) and matches_any(rel, patterns):
                uris[rel] = ctx.output_file(path, rel)
        return uris
