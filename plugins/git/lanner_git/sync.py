"""What ``git_sync_flows`` and ``git_sync_namespace_files`` share: clone the branch, find the folder, report the diff.

A git branch is the source of truth: each run clones it (shallow), compares
the folder ``gitDirectory`` with what Lanner has, applies the difference
(``dryRun: true`` only reports it; ``delete: true`` also removes what git no
longer has) and writes one line per item to a diff file in internal storage
(Kestra's Ion format: ``{gitPath:"...",syncState:"ADDED",...}``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.sdk import Field, RunContext, RunnableTask, TaskFailed, safe_relative_path
from lanner_git.connection import GitConnection, scratch_dir

#: Files a sync never takes from git (Kestra's list).
IGNORED = {".git", ".gitignore", ".gitkeep", ".kestraignore"}


@dataclass
class SyncReport:
    """What one sync did (or would do, in a dry run), item by item."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, state: str, **fields: Any) -> None:
        self.rows.append({"syncState": state, **{k: v for k, v in fields.items() if v is not None}})

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("ADDED", "UPDATED", "OVERWRITTEN", "UNCHANGED", "DELETED")}
        for row in self.rows:
            out[row["syncState"]] = out.get(row["syncState"], 0) + 1
        return out

    def store(self, ctx: RunContext) -> str:
        """Write the diff (one Ion struct per line, deletions first, then by git path) and keep it: its URI."""
        ordered = sorted(self.rows, key=lambda r: (r.get("gitPath") is not None, r.get("gitPath") or ""))
        folder = scratch_dir(ctx, "diff")
        try:
            path = folder / "diff.ion"
            path.write_text("".join(ion_struct(row) + "\n" for row in ordered), encoding="utf-8")
            return ctx.output_file(path, f"{ctx.task_id}-diff.ion")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def ion_struct(row: dict[str, Any]) -> str:
    """A flat map of strings and numbers as Ion text (field names are symbols, strings JSON-escaped, which Ion reads)."""
    return "{" + ",".join(f"{key}:{json.dumps(value, ensure_ascii=False)}" for key, value in row.items()) + "}"


class SyncTask(RunnableTask, GitConnection):
    """Kestra's ``AbstractSyncTask`` properties and the clone-then-compare frame."""

    branch: str = Field(default="main", description="Branch holding the source of truth (default main).")
    dry_run: bool | str = Field(default=False, description="Only report what would change (in the diff file and the logs).")
    delete: bool | str = Field(default=False, description="Also delete what is in Lanner but no longer in git (default false).")
    fail_on_missing_directory: bool | str = Field(default=True, description="Fail when gitDirectory is not in the branch (default true); false treats it as empty.")

    def checkout(self, ctx: RunContext, git_directory: str) -> tuple[Path, Path]:
        """Clone the branch into a scratch folder; (scratch folder, the gitDirectory in it). Remove the scratch folder after."""
        scratch = scratch_dir(ctx, "sync")
        branch = str(ctx.render(self.branch)).strip() or "main"
        try:
            self.clone_into(ctx, scratch / "repo", branch=branch, depth=1)
            rel = safe_relative_path(git_directory, "gitDirectory") if git_directory.strip("/ ") else ""
        except ValueError as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            raise TaskFailed(str(exc)) from None
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        folder = scratch / "repo" / rel if rel else scratch / "repo"
        if folder.is_file():
            shutil.rmtree(scratch, ignore_errors=True)
            raise TaskFailed(f"gitDirectory {git_directory!r} is a file in branch {branch!r}, not a folder")
        if not folder.is_dir():
            if ctx.render_as(self.fail_on_missing_directory, bool, "failOnMissingDirectory"):
                shutil.rmtree(scratch, ignore_errors=True)
                raise TaskFailed(f"gitDirectory {git_directory!r} was not found in branch {branch!r}: check the path, "
                                 "or set failOnMissingDirectory: false to treat it as empty")
            folder.mkdir(parents=True)
        return scratch, folder

    def flags(self, ctx: RunContext) -> tuple[bool, bool]:
        """(dryRun, delete) rendered."""
        return ctx.render_as(self.dry_run, bool, "dryRun"), ctx.render_as(self.delete, bool, "delete")


def files_under(folder: Path, *, recursive: bool = True) -> Iterator[tuple[str, Path]]:
    """(path relative to ``folder`` with ``/``, file) for every file git brings, ignored names and hidden folders left out."""
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    for path in sorted(pattern):
        rel = path.relative_to(folder)
        if any(part in IGNORED for part in rel.parts) or not path.is_file():
            continue
        yield rel.as_posix(), path
