"""Kestra's ``namespaceFiles`` property (not the namespace-file tasks): the namespace's files copied into a task's working directory.

Script tasks, notebooks and the WorkingDirectory share it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from engine.sdk import LannerModel, RunContext, StorageError, TaskFailed, storage_for_context


class NamespaceFiles(LannerModel):
    """Which namespace files are copied into the working directory before the run."""

    enabled: bool = Field(default=True, description="Copy the namespace's files into the working directory.")
    include: list[str] | None = Field(
        default=None, description="Glob patterns of the files to copy (all when empty); `*` also matches `/`."
    )
    exclude: list[str] | None = Field(default=None, description="Glob patterns of files not to copy.")
    namespaces: list[str] | None = Field(
        default=None,
        description="Namespaces whose files are copied, in order (a later one's file replaces an earlier one's); "
        "default: the flow's own. Lanner keeps namespaces apart: the flow's namespace and its parents only.",
    )
    folder_per_namespace: bool = Field(
        default=False, description="Copy each namespace's files into a folder named after the namespace instead of the root."
    )

    def copy_into(self, ctx: RunContext, workdir: Path) -> int:
        """Copy the selected namespace files into ``workdir``; the number copied. TaskFailed names a refused namespace."""
        if not self.enabled:
            return 0
        storage = storage_for_context(ctx)
        own = ctx.namespace
        allowed = [".".join(own.split(".")[:i]) for i in range(len(own.split(".")), 0, -1)]
        copied = 0
        for namespace in [str(n) for n in ctx.render(self.namespaces or [own])]:
            if namespace not in allowed:
                raise TaskFailed(
                    f"namespaceFiles.namespaces: a flow of namespace {own} may read the files of its own namespace and "
                    f"its parents ({', '.join(allowed)}), not of {namespace}"
                )
            target = workdir / namespace if self.folder_per_namespace else workdir
            target.mkdir(parents=True, exist_ok=True)
            try:
                copied += len(storage.copy_namespace_files(namespace, target, self.include, self.exclude))
            except StorageError as exc:
                raise TaskFailed(f"namespaceFiles: {exc}") from None
        return copied
