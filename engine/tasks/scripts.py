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

import functools
import itertools
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.sdk import (
    LOST_MESSAGE,
    ProcessResult,
    RunContext,
    RunnableTask,
    TaskFailed,
    TaskResult,
    apply_output_marker,
    format_duration,
    parse_output_marker,
    register_task,
    run_process,
)
from engine.tasks.namespace_files_option import NamespaceFiles
from engine.tasks.script_files import (
    LocalFiles,
    ScriptRun,
    bad_relative,
    collect_output_files,
    write_input_files,
)
from engine.tasks.script_runner import (
    PROCESS_RUNNER,
    TaskRunner,
    docker_as_process,
    docker_refusal,
)

_KESTRA_SHIM = Path(__file__).with_name("kestra_shim") / "kestra.py"
_IMPORTS_KESTRA = re.compile(r"^\s*(from\s+kestra\s+import|import\s+kestra\b)", re.MULTILINE)
_POSIX_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"}
_GLOB_CHARS = set("*?[")


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
        default=None,
        description=f"Where the script runs: {PROCESS_RUNNER} (the worker's host); Kestra's Docker runner only with "
        "the Docker-as-process setting (then as a process too).",
    )
    container_image: str | None = Field(
        default=None,
        description="Kestra's image for a Docker runner: with the Process runner it is ignored (as in Kestra); without a "
        "taskRunner it asks for Docker, refused unless the Docker-as-process setting is on.",
    )
    docker: dict[str, Any] | None = Field(
        default=None, json_schema_extra={"deprecated": True},
        description="Legacy Docker options: refused unless the Docker-as-process setting is on (then ignored, with a warning).",
    )
    target_os: Literal["LINUX", "WINDOWS", "AUTO"] | None = Field(
        default=None, description="Kestra's targetOS: Lanner runs scripts on the worker's own system (AUTO)."
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
        description="Legacy Python task: the packages to install, read as `dependencies`.",
    )
    runner: Literal["PROCESS", "DOCKER"] | None = Field(
        default=None, json_schema_extra={"deprecated": True},
        description="Legacy runner: PROCESS; DOCKER only with the Docker-as-process setting.",
    )

    # --- validation -----------------------------------------------------------------------------

    @field_validator("docker", mode="before")
    @classmethod
    def _no_docker(cls, value: object) -> Any:
        if value is not None and not docker_as_process():
            raise ValueError(docker_refusal("the docker property"))
        return value

    @field_validator("container_image")
    @classmethod
    def _image_needs_docker(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "task_runner" not in info.data:
            return value  # the taskRunner itself was refused: that error says it all
        runner = info.data["task_runner"]
        if value and (runner is None or runner.is_docker) and not docker_as_process():
            raise ValueError(docker_refusal(f"containerImage {value!r} (Kestra's default runner for it is Docker)"))
        return value

    @field_validator("requirements", mode="before")
    @classmethod
    def _no_requirements(cls, value: object) -> Any:
        if value:
            raise ValueError(
                "requirements are Python packages: only a Python task installs them (its dependencies); "
                "install what these commands need on the worker instead"
            )
        return value

    @field_validator("runner", mode="before")
    @classmethod
    def _process_runner_only(cls, value: object) -> Any:
        if value == "DOCKER" and not docker_as_process():
            raise ValueError(docker_refusal("runner DOCKER"))
        if value not in (None, "PROCESS", "DOCKER"):
            raise ValueError(f"runner {value!r} is not available in Lanner: only PROCESS (run on the worker's host) is supported")
        return value

    @field_validator("input_files")
    @classmethod
    def _relative_input_files(cls, value: object) -> Any:
        if isinstance(value, dict):
            for name in value:
                if bad_relative(name):
                    raise ValueError(f"file name {name!r} must be a relative path inside the working directory")
        return value

    @field_validator("output_files")
    @classmethod
    def _relative_output_files(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or []:
            if bad_relative(pattern):
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
        self._warn_about_container(ctx)
        workdir, created = _working_dir(ctx)
        keep = False
        try:
            extra = {"workingDir": str(workdir), "outputFiles": self._output_paths(workdir)}
            if self.namespace_files is not None and self.namespace_files.enabled:
                copied = self.namespace_files.copy_into(ctx, workdir)
                ctx.logger.debug(f"{copied} namespace file(s) copied into the working directory")
            names = self._write_input_files(ctx, workdir, extra)
            helpers = self._helper_files(workdir)
            run = ScriptRun(LocalFiles(ctx, workdir), self._python(ctx, workdir))
            argv, temp_file = self._argv(ctx, workdir, extra, names, run)
            env = self._env(ctx, extra, run)
            if run.files.copied:
                ctx.logger.debug(f"{run.files.copied} internal storage file(s) copied into the working directory")
            why_fresh = self._why_fresh(argv)
            captured: dict[str, Any] = {}
            stderr_seen = [0]

            def on_line(stream: str, line: str) -> None:
                marker = parse_output_marker(line)
                if marker is not None:
                    apply_output_marker(ctx, marker, captured)
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
                for path in (temp_file, *helpers):
                    if path is not None:
                        path.unlink(missing_ok=True)
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
                _remove_working_dir(workdir)

    def _warn_about_container(self, ctx: RunContext) -> None:
        runner = self.task_runner
        docker = (runner is not None and runner.is_docker) or self.docker is not None or self.runner == "DOCKER"
        image = (runner.image if runner is not None else None) or self.container_image or (self.docker or {}).get("image")
        if docker or (self.container_image and runner is None):
            ignored = f"; its options {', '.join(runner.ignored)} are ignored too" if runner is not None and runner.ignored else ""
            ctx.logger.warn(
                f"the Docker runner is not used{f' and the image {image} is ignored' if image else ''}: this task runs as a "
                f"process on this host (Docker-as-process setting), with the tools installed here{ignored}"
            )
        elif self.container_image:
            ctx.logger.debug(f"containerImage {self.container_image} is ignored by the Process runner (as in Kestra)")

    def _why_fresh(self, argv: list[str]) -> str | None:
        """Why ``argv`` starts a fresh process instead of asking a Python fork server ("": not Python at all)."""
        return ""

    def _python(self, ctx: RunContext, workdir: Path) -> str:
        """The Python interpreter of the run: Lanner's (a Python task's dependencies get their own)."""
        return sys.executable

    def _output_paths(self, workdir: Path) -> dict[str, str]:
        """Plain names of outputFiles as absolute paths, for legacy ``{{ outputFiles.name }}``."""
        return {
            p: str(workdir / p) for p in self.output_files or [] if not _GLOB_CHARS & set(p) and not bad_relative(p)
        }

    def _write_input_files(self, ctx: RunContext, workdir: Path, extra: dict[str, Any]) -> set[str]:
        return write_input_files(ctx, workdir, self.input_files, extra)

    def _helper_files(self, workdir: Path) -> list[Path]:
        """Files Lanner puts beside the task's own for the run only (removed afterwards)."""
        return []

    def _argv(
        self, ctx: RunContext, workdir: Path, extra: dict[str, Any], names: set[str], run: ScriptRun
    ) -> tuple[list[str], Path | None]:
        """The command line, and the temporary script file to delete afterwards (if any)."""
        before = [run.files.replace(str(c), "beforeCommands") for c in ctx.render(self.before_commands or [], extra)]
        if self.commands is not None:
            return self._shell_argv([*before, *self._commands(ctx, extra, run)]), None
        return self._script_argv(ctx, workdir, extra, names, before, run)

    def _commands(self, ctx: RunContext, extra: dict[str, Any], run: ScriptRun) -> list[str]:
        return [run.files.replace(str(c), "commands") for c in ctx.render(self.commands or [], extra)]

    def _script_argv(
        self, ctx: RunContext, workdir: Path, extra: dict[str, Any], names: set[str], before: list[str], run: ScriptRun
    ) -> tuple[list[str], Path | None]:
        assert self.script is not None
        return self._shell_argv([*before, run.files.replace(str(ctx.render(self.script, extra)), "script")]), None

    def _shell_argv(self, lines: list[str]) -> list[str]:
        interpreter = list(self.interpreter or ["/bin/sh", "-c"])
        body = "\n".join(lines)
        if self.exit_on_failed and os.path.basename(interpreter[0]) in _POSIX_SHELLS:
            body = "set -e\n" + body
        return [*interpreter, body]

    def _env(self, ctx: RunContext, extra: dict[str, Any], run: ScriptRun) -> dict[str, str]:
        rendered = ctx.render(self.env or {}, extra) or {}
        env = {str(k): "" if v is None else run.files.replace(str(v), f"env.{k}") for k, v in rendered.items()}
        # `python` in commands means Lanner's interpreter, whose packages the flow relies on (or the
        # virtual environment of the task's dependencies).
        path = env.get("PATH", os.environ.get("PATH", ""))
        env["PATH"] = os.pathsep.join(p for p in (os.path.dirname(run.python), path) if p)
        if run.python != sys.executable:
            env["VIRTUAL_ENV"] = str(Path(run.python).parent.parent)
        return env

    def _collect_output_files(self, ctx: RunContext, workdir: Path) -> dict[str, str]:
        return collect_output_files(ctx, workdir, self.output_files)


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
    """Kestra's Python Script/Commands (and the legacy Python task). With ``dependencies`` the script runs
    in a cached virtual environment holding them (:mod:`engine.tasks.python_env`)."""

    main_file: ClassVar[str | None] = "main.py"

    dependencies: list[str] | str | None = Field(
        default=None,
        description="Python packages the script needs (requirement specifiers such as pandas>=2): installed once into a "
        "virtual environment cached by the list, and reused by every task that asks for the same list.",
    )
    package_manager: Literal["UV", "PIP"] = Field(default="UV", description="What installs the dependencies: uv (default) or pip.")
    dependency_cache_enabled: bool = Field(
        default=True, description="Keep the environment for later runs (false: build a throwaway one for this attempt)."
    )

    def _helper_files(self, workdir: Path) -> list[Path]:
        """Kestra's ``kestra`` module (``Kestra.outputs``, metrics, logger) when the code imports it, the
        working directory has no kestra.py and the dependencies do not install Kestra's own package."""
        target = workdir / "kestra.py"
        code = [self.script or "", *(self.commands or []), *(v for v in (self.input_files.values() if isinstance(self.input_files, dict) else []) if isinstance(v, str))]
        deps = [self.dependencies] if isinstance(self.dependencies, str) else (self.dependencies or [])
        if target.exists() or not any(_IMPORTS_KESTRA.search(text) for text in code):
            return []
        if any(re.match(r"\s*kestra\b", str(d), re.IGNORECASE) for d in deps):
            return []
        shutil.copyfile(_KESTRA_SHIM, target)
        return [target]

    @model_validator(mode="before")
    @classmethod
    def _legacy_requirements(cls, data: object) -> Any:
        """The legacy Python task's ``requirements`` are Kestra 1.x's ``dependencies`` (validation warns)."""
        if isinstance(data, dict) and data.get("requirements") and not data.get("dependencies"):
            data = {**{k: v for k, v in data.items() if k != "requirements"}, "dependencies": data["requirements"]}
        return data

    @field_validator("package_manager", mode="before")
    @classmethod
    def _upper_manager(cls, value: object) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("dependencies")
    @classmethod
    def _requirements(cls, value: object) -> Any:
        if isinstance(value, list):
            from engine.tasks.python_env import clean

            clean(value)  # options such as --index-url are refused here, with the entry named
        return value

    def _python(self, ctx: RunContext, workdir: Path) -> str:
        if not self.dependencies:
            return sys.executable
        from engine.tasks.python_env import ensure, python_of

        rendered = ctx.render(self.dependencies)
        if isinstance(rendered, str):
            rendered = rendered.splitlines()
        if not isinstance(rendered, list):
            raise TaskFailed(f"dependencies must render to a list of packages, not {type(rendered).__name__}")
        try:
            env = ensure(ctx, [str(d) for d in rendered], self.package_manager,
                         scratch=None if self.dependency_cache_enabled else workdir)
        except ValueError as exc:
            raise TaskFailed(f"dependencies: {exc}") from None
        return str(python_of(env))

    def _form_hint(self) -> str:
        return "set 'script' (Python code) or 'commands' (a list of shell commands), or put a main.py in 'inputFiles'"

    def _why_fresh(self, argv: list[str]) -> str | None:
        if argv[0] == sys.executable or (self.dependencies and argv[0].endswith("/bin/python")):
            return None  # the fork server decides (engine.runtime.forkserver.why_not)
        if self.before_commands or self.interpreter is not None:
            return "beforeCommands and interpreter run through a shell"
        return "commands other than one plain `python program.py ...` run through a shell"

    def _argv(
        self, ctx: RunContext, workdir: Path, extra: dict[str, Any], names: set[str], run: ScriptRun
    ) -> tuple[list[str], Path | None]:
        if self.commands is not None and not self.before_commands and self.interpreter is None:
            commands = self._commands(ctx, extra, run)
            direct = _plain_python_command(commands, run.python)
            return (direct if direct is not None else self._shell_argv(commands)), None
        return super()._argv(ctx, workdir, extra, names, run)

    def _script_argv(
        self, ctx: RunContext, workdir: Path, extra: dict[str, Any], names: set[str], before: list[str], run: ScriptRun
    ) -> tuple[list[str], Path | None]:
        temp_file: Path | None = None
        if self.script is not None:
            text = run.files.replace(str(ctx.render(self.script, extra)), "script")
            temp_file = _write_script(workdir, f".lanner-{self.id}", text, shared=ctx.working_dir is not None)
            program = str(temp_file)
        elif self.main_file in names:
            program = self.main_file
        else:
            raise TaskFailed(f"python task '{self.id}' has no script, no commands and no {self.main_file} in inputFiles")
        argv = [run.python, program, *(run.files.replace(str(a), "args") for a in ctx.render(self.args or [], extra))]
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
    if ctx.home is None:
        return Path(tempfile.mkdtemp(prefix=f"lanner-{ctx.task_id}-")).resolve(), True
    base = _private_tmp(str(ctx.home))
    while True:
        # Lanner's own folder, not a shared /tmp: a name from a counter cannot be raced for, and mkdir
        # never follows a link. One system call instead of mkdtemp's random name and resolve()'s lstat per level.
        name = f"{base}/lanner-{ctx.task_id}-{os.getpid()}-{next(_workdir_numbers)}"
        try:
            os.mkdir(name, 0o700)
        except FileExistsError:  # left by a process that had the same pid
            continue
        except FileNotFoundError:  # the folder was removed under us
            _private_tmp.cache_clear()
            base = _private_tmp(str(ctx.home))
            continue
        return Path(name), True


_workdir_numbers = itertools.count(1)


@functools.lru_cache(maxsize=8)
def _private_tmp(home: str) -> str:
    """``<home>/tmp``, created once and resolved once (per home)."""
    base = Path(home) / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    return str(base.resolve())


def _write_script(workdir: Path, stem: str, text: str, *, shared: bool) -> Path:
    """The script's file in ``workdir``: a fixed name in the task's own new folder, a unique one in a shared one."""
    path = workdir / f"{stem}.py"
    try:
        if shared:
            raise FileExistsError
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:  # shared, or an input file took the name
        fd, name = tempfile.mkstemp(prefix=f"{stem}-", suffix=".py", dir=workdir)
        path = Path(name)
    try:
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
    return path


def _remove_working_dir(workdir: Path) -> None:
    """Remove a task's own folder: a single rmdir when the task left nothing in it, else the whole tree."""
    try:
        os.rmdir(workdir)
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(workdir, ignore_errors=True)


#: Characters that make a command line more than "a program and its arguments" for the shell.
_SHELL_SYNTAX = set("|&;<>()$`\\\"'*?[]{}~#\n")


def _plain_python_command(commands: list[str], python: str = sys.executable) -> list[str] | None:
    """``[python, program, *args]`` when the commands are exactly one ``python program.py args...``.

    Kestra's ``python.Commands`` flows usually run one such command. Without any
    shell syntax, running it through ``/bin/sh -c`` or directly is the same
    (the shell would find ``python`` first in the PATH, which begins with the
    directory of the run's interpreter), so it may be forked from a fork server.
    """
    if len(commands) != 1 or _SHELL_SYNTAX & set(commands[0]):
        return None
    words = commands[0].split()
    if len(words) < 2 or words[1].startswith("-") or not words[1].endswith(".py"):
        return None
    if words[0] not in ("python", "python3", f"python3.{sys.version_info.minor}"):
        return None
    ours = os.path.join(os.path.dirname(python), words[0])
    try:
        if not os.path.samefile(ours, python):
            return None
    except OSError:
        return None
    return [python, *words[1:]]


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
