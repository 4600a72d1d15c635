"""Script tasks: ``python`` and ``shell``, Kestra's Script/Commands tasks run as local processes.

Both share :class:`ScriptTask`, which carries Kestra's properties so existing
flows validate unchanged. Lanner only has Kestra's *Process* task runner: the
script runs on the worker's host, with the same Python interpreter as Lanner
(so Lanner's environment is the script's environment). Docker runners, images
to pull and packages to install at run time are refused at validation, with a
message saying what to do instead, rather than silently ignored.

A script hands values back by printing ``::{"outputs": {...}}::``; they land in
``outputs.<id>.vars``. Files matching ``outputFiles`` go to internal storage.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from engine.sdk import (
    LOST_MESSAGE,
    LannerModel,
    ProcessResult,
    RunContext,
    RunnableTask,
    StorageError,
    TaskFailed,
    TaskResult,
    format_duration,
    parse_output_marker,
    register_task,
    run_process,
    storage_for_context,
)
from engine.tasks.notebook import NamespaceFiles

PROCESS_RUNNERS = ("io.kestra.plugin.core.runner.Process", "process")
_PROCESS_RUNNER = PROCESS_RUNNERS[0]
_POSIX_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"}
_GLOB_CHARS = set("*?[")


def _runner_message(type_name: str) -> str:
    return (
        f"taskRunner type '{type_name}' is not available in Lanner: "
        f"only {_PROCESS_RUNNER} (run on the worker's host) is supported"
    )


def _bad_relative(name: str) -> bool:
    """True for names that could leave the working directory (absolute, ``..``, empty)."""
    p = PurePosixPath(name.replace("\\", "/"))
    return not name.strip() or p.is_absolute() or ".." in p.parts


class TaskRunner(LannerModel):
    """Where a script runs. Lanner has one runner: a process on the worker's host."""

    type: str = Field(
        description=f"The task runner type; only {_PROCESS_RUNNER} (or `process`) is available.",
        json_schema_extra={"enum": list(PROCESS_RUNNERS)},
    )

    @model_validator(mode="before")
    @classmethod
    def _only_process(cls, data: object) -> Any:
        # Checked before the fields so a Docker runner's own properties (pullPolicy, cpu...)
        # do not bury the one error that matters under "unknown property" errors.
        if isinstance(data, dict):
            t = data.get("type")
            if isinstance(t, str) and t not in PROCESS_RUNNERS:
                raise ValueError(_runner_message(t))
        return data


