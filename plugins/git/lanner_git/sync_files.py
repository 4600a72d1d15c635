"""``git_sync_namespace_files`` (Kestra's ``io.kestra.plugin.git.SyncNamespaceFiles``): namespace files from git.

Every file of ``gitDirectory`` (default ``_files``, subfolders included)
becomes the namespace file of the same relative path in ``namespace`` (default
the flow's own): new ones are ADDED, changed ones OVERWRITTEN, equal ones
UNCHANGED; ``delete: true`` removes the namespace files git no longer has.
"""

from __future__ import annotations

import shutil

from engine.sdk import Field, RunContext, StorageError, TaskFailed, TaskResult, register_task
from lanner_git.sync import SyncReport, SyncTask, files_under


@register_task(
    "git_sync_namespace_files",
    "io.kestra.plugin.git.SyncNamespaceFiles",
    group="Git",
    title="Sync namespace files from git",
    icon="🗂️",
    summary="Make a namespace's files those of a git folder (dry run, delete what git no longer has).",
)
class SyncNamespaceFiles(SyncTask):
    namespace: str = Field(default="{{ flow.namespace }}", description="Namespace receiving the files (default the flow's).")
    git_directory: str = Field(default="_files", description="Folder of the repository holding the files (default _files).")

    def run(self, ctx: RunContext) -> TaskResult:
        namespace = str(ctx.render(self.namespace)).strip()
        dry_run, delete = self.flags(ctx)
        git_directory = str(ctx.render(self.git_directory))
        storage = ctx.storage
        try:
            existing = set(storage.namespace_files_list(namespace))
        except StorageError as exc:
            raise TaskFailed(f"namespace: {exc}") from None
        scratch, folder = self.checkout(ctx, git_directory)
        report, seen = SyncReport(), set()
        try:
            for rel, path in files_under(folder):
                seen.add(rel)
                data = path.read_bytes()
                if rel not in existing:
                    state = "ADDED"
                elif storage.namespace_files_get(namespace, rel) == data:
                    state = "UNCHANGED"
                else:
                    state = "OVERWRITTEN"
                if state != "UNCHANGED" and not dry_run:
                    storage.namespace_files_put(namespace, rel, data)
                git_path = f"{git_directory.strip('/')}/{rel}" if git_directory.strip("/") else rel
                report.add(state, gitPath=git_path, kestraPath=f"/{rel}")
                if state != "UNCHANGED":
                    ctx.logger.info(f"{'Would be ' if dry_run else ''}{state.lower()}: {namespace} file {rel}")
        except StorageError as exc:
            raise TaskFailed(f"Writing the namespace files of {namespace} failed: {exc}") from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if delete:
            for rel in sorted(existing - seen):
                if not dry_run:
                    storage.namespace_files_delete(namespace, rel)
                report.add("DELETED", kestraPath=f"/{rel}")
                ctx.logger.info(f"{'Would be ' if dry_run else ''}deleted: {namespace} file {rel} (not in git)")
        counts = report.counts()
        ctx.logger.info(f"{'Dry run: ' if dry_run else ''}{len(seen)} file(s) in git; "
                        + ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n))
        return TaskResult({"files": report.store(ctx), **{k.lower(): v for k, v in counts.items()}})
