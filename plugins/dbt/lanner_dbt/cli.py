"""Kestra's ``io.kestra.plugin.dbt.cli.DbtCLI`` (and the older ``Build``, ``Run``, ``Test``... tasks).

dbt runs as a process in a working directory (the one an enclosing
``WorkingDirectory`` shares, e.g. after a git ``Clone``, else a fresh one) that
holds the project from ``namespaceFiles`` and/or ``inputFiles``; ``profiles``
becomes ``profiles.yml`` there. The ``dbt`` command is the one installed with
Lanner (dbt-core and dbt-duckdb come with this plugin; install other adapters
into the same environment). dbt's JSON log lines become log lines at their
level, a warning ends the task in WARNING, and ``target/run_results.json`` gives
one log line and one ``outputs.<id>.results`` entry per model, test, seed or
snapshot; the artifacts are kept in ``outputs.<id>.outputFiles``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from engine.sdk import (
    Field,
    LannerModel,
    RunContext,
    RunnableTask,
    StorageError,
    TaskFailed,
    TaskResult,
    apply_output_marker,
    parse_output_marker,
    register_task,
    run_process,
    storage_for_context,
)
from lanner_dbt.results import counts, read_json, summarize

GROUP = "dbt"
_LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARN", "warning": "WARN", "error": "ERROR"}
#: dbt never phones home from a Lanner worker: no usage statistics, no version check.
_QUIET_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1", "DBT_VERSION_CHECK": "false", "DBT_USE_COLORS": "false",
    "PYTHONUNBUFFERED": "1",
}


class NamespaceFiles(LannerModel):
    enabled: bool = Field(default=True, description="Copy the namespace's files (the dbt project) into the working directory.")
    include: list[str] | None = Field(default=None, description="Glob patterns of the files to copy (all when empty).")
    exclude: list[str] | None = Field(default=None, description="Glob patterns of files not to copy.")


class KvManifest(LannerModel):
    key: str = Field(description="KV key.")
    namespace: str = Field(description="KV namespace.")


class DbtBase(RunnableTask):
    """The working directory, the process and the artifacts every dbt task shares."""

    profiles: str | None = Field(default=None, description="Content of profiles.yml, written into the working directory.")
    project_dir: str | None = Field(default=None, description="The dbt project's folder, relative to the working directory.")
    parse_run_results: bool = Field(default=True, description="Read target/run_results.json into outputs and one log line per node.")
    env: dict[str, str] | None = Field(default=None, description="Environment variables for dbt (rendered).")
    input_files: dict[str, str] | str | None = Field(
        default=None, description="Files written to the working directory first: name -> content or lanner:/// URI."
    )
    namespace_files: NamespaceFiles | None = Field(default=None, description="Copy the namespace's files (the project) into the working directory.")
    output_files: list[str] | None = Field(default=None, description="Glob patterns of files to keep (outputs.<id>.outputFiles).")
    container_image: str | None = Field(default=None, description="Accepted for Kestra compatibility and ignored: dbt runs on the worker's host.")
    task_runner: dict[str, Any] | None = Field(default=None, description="Only the Process runner exists in Lanner; other runners are refused.")
    docker: dict[str, Any] | None = Field(default=None, description="Not supported: Lanner has no Docker runner.")

    @model_validator(mode="after")
    def _process_runner_only(self) -> DbtBase:
        kind = (self.task_runner or {}).get("type")
        if kind not in (None, "io.kestra.plugin.core.runner.Process", "process"):
            raise ValueError(f"taskRunner {kind!r} is not available in Lanner: dbt runs on the worker's host (io.kestra.plugin.core.runner.Process)")
        if self.docker is not None:
            raise ValueError("docker is not available in Lanner: dbt runs on the worker's host; remove the docker property")
        return self

    # -- what subclasses say --

    def command_lines(self, ctx: RunContext, workdir: Path) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- running --

    def run(self, ctx: RunContext) -> TaskResult:
        if self.container_image:
            ctx.logger.debug("containerImage is ignored: dbt runs on the worker's host")
        shared = ctx.working_dir is not None
        workdir = Path(ctx.working_dir).resolve() if shared else Path(tempfile.mkdtemp(prefix=f"lanner-{ctx.task_id}-"))
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._prepare(ctx, workdir)
            outputs, warned, exit_code = self._run_commands(ctx, workdir)
            project = workdir / str(ctx.render(self.project_dir)) if self.project_dir else workdir
            outputs.update(self._artifacts(ctx, workdir, project))
            if exit_code != 0:
                failed = [r["uniqueId"] for r in outputs.get("results", []) if r.get("status") in ("error", "fail", "runtime error")]
                detail = f": {', '.join(failed[:5])} failed" if failed else ""
                raise TaskFailed(f"dbt ended with exit code {exit_code}{detail} (see the logs)", outputs=outputs)
            return TaskResult(outputs, state="WARNING" if warned else "SUCCESS")
        finally:
            if not shared:
                shutil.rmtree(workdir, ignore_errors=True)

    def _prepare(self, ctx: RunContext, workdir: Path) -> None:
        if self.namespace_files is not None and self.namespace_files.enabled:
            copied = storage_for_context(ctx).copy_namespace_files(ctx.namespace, workdir, self.namespace_files.include, self.namespace_files.exclude)
            ctx.logger.debug(f"{len(copied)} namespace file(s) copied into the working directory")
        files = ctx.render(self.input_files, {"workingDir": str(workdir)}) if self.input_files is not None else {}
        if isinstance(files, str):
            files = json.loads(files)
        for name, content in (files or {}).items():
            target = (workdir / str(name)).resolve()
            if not target.is_relative_to(workdir):
                raise TaskFailed(f"inputFiles: {name!r} must be a relative path inside the working directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            text = str(content)
            if text.startswith("lanner:///") and "\n" not in text:
                try:
                    target.write_bytes(storage_for_context(ctx).read_bytes(text.strip(), namespace=ctx.namespace))
                except StorageError as exc:
                    raise TaskFailed(f"inputFiles.{name}: {exc}") from None
            else:
                target.write_text(text, encoding="utf-8")
        if self.profiles:
            path = self.profiles_path(workdir)
            if path.exists():
                ctx.logger.info(f"{path.name} already exists in the working directory: it is overwritten with 'profiles'")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(ctx.render(self.profiles)), encoding="utf-8")

    def profiles_path(self, workdir: Path) -> Path:
        return workdir / "profiles.yml"

    def _run_commands(self, ctx: RunContext, workdir: Path) -> tuple[dict[str, Any], bool, int]:
        lines = self.command_lines(ctx, workdir)
        script = "set -e\n" + "\n".join(lines)
        env = {**_QUIET_ENV, **{str(k): str(v) for k, v in (ctx.render(self.env or {}) or {}).items()}}
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", os.environ.get("PATH", ""))])
        captured: dict[str, Any] = {}
        warned = [False]

        def on_line(stream: str, line: str) -> None:
            marker = parse_output_marker(line)
            if marker is not None:
                apply_output_marker(ctx, marker, captured)
                return
            level, text = _dbt_line(line, stream)
            if level == "WARN":
                warned[0] = True
            if text:
                ctx.logger.log(level, text)

        ctx.logger.debug(f"Running: {shlex.join(['/bin/sh', '-c', script])[:2000]}")
        try:
            result = run_process(["/bin/sh", "-c", script], cwd=workdir, env=env, timeout=ctx.timeout, kill_event=ctx.kill_event, on_line=on_line)
        except OSError as exc:
            raise TaskFailed(f"could not start dbt's shell: {exc}") from None
        if result.killed or result.timed_out:
            raise TaskFailed("Timed out" if result.timed_out else "Killed")
        return {"exitCode": result.exit_code, "vars": captured}, warned[0], result.exit_code or 0

    def _artifacts(self, ctx: RunContext, workdir: Path, project: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        files: dict[str, str] = {}
        manifest_path = project / "target" / "manifest.json"
        results_path = project / "target" / "run_results.json"
        manifest = read_json(manifest_path) if manifest_path.is_file() else None
        if manifest_path.is_file():
            files["manifest.json"] = ctx.output_file(manifest_path, "manifest.json")
        if self.parse_run_results and results_path.is_file():
            run_results = read_json(results_path)
            if run_results is not None:
                results, lines = summarize(run_results, manifest)
                for level, text in lines:
                    ctx.logger.log(level, text)
                out["results"] = results
                out["counts"] = counts(results)
            files["run_results.json"] = ctx.output_file(results_path, "run_results.json")
        for pattern in ctx.render(self.output_files or []):
            for path in sorted(workdir.glob(str(pattern))):
                if path.is_file() and path.resolve().is_relative_to(workdir.resolve()):
                    name = path.relative_to(workdir).as_posix()
                    files.setdefault(name, ctx.output_file(path, name))
        if files:
            out["outputFiles"] = files
        return out


def _dbt_line(line: str, stream: str) -> tuple[str, str]:
    """A dbt log line (JSON with --log-format json, else text) as (level, message)."""
    text = line.rstrip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("info"), dict):
            info = data["info"]
            return _LEVELS.get(str(info.get("level", "info")).lower(), "INFO"), str(info.get("msg", "")).rstrip()
    return ("WARN" if stream == "stderr" and text else "INFO"), text


@register_task(
    "io.kestra.plugin.dbt.cli.DbtCLI",
    group=GROUP,
    title="dbt commands",
    icon="🧱",
    summary="Run dbt commands (dbt build, run, test...) on a project from namespace or input files; one log line per model.",
)
class DbtCLI(DbtBase):
    commands: list[str] = Field(min_length=1, description="Commands run in order; those starting with dbt get --project-dir and --log-format.")
    before_commands: list[str] | None = Field(default=None, description="Shell commands run first (e.g. dbt deps).")
    log_format: Literal["JSON", "TEXT", "DEBUG", "NONE"] = Field(default="JSON", description="dbt's --log-format (JSON lets Lanner keep each line's level).")
    engine: Literal["CORE", "FUSION"] = Field(default="CORE", description="CORE (dbt-core) only; FUSION needs dbt's Fusion engine, which Lanner does not ship.")
    store_manifest: KvManifest | None = Field(default=None, description="Not supported yet: keep target/manifest.json from outputs.<id>.outputFiles instead.")
    load_manifest: KvManifest | None = Field(default=None, description="Not supported yet: pass a manifest with inputFiles (target/manifest.json).")

    def command_lines(self, ctx: RunContext, workdir: Path) -> list[str]:
        if self.engine == "FUSION":
            raise TaskFailed("engine FUSION is not available in Lanner: use CORE (dbt-core)")
        if self.store_manifest or self.load_manifest:
            ctx.logger.warn("storeManifest/loadManifest are not supported yet: the manifest is kept in outputs.<id>.outputFiles")
        project = ctx.render(self.project_dir)
        lines = [str(c) for c in ctx.render(self.before_commands or [], {"workingDir": str(workdir)})]
        for command in ctx.render(self.commands, {"workingDir": str(workdir)}):
            command = str(command).strip()
            if command.startswith("dbt"):
                if project and "--project-dir" not in command:
                    command += f" --project-dir {shlex.quote(str(project))}"
                if self.log_format != "NONE" and "--log-format" not in command:
                    command += f" --log-format {self.log_format.lower()}"
                if "--log-path" not in command:
                    command += " --log-path logs"
            lines.append(command)
        return lines


class LegacyDbt(DbtBase):
    """Kestra's older one-command tasks (``io.kestra.plugin.dbt.cli.Build``...)."""

    command: ClassVar[str] = "build"
    runs_models: ClassVar[bool] = True

    dbt_path: str = Field(default="./bin/dbt", description="The dbt executable; Kestra's container default ./bin/dbt means the dbt installed with Lanner.")
    fail_fast: bool = Field(default=False, description="Stop at the first failure (--fail-fast).")
    warn_error: bool = Field(default=False, description="Turn warnings into errors (--warn-error).")
    debug: bool = Field(default=False, description="Debug logging (--debug).")
    thread: int | None = Field(default=None, description="Threads (--threads).")
    full_refresh: bool = Field(default=False, description="Rebuild incremental models (--full-refresh).")
    target: str | None = Field(default=None, description="Target of the profile (--target).")
    selector: str | None = Field(default=None, description="Selector name from selectors.yml (--selector).")
    select: list[str] | None = Field(default=None, description="Nodes to include (--select).")
    exclude: list[str] | None = Field(default=None, description="Nodes to exclude (--exclude).")
    runner: str | None = Field(default=None, description="Deprecated runner; only PROCESS is available.")

    def profiles_path(self, workdir: Path) -> Path:
        return workdir / ".profile" / "profiles.yml"

    def command_lines(self, ctx: RunContext, workdir: Path) -> list[str]:
        path = str(ctx.render(self.dbt_path))
        words = ["dbt" if path in ("./bin/dbt", "dbt") else path, "--log-format", "json"]
        words += ["--debug"] * self.debug + ["--fail-fast"] * self.fail_fast + ["--warn-error"] * self.warn_error
        words += self.command.split()
        if self.profiles:
            words += ["--profiles-dir", str(workdir / ".profile")]
        if self.runs_models:
            if self.thread:
                words += ["--threads", str(self.thread)]
            if self.full_refresh:
                words.append("--full-refresh")
            for flag, value in (("--target", self.target), ("--selector", self.selector)):
                if value:
                    words += [flag, str(ctx.render(value))]
            for flag, values in (("--select", self.select), ("--exclude", self.exclude)):
                if values:
                    words += [flag, *(str(v) for v in ctx.render(values))]
        project = workdir / str(ctx.render(self.project_dir)) if self.project_dir else workdir
        words += ["--project-dir", str(project), "--log-path", "logs"]
        return [shlex.join(words)]


def _legacy(name: str, command: str, title: str, runs_models: bool = True) -> type[LegacyDbt]:
    cls = type(name, (LegacyDbt,), {"command": command, "runs_models": runs_models, "__module__": __name__, "__qualname__": name})
    return register_task(
        f"io.kestra.plugin.dbt.cli.{name}", group=GROUP, title=title, icon="🧱",
        summary=f"Older Kestra dbt task: run `dbt {command}` (prefer DbtCLI with commands).",
    )(cls)


Build = _legacy("Build", "build", "dbt build")
Run = _legacy("Run", "run", "dbt run")
Test = _legacy("Test", "test", "dbt test")
Seed = _legacy("Seed", "seed", "dbt seed")
Snapshot = _legacy("Snapshot", "snapshot", "dbt snapshot")
Compile = _legacy("Compile", "compile", "dbt compile")
Deps = _legacy("Deps", "deps", "dbt deps", runs_models=False)
Freshness = _legacy("Freshness", "source freshness", "dbt source freshness", runs_models=False)
List = _legacy("List", "ls", "dbt ls")