class ScriptTask(RunnableTask):
    """Kestra's script properties, shared by ``python`` and ``shell``."""

    #: Whether a ``main.py`` in inputFiles is a valid program on its own (legacy Python task).
    main_file: ClassVar[str | None] = None

    script: str | None = Field(default=None, description="The script to run (Script form); expressions are rendered.")
    commands: list[str] | None = Field(
        default=None, description="Shell commands run one after another with the interpreter (Commands form)."
    )
    input_files: dict[str, str] | str | None = Field(
        default=None,
        description=(
            "Files written to the working directory before the run: file name (may contain sub-folders) -> content. "
            "Contents are rendered; a string is an expression that renders to such a map."
        ),
    )
    output_files: list[str] | None = Field(
        default=None,
        description=(
            "Glob patterns (relative to the working directory) of files to keep in internal storage; "
            "they appear in outputs.<id>.outputFiles. A plain name is also available as {{ outputFiles.<name> }}."
        ),
    )
    env: dict[str, str] | None = Field(default=None, description="Environment variables for the process; values are rendered.")
    before_commands: list[str] | None = Field(
        default=None, description="Shell commands run before the script or commands (e.g. to activate an environment)."
    )
    warning_on_std_err: bool = Field(
        default=True, description="When true (Kestra's default), any output on stderr ends the task in WARNING instead of SUCCESS."
    )
    interpreter: list[str] | None = Field(
        default=None, description="Command that runs the commands, which are passed as its last argument. Default: /bin/sh -c."
    )
    task_runner: TaskRunner | None = Field(
        default=None, description=f"Where the script runs; only {_PROCESS_RUNNER} (the worker's host) is available."
    )
    container_image: str | None = Field(
        default=None,
        json_schema_extra={"deprecated": True},
        description="Accepted for Kestra compatibility and ignored: Lanner runs scripts as local processes.",
    )
    docker: dict[str, Any] | None = Field(
        default=None, json_schema_extra={"deprecated": True}, description="Not supported: Lanner has no Docker runner."
    )
    args: list[str] | None = Field(
        default=None, description="Arguments given to the Python program (legacy Python task: python main.py <args>)."
    )
    exit_on_failed: bool = Field(
        default=True, description="Stop at the first failing command (set -e) and fail the task (legacy Bash task)."
    )
    namespace_files: NamespaceFiles | None = Field(
        default=None, description="Copy the namespace's files (lanner namespace files upload) into the working directory."
    )
    requirements: list[str] | None = Field(
        default=None,
        json_schema_extra={"deprecated": True},
        description="Not supported: Lanner installs no packages at run time.",
    )
    runner: Literal["PROCESS"] | None = Field(
        default=None, json_schema_extra={"deprecated": True}, description="Legacy runner; only PROCESS is available."
    )

    # --- validation -----------------------------------------------------------------------------

    @field_validator("docker", mode="before")
    @classmethod
    def _no_docker(cls, value: object) -> Any:
        if value is not None:
            raise ValueError(
                "docker is not available in Lanner: only the Process runner (run on the worker's host) is supported; "
                "remove the docker property"
            )
        return value

    @field_validator("requirements", mode="before")
    @classmethod
    def _no_requirements(cls, value: object) -> Any:
        if value:
            raise ValueError(
                "requirements are not installed at run time by Lanner: install these packages into "
                "Lanner's Python environment instead and remove the requirements property"
            )
        return value

    @field_validator("runner", mode="before")
    @classmethod
    def _process_runner_only(cls, value: object) -> Any:
        if value is not None and value != "PROCESS":
            raise ValueError(f"runner {value!r} is not available in Lanner: only PROCESS (run on the worker's host) is supported")
        return value

    @field_validator("input_files")
    @classmethod
    def _relative_input_files(cls, value: object) -> Any:
        if isinstance(value, dict):
            for name in value:
                if _bad_relative(name):
                    raise ValueError(f"file name {name!r} must be a relative path inside the working directory")
        return value

    @field_validator("output_files")
    @classmethod
    def _relative_output_files(cls, value: Any) -> Any:
        for pattern in value or []:
            if _bad_relative(pattern):
                raise ValueError(f"pattern {pattern!r} must be relative to the working directory (no leading / and no ..)")
        return value

    @field_validator("interpreter")
    @classmethod
    def _non_empty_interpreter(cls, value: object) -> Any:
        if value is not None and not value:
            raise ValueError("interpreter must name a program, e.g. ['/bin/sh', '-c']")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> ScriptTask:
        if self.script is not None and self.commands is not None:
            raise ValueError("set either 'script' or 'commands', not both")
        if self.script is None and self.commands is None and not self._may_run_main_file():
            raise ValueError(self._form_hint())
        return self

    def _may_run_main_file(self) -> bool:
        if self.main_file is None:
            return False
        # An expression may render to a map holding the main file: checked at run time.
        return isinstance(self.input_files, str) or (isinstance(self.input_files, dict) and self.main_file in self.input_files)

    def _form_hint(self) -> str:
        return "set 'script' (a multi-line script) or 'commands' (a list of commands)"

    # --- running --------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> TaskResult:
        if ctx.killed:
            raise TaskFailed("Killed")
        if self.container_image:
            ctx.logger.warn("containerImage is ignored: Lanner runs scripts with the Process runner")
        workdir, created = _working_dir(ctx)
        keep = False
        try:
            extra = {"workingDir": str(workdir), "outputFiles": self._output_paths(workdir)}
            if self.namespace_files is not None and self.namespace_files.enabled:
                copied = storage_for_context(ctx).copy_namespace_files(
                    ctx.namespace, workdir, self.namespace_files.include, self.namespace_files.exclude
                )
                ctx.logger.debug(f"{len(copied)} namespace file(s) copied into the working directory")
            names = self._write_input_files(ctx, workdir, extra)
            argv, temp_file = self._argv(ctx, workdir, extra, names)
            env = self._env(ctx, extra)
            why_fresh = self._why_fresh(argv)
            captured: dict[str, Any] = {}
            stderr_seen = [0]

            def on_line(stream: str, line: str) -> None:
                marker = parse_output_marker(line)
                if marker is not None:
                    _capture(ctx, marker, captured)
                elif stream == "stderr":
                    stderr_seen[0] += 1
                    ctx.logger.warn(line)
                else:
                    ctx.logger.info(line)

            def on_start(how: str) -> None:
                if why_fresh is not None:
                    how = f"in a fresh interpreter: {why_fresh}" if why_fresh else "in a fresh process"
                ctx.logger.debug(f"Running {shlex.join(argv)[:2000]} in {workdir}, {how}")

            try:
                result = run_process(
                    argv,
                    cwd=workdir,
                    env=env,
                    timeout=ctx.timeout,
                    kill_event=ctx.kill_event,
                    on_line=on_line,
                    fork_server=why_fresh is None,
                    on_start=on_start,
                )
            except OSError as exc:
                raise TaskFailed(f"Could not start {argv[0]!r}: {exc.strerror or exc}") from exc
            finally:
                if temp_file is not None:
                    temp_file.unlink(missing_ok=True)
            outputs: dict[str, Any] = {"exitCode": _exit_code(result), "vars": captured}
            _raise_if_failed(ctx, result, outputs)
            files = self._collect_output_files(ctx, workdir)
            if files:
                outputs["outputFiles"] = files
                keep = created and ctx.put_file is None  # the outputs point into the directory
            state = "WARNING" if self.warning_on_std_err and stderr_seen[0] else "SUCCESS"
            return TaskResult(outputs, state=state)
        finally:
            if created and not keep:
                shutil.rmtree(workdir, ignore_errors=True)

    def _why_fresh(self, argv: list[str]) -> str | None:
        """Why ``argv`` starts a fresh process instead of asking a Python fork server ("": not Python at all)."""
        return ""

    def _output_paths(self, workdir: Path) -> dict[str, str]:
        """Plain names of outputFiles as absolute paths, for legacy ``{{ outputFiles.name }}``."""
        return {
            p: str(workdir / p) for p in self.output_files or [] if not _GLOB_CHARS & set(p) and not _bad_relative(p)
        }

    def _write_input_files(self, ctx: RunContext, workdir: Path, extra: dict[str, Any]) -> set[str]:
        if self.input_files is None:
            return set()
        files = ctx.render(self.input_files, extra)
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                pass
        if not isinstance(files, dict):
            raise TaskFailed(f"inputFiles must render to a map of file name to content, not {type(files).__name__}")
        root = workdir.resolve()
        for name, content in files.items():
            name = str(name)
            target = (workdir / name).resolve()
            if _bad_relative(name) or not target.is_relative_to(root):
                raise TaskFailed(f"inputFiles: {name!r} must be a relative path inside the working directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str) and content.startswith("lanner:///") and "\n" not in content:
                try:
                    content = storage_for_context(ctx).read_bytes(content.strip(), namespace=ctx.namespace)
                except (StorageError, OSError) as exc:
                    raise TaskFailed(f"inputFiles.{name}: {exc}") from exc
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                text = content if isinstance(content, str) else json.dumps(content)
                target.write_text(text, encoding="utf-8")
        return {str(n) for n in files}

    def _argv(self, ctx: RunContext, workdir: Path, extra: dict[str, Any], names: set[str]) -> tuple[list[str], Path | None]:
        """The command line, and the temporary script file to delete afterwards (if any)."""
        before = [str(c) for c in ctx.render(self.before_commands or [], extra)]
        if self.commands is not None:
            return self._shell_argv([*before, *(str(c) for c in ctx.render(self.commands, extra))]), None
        return self._script_argv(ctx, workdir, extra, names, before)

    def _script_argv(
        self, ctx: RunContext, workdir: Path, extra: dict[str, Any], names: set[str], before: list[str]
    ) -> tuple[list[str], Path | None]:
        assert self.script is not None
        return self._shell_argv([*before, str(ctx.render(self.script, extra))]), None

    def _shell_argv(self, lines: list[str]) -> list[str]:
        interpreter = list(self.interpreter or ["/bin/sh", "-c"])
        body = "\n".join(lines)
        if self.exit_on_failed and os.path.basename(interpreter[0]) in _POSIX_SHELLS:
            body = "set -e\n" + body
        return [*interpreter, body]

    def _env(self, ctx: RunContext, extra: dict[str, Any]) -> dict[str, str]:
        env = {str(k): "" if v is None else str(v) for k, v in (ctx.render(self.env or {}, extra) or {}).items()}
        # `python` in commands means Lanner's interpreter, whose packages the flow relies on.
        path = env.get("PATH", os.environ.get("PATH", ""))
        env["PATH"] = os.pathsep.join(p for p in (os.path.dirname(sys.executable), path) if p)
        return env

    def _collect_output_files(self, ctx: RunContext, workdir: Path) -> dict[str, str]:
        if not self.output_files:
            return {}
        root = workdir.resolve()
        found: dict[str, str] = {}
        for pattern in ctx.render(self.output_files):
            pattern = str(pattern)
            if _bad_relative(pattern):
                ctx.logger.warn(f"outputFiles pattern {pattern!r} is ignored: it must be relative to the working directory")
                continue
            matched = False
            for path in sorted(workdir.glob(pattern)):
                if not path.is_file() or not path.resolve().is_relative_to(root):
                    continue
                matched = True
                name = path.relative_to(workdir).as_posix()
                if name not in found:
                    found[name] = ctx.put_file(path, name) if ctx.put_file is not None else str(path.resolve())
            if not matched:
                ctx.logger.warn(f"outputFiles pattern {pattern!r} matched no file in the working directory")
        return found


@register_task(
    "python",
    "io.kestra.plugin.scripts.python.Script",
    "io.kestra.plugin.scripts.python.Commands",
    "io.kestra.core.tasks.scripts.Python",
    group="Scripts",
    title="Python script",
    icon="🐍",
    summary="Run a Python script or shell commands that call python, with Lanner's Python environment.",
)
class PythonTask(ScriptTask):
    main_file: ClassVar[str | None] = "main.py"

    def _form_hint(self) -> str:
        return "set 'script' (Python code) or 'commands' (a list of shell commands), or put a main.py in 'inputFiles'"

    def _why_fresh(self, argv: list[str]) -> str | None:
        if argv[0] == sys.executable:
            return None  # the fork server decides (engine.runtime.forkserver.why_not)
        if self.before_commands or self.interpreter is not None:
            return "beforeCommands and interpreter run through a shell"
        return "commands other than one plain `python program.py ...` run through a shell"

    def _argv(self, ctx: RunContext, workdir: Path, extra: dict[str, Any], names: set[str]) -> tuple[list[str], Path | None]:
        if self.commands is not None and not self.before_commands and self.interpreter is None:
            commands = [str(c) for c in ctx.render(self.commands, extra)]
            direct = _plain_python_command(commands)
            return (direct if direct is not None else self._shell_argv(commands)), None
        return super()._argv(ctx, workdir, extra, names)

    def _script_argv(
        self, ctx: RunContext, workdir: Path, extra: dict[str, Any], names: set[str], before: list[str]
    ) -> tuple[list[str], Path | None]:
        temp_file: Path | None = None
        if self.script is not None:
            fd, name = tempfile.mkstemp(prefix=f".lanner-{self.id}-", suffix=".py", dir=workdir)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(str(ctx.render(self.script, extra)))
            temp_file = Path(name)
            program = str(temp_file)
        elif self.main_file in names:
            program = self.main_file
        else:
            raise TaskFailed(f"python task '{self.id}' has no script, no commands and no {self.main_file} in inputFiles")
        argv = [sys.executable, program, *(str(a) for a in ctx.render(self.args or [], extra))]
        if before or self.interpreter is not None:
            return self._shell_argv([*before, shlex.join(argv)]), temp_file
        return argv, temp_file


@register_task(
    "shell",
    "io.kestra.plugin.scripts.shell.Commands",
    "io.kestra.plugin.scripts.shell.Script",
    "io.kestra.core.tasks.scripts.Bash",
    group="Scripts",
    title="Shell commands",
    icon="🐚",
    summary="Run shell commands or a shell script with /bin/sh on the worker's host.",
)
class ShellTask(ScriptTask):
    pass


# --- helpers ----------------------------------------------------------------------------------------


def _working_dir(ctx: RunContext) -> tuple[Path, bool]:
    """The shared directory of an enclosing working_directory task, else a fresh one we remove later."""
    if ctx.working_dir is not None:
        path = Path(ctx.working_dir).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path, False
    base: Path | None = None
    if ctx.home is not None:
        base = Path(ctx.home) / "tmp"
        base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"lanner-{ctx.task_id}-", dir=base)).resolve(), True


