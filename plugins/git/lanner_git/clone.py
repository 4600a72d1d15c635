"""``git_clone`` (Kestra's ``io.kestra.plugin.git.Clone``): clone a repository for the tasks that follow.

Inside a ``working_directory`` task the clone lands in the shared folder (or
its ``directory``), where the scripts after it find the files, as in Kestra.
Elsewhere it lands in a folder of this attempt whose path is the ``directory``
output. A shallow clone (``depth: 1``) of ``branch`` is the default; ``commit``
or ``tag`` fetch the history needed and check that revision out.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from engine.sdk import (
    Field,
    RunContext,
    RunnableTask,
    TaskFailed,
    TaskResult,
    register_task,
    safe_relative_path,
)
from lanner_git.connection import GitConnection, scratch_dir, text_or_none


@register_task(
    "git_clone",
    "io.kestra.plugin.git.Clone",
    group="Git",
    title="Clone a git repository",
    icon="🌿",
    summary="Clone a branch, tag or commit of a git repository (HTTPS with a token or SSH) into the working directory.",
)
class Clone(RunnableTask, GitConnection):
    directory: str | None = Field(default=None, description="Folder of the working directory to clone into (default its root).")
    branch: str | None = Field(default=None, description="Branch to check out (default the repository's default branch).")
    depth: int | str | None = Field(default=1, description="Commits of history to fetch (default 1); ignored with commit or tag.")
    commit: str | None = Field(default=None, description="Commit to check out (detached); the full history is fetched.")
    tag: str | None = Field(default=None, description="Tag to check out (detached); ignored when commit is set.")
    clone_all_branches: bool | str | None = Field(default=None, description="Accepted for Kestra compatibility; the branch's history is fetched.")
    no_tags: bool | str | None = Field(default=None, description="Accepted for Kestra compatibility; a tag is fetched only when tag is set.")

    def run(self, ctx: RunContext) -> TaskResult:
        target = self._target(ctx)
        commit, tag = text_or_none(ctx, self.commit), text_or_none(ctx, self.tag)
        branch = text_or_none(ctx, self.branch)
        depth = None if commit or tag else (ctx.render_as(self.depth, int, "depth") if self.depth is not None else None)
        if depth is not None and depth < 1:
            raise TaskFailed(f"depth: {depth} must be 1 or more")
        non_empty = target.exists() and any(target.iterdir())
        into = scratch_dir(ctx, "clone") / "repo" if non_empty else target
        try:
            repo = self.clone_into(ctx, into, branch=None if commit else (tag or branch), depth=depth)
            if commit:
                _checkout(ctx, repo, commit, "commit")
            if non_empty:
                _merge_into(into, target)
        finally:
            if non_empty:
                shutil.rmtree(into.parent, ignore_errors=True)
        return TaskResult({"directory": str(target)})

    def _target(self, ctx: RunContext) -> Path:
        base = Path(ctx.working_dir) if ctx.working_dir is not None else None
        if base is None:
            base = scratch_dir(ctx, "git")
            ctx.logger.info(f"Not inside a working_directory task: cloning into {base}, "
                            "which only later tasks on this machine can read")
        if self.directory is None:
            return base
        try:
            rel = safe_relative_path(str(ctx.render(self.directory)), "directory")
        except ValueError as exc:
            raise TaskFailed(str(exc)) from None
        return base / rel


def _checkout(ctx: RunContext, repo: Any, rev: str, what: str) -> None:
    from dulwich import porcelain

    try:
        sha = repo[rev.encode()].id if len(rev) == 40 else _resolve_short(repo, rev)
        porcelain.checkout(repo, sha.decode(), force=True)
    except (KeyError, ValueError) as exc:
        raise TaskFailed(f"{what} {rev!r} is not in the repository ({exc})") from None
    ctx.logger.info(f"Checked out {what} {rev} (detached HEAD)")


def _resolve_short(repo: Any, prefix: str) -> bytes:
    matches = [sha for sha in repo.object_store if sha.decode().startswith(prefix.lower())]
    commits = [sha for sha in matches if repo[sha].type_name == b"commit"]
    if len(commits) != 1:
        raise KeyError("no such commit" if not commits else "ambiguous prefix")
    return commits[0]


def _merge_into(source: Path, target: Path) -> None:
    """Move a clone into a folder that already holds files (the clone's files win)."""
    for item in source.iterdir():
        dest = target / item.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        elif dest.exists() or dest.is_symlink():
            dest.unlink()
        shutil.move(str(item), dest)
