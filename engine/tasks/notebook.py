"""The ``notebook`` task: run a Jupyter notebook with parameters (papermill), keep what it produced.

Papermill runs in a subprocess (``engine/tasks/notebook_runner.py``) started by
``run_process``, so a hung or crashing kernel never takes the worker down and a
timeout or kill stops the runner *and* the kernel (see the runner's docstring
for how the kernel is tied to it; the task also kills the kernel's process
group afterwards, whatever happened).

Where things are:

* ``notebook``: ``lanner:///...`` (internal storage, same namespace only),
  ``nsfile:///path`` (a namespace file of the flow's namespace), any URL an
  installed fsspec implementation reads (``s3://``, ``https://``...), or a file
  path: absolute, else relative to the flow file's folder, else to the current
  directory (the project). See ``engine/tasks/notebook_files.py``.
* The kernel runs in the task's working directory: the one of an enclosing
  ``working_directory`` task, else a fresh temporary one, or ``cwd`` when set.
  ``inputFiles`` and namespace files are written there and ``outputFiles`` are
  collected from there. The notebook's own folder is in ``LANNER_NOTEBOOK_DIR``
  so a notebook can find data that sits beside it.

What comes back: ``vars`` (merged ``::{"outputs": {...}}::`` lines), ``notebook``
(the executed ``.ipynb``), ``report`` (a self-contained HTML rendering) and
``outputFiles``. The executed notebook and report are kept when a cell fails,
and also on timeout or kill (with every output printed so far); a retry keeps
each attempt's pair (``previousAttempts``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from engine.sdk import (
    Duration,
    ProcessResult,
    RunContext,
    RunnableTask,
    StorageError,
    TaskFailed,
    TaskResult,
    apply_output_marker,
    format_duration,
    parse_output_marker,
    register_task,
    run_process,
    safe_relative_path,
)
from engine.tasks.namespace_files_option import NamespaceFiles
from engine.tasks.notebook_files import (
    fetch_notebook,
    file_content,
    resolve_local,
    store,
    store_attempt_files,
    tmp_base,
)
from engine.tasks.notebook_params import check_notebook_task

_GLOB_CHARS = set("*?[")
#: Traceback lines quoted in the failure message.
_TRACEBACK_TAIL = 6
#: Seconds the HTML report of a stopped notebook may take to render.
REPORT_TIMEOUT = 60.0


def _check_relative(value: str, field: str) -> str:
    try:
        return safe_relative_path(value, field)
    except StorageError as exc:
        raise ValueError(str(exc)) from None


@register_task(
    "notebook",
    group="Notebooks",
    title="Jupyter notebook",
    icon="📓",
    summary="Run a Jupyter notebook with parameters (papermill) and keep the executed notebook and an HTML report.",
)
class NotebookTask(RunnableTask):
    notebook: str = Field(
        min_length=1,
        description=(
            "The notebook to run: a path (relative to the flow file's folder, else to the project directory), "
            "a namespace file `nsfile:///path/in/namespace.ipynb`, an internal storage URI `lanner:///...`, "
            "or any URL an installed fsspec implementation reads (`s3://bucket/nb.ipynb`, `https://...`)."
        ),
    )
    parameters: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Values injected after the cell tagged `parameters` (at the top if there is none). "
            "Expressions keep their type: an INT input arrives as an int."
        ),
    )
    kernel: str | None = Field(
        default=None,
        description="Kernel name; default: the notebook's own kernel, else python3 (Lanner's Python environment).",
    )
    dependencies: list[str] | None = Field(
        default=None,
        description="Python packages the notebook needs: its python3 kernel then runs in a virtual environment holding "
        "them and ipykernel, built once per list and cached (as a Python script task's dependencies).",
    )
    package_manager: Literal["UV", "PIP"] = Field(default="UV", description="What installs the dependencies: uv (default) or pip.")
    cwd: str | None = Field(
        default=None,
        description=(
            "Working directory of the kernel (relative to the flow file's folder, else to the project). "
            "Default: a fresh temporary directory (or the enclosing working_directory task's)."
        ),
    )
    env: dict[str, str] | None = Field(default=None, description="Environment variables for the kernel; values are rendered.")
    input_files: dict[str, str] | None = Field(
        default=None,
        description=(
            "Files written to the working directory before the run: relative file name -> content "
            "(text, or a `lanner:///` URI or `nsfile:///` path whose file is copied)."
        ),
    )
    output_files: list[str] | None = Field(
        default=None,
        description="Glob patterns (relative to the working directory) of files to keep; see outputs.<id>.outputFiles.",
    )
    namespace_files: NamespaceFiles | None = Field(
        default=None, description="Copy the flow namespace's files into the working directory before the run."
    )
    cell_timeout: Duration | None = Field(
        default=None,
        description=(
            "ISO-8601 duration one cell may run; a longer cell fails the task, naming the cell "
            "(the task's `timeout` bounds the whole notebook)."
        ),
    )
    log_outputs: bool = Field(
        default=True,
        description=(
            "Stream what cells print and display into the execution logs, as `[cell N] line` "
            "(the level a line announces, e.g. `INFO:root:...`, else INFO for stdout and WARN for stderr)."
        ),
    )
    report: bool = Field(default=True, description="Render the executed notebook as a self-contained HTML report.")

    def check_files(self, flow_dir: Path | None, input_types: Mapping[str, str]) -> list[tuple[tuple[str | int, ...], str]]:
        """The notebook exists, and declares each given parameter with a compatible default (papermill's
        ``--help-notebook`` knowledge, used by ``lanner flow validate`` before anything runs)."""
        return check_notebook_task(self.notebook, self.parameters, flow_dir, input_types)

    @field_validator("input_files")
    @classmethod
    def _relative_input_files(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name in value or {}:
            _check_relative(name, "inputFiles name")
        return value

    @field_validator("output_files")
    @classmethod
    def _relative_output_files(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or []:
            _check_relative(pattern, "outputFiles pattern")
        return value

    # --- running --------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> TaskResult:
        started = time.monotonic()
        if ctx.killed:
            raise TaskFailed("Killed")
        scratch = Path(tempfile.mkdtemp(prefix=f"lanner-nb-{ctx.task_id}-", dir=tmp_base(ctx))).resolve()
        workdir, created = self._working_dir(ctx)
        keep = False
        try:
            source, notebook_dir = fetch_notebook(ctx, str(ctx.render(self.notebook)).strip(), scratch)
            self._prepare_workdir(ctx, workdir)
            executed = scratch / "out" / f"{source.stem}.ipynb"
            executed.parent.mkdir()
            report = executed.with_suffix(".html")
            spec = {
                "input": str(source),
                "output": str(executed),
                "parameters": self._parameters(ctx),
                "kernel": ctx.render(self.kernel) if self.kernel else None,
                "cwd": str(workdir),
                "report": str(report) if self.report else None,
                "result": str(scratch / "result.json"),
                "pidFile": str(scratch / "kernel.pid"),
                "kernelLog": str(scratch / "kernel.log"),
                "cellTimeout": math.ceil(self.cell_timeout.total_seconds()) if self.cell_timeout else None,
                **self._kernel_environment(ctx),
            }
            spec_path = scratch / "spec.json"
            spec_path.write_text(json.dumps(spec, default=str), encoding="utf-8")
            captured: dict[str, Any] = {}
            stderr_tail: deque[str] = deque(maxlen=20)
            result = self._run_runner(ctx, spec_path, workdir, notebook_dir or workdir, started, captured, stderr_tail)
            _kill_kernel(scratch / "kernel.pid")
            if self.report and executed.is_file() and not report.is_file():
                _render_report(ctx, executed, report)  # the runner was stopped before it could

            for written in (executed, report):  # files Lanner wrote itself hold no secret (user outputFiles are theirs)
                if written.is_file():
                    ctx.mask_file(written)
            outputs: dict[str, Any] = {"vars": captured, **store_attempt_files(ctx, executed, report)}
            keep = ctx.put_file is None
            self._raise_if_failed(ctx, result, scratch, outputs, stderr_tail)
            files = self._collect_output_files(ctx, workdir)
            if files:
                outputs["outputFiles"] = files
            return TaskResult(outputs)
        finally:
            _kill_kernel(scratch / "kernel.pid")
            if not keep:
                shutil.rmtree(scratch, ignore_errors=True)
            if created and not keep:
                shutil.rmtree(workdir, ignore_errors=True)

    def _kernel_environment(self, ctx: RunContext) -> dict[str, Any]:
        """With ``dependencies``: the interpreter of their cached environment (with ipykernel) for the kernel."""
        if not self.dependencies:
            return {}
        from engine.tasks.python_env import ensure, python_of

        deps = [str(d) for d in ctx.render(self.dependencies)]
        try:
            env = ensure(ctx, deps, self.package_manager, extra=("ipykernel",))
        except ValueError as exc:
            raise TaskFailed(f"dependencies: {exc}") from None
        user_path = ctx.render((self.env or {}).get("PYTHONPATH", "")) or os.environ.get("PYTHONPATH", "")
        return {"kernelPython": str(python_of(env)), "kernelPythonPath": str(user_path)}

    def _run_runner(
        self,
        ctx: RunContext,
        spec_path: Path,
        workdir: Path,
        notebook_dir: Path,
        started: float,
        captured: dict[str, Any],
        stderr_tail: deque[str],
    ) -> ProcessResult:
        def on_line(stream: str, line: str) -> None:
            event = _cell_event(line) if stream == "stdout" else None
            if event is None:  # the runner's own words (papermill's warnings, a crash)
                if stream == "stderr":
                    stderr_tail.append(line)
                    ctx.logger.warn(line)
                else:
                    ctx.logger.info(line)
                return
            cell, level, text = event
            marker = parse_output_marker(text)
            if marker is not None:
                apply_output_marker(ctx, marker, captured)
                return
            if self.log_outputs:
                ctx.logger.log(level, f"[cell {cell}] {text}")

        env = {str(k): "" if v is None else str(v) for k, v in (ctx.render(self.env or {}) or {}).items()}
        env.setdefault("LANNER_NOTEBOOK_DIR", str(notebook_dir))
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # the debugger's "frozen modules" warning
        env["PYTHONPATH"] = _python_path(env)
        timeout = None
        if ctx.timeout is not None:
            timeout = max(0.1, ctx.timeout - (time.monotonic() - started))
        argv = [sys.executable, "-m", "engine.tasks.notebook_runner", str(spec_path)]
        return run_process(argv, cwd=workdir, env=env, timeout=timeout, kill_event=ctx.kill_event, on_line=on_line)

    def _raise_if_failed(
        self, ctx: RunContext, result: ProcessResult, scratch: Path, outputs: dict[str, Any], stderr_tail: deque[str]
    ) -> None:
        kept = " (the executed notebook and report keep what ran)" if "notebook" in outputs else ""
        if result.timed_out or (result.killed and ctx.kill_reason[:1] == ["timeout"]):
            after = f" after {format_duration(timedelta(seconds=ctx.timeout))}" if ctx.timeout is not None else ""
            raise TaskFailed(f"Timed out{after}: the notebook's kernel was stopped{kept}", outputs=outputs)
        if result.killed:
            raise TaskFailed(f"Killed{kept}", outputs=outputs)
        result_file = scratch / "result.json"
        if not result_file.is_file():
            how = f"exit code {result.exit_code}" if result.exit_code is not None else f"signal {result.signal}"
            last = f": {stderr_tail[-1]}" if stderr_tail else ""
            raise TaskFailed(f"The notebook runner ended with {how} before finishing{last}", outputs=outputs)
        data = json.loads(result_file.read_text(encoding="utf-8"))
        if data.get("ok"):
            return
        raise TaskFailed(self._failure_message(data), outputs=outputs)

    def _failure_message(self, data: dict[str, Any]) -> str:
        err = data.get("error") or {}
        stage = err.get("stage")
        if stage in ("kernel", "dead"):
            return str(err.get("message"))[:1].upper() + str(err.get("message"))[1:]
        if stage == "cell_timeout":
            limit = format_duration(self.cell_timeout) if self.cell_timeout else "cellTimeout"
            return f"Cell {err.get('cell')} ran longer than cellTimeout {limit} and was stopped"
        what = f"{err.get('ename', 'an error')}: {err.get('evalue', '')}".rstrip(": ")
        if stage == "read":
            return f"notebook {self.notebook!r} is not a readable Jupyter notebook ({what})"
        message = f"Cell {err['cell']} raised {what}" if err.get("cell") is not None else f"The notebook could not run: {what}"
        tail = _traceback_tail(err.get("traceback") or [])
        if data.get("kernelLog") and err.get("cell") is None:
            tail += "\nKernel log:\n" + "\n".join(data["kernelLog"][-5:])
        return message + (f"\n{tail}" if tail else "")

    # --- inputs ---------------------------------------------------------------------------------

    def _working_dir(self, ctx: RunContext) -> tuple[Path, bool]:
        if self.cwd:
            path = resolve_local(ctx, str(ctx.render(self.cwd)))
            if path is None or not path.is_dir():
                raise TaskFailed(f"cwd {self.cwd!r} is not a directory (looked beside the flow file and in the project)")
            return path, False
        if ctx.working_dir is not None:
            path = Path(ctx.working_dir).resolve()
            path.mkdir(parents=True, exist_ok=True)
            return path, False
        return Path(tempfile.mkdtemp(prefix=f"lanner-{ctx.task_id}-", dir=tmp_base(ctx))).resolve(), True

    def _parameters(self, ctx: RunContext) -> dict[str, Any]:
        params = ctx.render(self.parameters or {})
        if not isinstance(params, dict):
            raise TaskFailed(f"parameters must render to a map of name to value, not {type(params).__name__}")
        for name in params:
            if not str(name).isidentifier():
                raise TaskFailed(f"parameter name {name!r} is not a valid Python identifier")
        return params

    def _prepare_workdir(self, ctx: RunContext, workdir: Path) -> None:
        ns = self.namespace_files
        try:
            if ns is not None and ns.enabled:
                ctx.logger.debug(f"Copied {ns.copy_into(ctx, workdir)} namespace file(s) into the working directory")
            files = ctx.render(self.input_files or {})
            if not isinstance(files, dict):
                raise TaskFailed(f"inputFiles must render to a map of file name to content, not {type(files).__name__}")
            root = workdir.resolve()
            for name, content in files.items():
                rel = safe_relative_path(str(name), "inputFiles name")
                target = (workdir / rel).resolve()
                if not target.is_relative_to(root):
                    raise TaskFailed(f"inputFiles: {name!r} must stay inside the working directory")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file_content(ctx, content))
        except StorageError as exc:
            raise TaskFailed(str(exc)) from None

    def _collect_output_files(self, ctx: RunContext, workdir: Path) -> dict[str, str]:
        root = workdir.resolve()
        found: dict[str, str] = {}
        for pattern in ctx.render(self.output_files or []):
            pattern = str(pattern)
            try:
                _check_relative(pattern, "outputFiles pattern")
            except ValueError as exc:
                ctx.logger.warn(f"{exc}; ignored")
                continue
            paths = sorted(workdir.glob(pattern)) if _GLOB_CHARS & set(pattern) else [workdir / pattern]
            matched = False
            for path in paths:
                if not path.is_file() or not path.resolve().is_relative_to(root):
                    continue
                matched = True
                name = path.relative_to(workdir).as_posix()
                if name not in found:
                    found[name] = store(ctx, path, name)
            if not matched:
                ctx.logger.warn(f"outputFiles pattern {pattern!r} matched no file in the working directory")
        return found


# --- helpers ----------------------------------------------------------------------------------------


def _cell_event(line: str) -> tuple[str, str, str] | None:
    """(cell, level, text) of a runner event line, or None for anything else."""
    if not line.startswith('{"cell"'):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return None
    return str(data.get("cell")), str(data.get("level") or "INFO"), data["text"]


def _python_path(env: dict[str, str]) -> str:
    """PYTHONPATH for the runner and its kernel: the user's, then the folder Lanner's packages are in."""
    package_root = str(Path(__file__).resolve().parents[2])  # the folder that holds the engine package
    python_path = env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    return os.pathsep.join(p for p in (python_path, package_root) if p)


def _render_report(ctx: RunContext, executed: Path, report: Path) -> None:
    """Render the HTML report of a notebook the runner saved before it was stopped (timeout, kill)."""
    argv = [sys.executable, "-m", "engine.tasks.notebook_runner", "--report", str(executed), str(report)]
    errors: list[str] = []
    result = run_process(argv, cwd=executed.parent, env={"PYTHONPATH": _python_path({})}, timeout=REPORT_TIMEOUT,
                         on_line=lambda stream, line: errors.append(line) if stream == "stderr" else None)
    if result.exit_code != 0 or not report.is_file():
        why = errors[-1] if errors else f"exit code {result.exit_code}, signal {result.signal}"
        ctx.logger.warn(f"HTML report of the stopped notebook not written: {why}")


def _traceback_tail(lines: list[str]) -> str:
    text = "\n".join(lines).rstrip()
    tail = [line for line in text.splitlines() if line.strip() and not set(line.strip()) <= {"-"}]
    return "\n".join(tail[-_TRACEBACK_TAIL:])


def _kill_kernel(pid_file: Path) -> None:
    """SIGKILL the kernel's process group (it leads its own session), if anything of it is left."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if pid <= 1:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