#: Characters that make a command line more than "a program and its arguments" for the shell.
_SHELL_SYNTAX = set("|&;<>()$`\\\"'*?[]{}~#\n")


def _plain_python_command(commands: list[str]) -> list[str] | None:
    """``[sys.executable, program, *args]`` when the commands are exactly one ``python program.py args...``.

    Kestra's ``python.Commands`` flows usually run one such command. Without any
    shell syntax, running it through ``/bin/sh -c`` or directly is the same
    (the shell would find ``python`` first in the PATH, which begins with the
    directory of Lanner's interpreter), so it may be forked from a fork server.
    """
    if len(commands) != 1 or _SHELL_SYNTAX & set(commands[0]):
        return None
    words = commands[0].split()
    if len(words) < 2 or words[1].startswith("-") or not words[1].endswith(".py"):
        return None
    if words[0] not in ("python", "python3", f"python3.{sys.version_info.minor}"):
        return None
    ours = os.path.join(os.path.dirname(sys.executable), words[0])
    try:
        if not os.path.samefile(ours, sys.executable):
            return None
    except OSError:
        return None
    return [sys.executable, *words[1:]]


def _capture(ctx: RunContext, marker: dict[str, Any], captured: dict[str, Any]) -> None:
    """Merge a ``::{...}::`` marker's outputs into ``vars``; metrics are only logged for now."""
    outputs = marker.get("outputs")
    if isinstance(outputs, dict):
        captured.update(outputs)
        ctx.logger.debug(f"Captured outputs: {', '.join(map(str, outputs))}")
    for metric in marker.get("metrics") or []:
        if isinstance(metric, dict):
            ctx.logger.debug(f"Metric {metric.get('name')} = {metric.get('value')}")


