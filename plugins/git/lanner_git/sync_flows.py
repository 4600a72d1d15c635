"""``git_sync_flows`` (Kestra's ``io.kestra.plugin.git.SyncFlows``): deploy the flows of a git branch.

The YAML files of ``gitDirectory`` (default ``_flows``) become flows of
``targetNamespace``; with ``includeChildNamespaces``, a file in ``a/b/`` goes to
``targetNamespace.a.b``. Each file's ``namespace:`` line is rewritten to that
namespace. Every file is validated before anything is deployed, so one invalid
flow changes nothing (``ignoreInvalidFlows: true`` skips it with a warning).
Deploying goes through the runner (``ctx.flows``): the same validation and
revisions as the API; an unchanged flow keeps its revision. ``delete: true``
removes the flows of those namespaces that git no longer has, never the flow
running the sync.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import ClassVar

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, register_task
from lanner_git.sync import SyncReport, SyncTask, files_under

NAMESPACE_LINE = re.compile(r"(?m)^namespace:[^\n]*$")


@register_task(
    "git_sync_flows",
    "io.kestra.plugin.git.SyncFlows",
    group="Git",
    title="Sync flows from git",
    icon="🔄",
    summary="Deploy the flows of a git branch into a namespace (dry run, delete what git no longer has).",
)
class SyncFlows(SyncTask):
    target_namespace: str = Field(min_length=1, description="Namespace the flows are deployed to (subfolders become child namespaces).")
    git_directory: str = Field(default="_flows", description="Folder of the repository holding the flow files (default _flows).")
    include_child_namespaces: bool | str = Field(default=False, description="Also sync subfolders, as child namespaces (default false).")
    ignore_invalid_flows: bool | str = Field(default=False, description="Skip invalid flow files with a warning instead of failing (default false).")

    extensions: ClassVar[tuple[str, ...]] = (".yml", ".yaml")
    uses_services: ClassVar[bool] = True  # deploys through ctx.flows

    def run(self, ctx: RunContext) -> TaskResult:
        namespace = str(ctx.render(self.target_namespace)).strip()
        children = ctx.render_as(self.include_child_namespaces, bool, "includeChildNamespaces")
        ignore_invalid = ctx.render_as(self.ignore_invalid_flows, bool, "ignoreInvalidFlows")
        dry_run, delete = self.flags(ctx)
        git_directory = str(ctx.render(self.git_directory))
        scratch, folder = self.checkout(ctx, git_directory)
        try:
            sources = self._read(ctx, folder, git_directory, namespace, children, ignore_invalid)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        before = {(f.namespace, f.id): f for f in ctx.flows.list(namespace, children=children)}
        report, seen = SyncReport(), set()
        for git_path, source, flow_ns, flow_id in sources:
            seen.add((flow_ns, flow_id))
            current = before.get((flow_ns, flow_id))
            if dry_run:
                unchanged = current is not None and _same(current.source, source)
                revision = current.revision if unchanged else (current.revision + 1 if current else 1)
            else:
                revision = ctx.flows.deploy(source).revision
                unchanged = current is not None and current.revision == revision
            state = "ADDED" if current is None else ("UNCHANGED" if unchanged else "UPDATED")
            report.add(state, gitPath=git_path, flowId=flow_id, namespace=flow_ns, revision=revision)
            if state != "UNCHANGED":
                ctx.logger.info(f"{'Would be ' if dry_run else ''}{state.lower()}: flow {flow_ns}.{flow_id} (revision {revision}) from {git_path}")
        if delete:
            own = (ctx.namespace, ctx.flow_id)
            for key, flow in sorted(before.items()):
                if key in seen or key == own:
                    continue
                if not dry_run:
                    ctx.flows.delete(flow.namespace, flow.id)
                report.add("DELETED", flowId=flow.id, namespace=flow.namespace, revision=flow.revision)
                ctx.logger.info(f"{'Would be ' if dry_run else ''}deleted: flow {flow.namespace}.{flow.id} (not in git)")
        counts = report.counts()
        ctx.logger.info(f"{'Dry run: ' if dry_run else ''}{len(sources)} flow file(s) in git; "
                        + ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n))
        return TaskResult({"flows": report.store(ctx), **{k.lower(): v for k, v in counts.items()}})

    def _read(self, ctx: RunContext, folder: Path, git_directory: str, namespace: str, children: bool,
              ignore_invalid: bool) -> list[tuple[str, str, str, str]]:
        """(git path, source with its namespace rewritten, namespace, flow id) of every valid flow file, all checked first."""
        out, problems = [], []
        for rel, path in files_under(folder, recursive=children):
            if not rel.endswith(self.extensions):
                continue
            sub = rel.rpartition("/")[0]
            flow_ns = namespace + ("." + sub.replace("/", ".") if sub else "")
            git_path = f"{git_directory.strip('/')}/{rel}" if git_directory.strip("/") else rel
            source = _with_namespace(path.read_text(encoding="utf-8"), flow_ns)
            errors = ctx.flows.check(source)
            if errors:
                message = f"Invalid flow imported from git ({git_path}): {errors[0]}"
                if ignore_invalid:
                    ctx.logger.warn(message)
                    continue
                problems.append(message)
                continue
            flow_id = _flow_id(source)
            out.append((git_path, source, flow_ns, flow_id))
        if problems:
            more = f" (and {len(problems) - 1} more invalid file(s))" if len(problems) > 1 else ""
            raise TaskFailed(problems[0] + more + "; nothing was deployed (ignoreInvalidFlows: true skips invalid files)")
        return out


def _with_namespace(source: str, namespace: str) -> str:
    """The flow source with its top-level ``namespace:`` set to ``namespace`` (added when missing)."""
    line = f"namespace: {namespace}"
    if NAMESPACE_LINE.search(source):
        return NAMESPACE_LINE.sub(line, source, count=1).rstrip() + "\n"
    return line + "\n" + source.rstrip() + "\n"


def _flow_id(source: str) -> str:
    import yaml

    data = yaml.safe_load(source)
    return str(data["id"])


def _same(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()