def _exit_code(result: ProcessResult) -> int | None:
    """The exit code, with the shell's 128+N convention when a signal we did not send ended it."""
    if result.exit_code is not None:
        return result.exit_code
    if result.signal is not None and not (result.timed_out or result.killed):
        return 128 + result.signal
    return None


def _raise_if_failed(ctx: RunContext, result: ProcessResult, outputs: dict[str, Any]) -> None:
    if result.timed_out or (result.killed and ctx.kill_reason[:1] == ["timeout"]):
        after = f" after {format_duration(timedelta(seconds=ctx.timeout))}" if ctx.timeout is not None else ""
        raise TaskFailed(f"Timed out{after}: the process and its children were stopped", outputs=outputs)
    if result.killed:
        raise TaskFailed("Killed", outputs=outputs)
    if result.lost:
        raise TaskFailed(LOST_MESSAGE, outputs=outputs)
    code = outputs["exitCode"]
    if result.exit_code is None and result.signal is not None:
        try:
            name = signal.Signals(result.signal).name
        except ValueError:
            name = str(result.signal)
        raise TaskFailed(f"Command failed with exit code {code} (ended by signal {name})", outputs=outputs)
    if code != 0:
        raise TaskFailed(f"Command failed with exit code {code}", outputs=outputs)
