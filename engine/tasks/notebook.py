"""The ``notebook`` task: run a Jupyter notebook with parameters (papermill), keep what it produced.

Papermill runs in a subprocess (``engine/tasks/notebook_runner.py``) started by
``run_process``, so a hung or crashing kernel never takes the worker down and a
timeout or kill stops the runner *and* the kernel (see the runner's docstring
for how the kernel is tied to it; the task also kills the kernel's process
group afterwards, whatever happened).

Where things are:

* ``notebook``: ``lanner:///...`` (internal storage, same namespace only),
  ``nsfile:///path`` (a namespace file of the flow's namespace), or a file path:
  absolute, else relative to the flow file's folder, else to the current
  directory (the project).
* The kernel runs in the task's working directory: the one of an enclosing
  ``working_directory`` task, else a fresh temporary one, or ``cwd`` when set.
  ``inputFiles`` and namespace files are written there and ``outputFiles`` are
  collected from there. The notebook's own folder is in ``LANNER_NOTEBOOK_DIR``
  so a notebook can find data that sits beside it.

What comes back: ``vars`` (merged ``::{"outputs": {...}}::`` lines), ``notebook``
(the executed ``.ipynb``), ``report`` (a self-contained HTML rendering) and
``outputFiles``. The executed notebook and report are kept when a cell fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from engine.sdk import (
    NSFILE_SCHEME,
    SCHEME,
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
    resolve_nsfile,
    run_process,
    safe_relative_path,
    storage_for_context,
)

_CELL_LINE = re.compile(r"^\[cell ([^\]]+)\] ?(.*)$", re.DOTALL)
_GLOB_CHARS = set("*?[")
#: Traceback lines quoted in the failure message.
_TRACEBACK_TAIL = 6


class NamespaceFiles(LannerModel):
    """Which namespace files are copied into the working directory before the run."""

    enabled: bool = Field(default=True, description="Copy the namespace's files into the working directory.")
    include: list[str] | None = Field(
        default=None, description="Glob patterns of the files to copy (all when empty); `*` also matches `/`."
    )
    exclude: list[str] | None = Field(default=None, description="Glob patterns of files not to copy.")


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
            "a namespace file `nsfile:///path/in/namespace.ipynb`, or an internal storage URI `lanner:///...`."
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
    log_outputs: bool = Field(default=True, description="Stream what cells print into the execution logs, as `[cell N] line`.")
    report: bool = Field(default=True, description="Render the executed notebook as a self-contained HTML report.")

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
        scratch = Path(tempfile.mkdtemp(prefix=f"lanner-nb-{ctx.task_id}-", dir=_tmp_base(ctx))).resolve()
        workdir, created = self._working_dir(ctx)
        keep = False
        try:
            source, notebook_dir = self._fetch_notebook(ctx, scratch)
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
            }
            spec_path = scratch / "spec.json"
            spec_path.write_text(json.dumps(spec, default=str), encoding="utf-8")
            captured: dict[str, Any] = {}
            stderr_tail: deque[str] = deque(maxlen=20)
            result = self._run_runner(ctx, spec_path, workdir, notebook_dir or workdir, started, captured, stderr_tail)

            outputs: dict[str, Any] = {"vars": captured}
            if executed.is_file():
                outputs["notebook"] = _store(ctx, executed, executed.name)
            if report.is_file():
                outputs["report"] = _store(ctx, report, report.name)
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
            m = _CELL_LINE.match(line)
            payload = m.group(2) if m else line
            marker = parse_output_marker(payload)
            if marker is not None:
                if isinstance(marker.get("outputs"), dict):
                    captured.update(marker["outputs"])
                    ctx.logger.debug(f"Captured outputs: {', '.join(map(str, marker['outputs']))}")
                return
            if stream == "stderr" and not m:
                stderr_tail.append(line)
            if m and not self.log_outputs:
                return
            if stream == "stderr":
                ctx.logger.warn(line)
            else:
                ctx.logger.info(line)

        env = {str(k): "" if v is None else str(v) for k, v in (ctx.render(self.env or {}) or {}).items()}
        env.setdefault("LANNER_NOTEBOOK_DIR", str(notebook_dir))
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # the debugger's "frozen modules" warning
        package_root = str(Path(__file__).resolve().parents[2])  # the folder that holds the engine package
        python_path = env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (python_path, package_root) if p)
        timeout = None
        if ctx.timeout is not None:
            timeout = max(0.1, ctx.timeout - (time.monotonic() - started))
        argv = [sys.executable, "-m", "engine.tasks.notebook_runner", str(spec_path)]
        return run_process(argv, cwd=workdir, env=env, timeout=timeout, kill_event=ctx.kill_event, on_line=on_line)

    def _raise_if_failed(
        self, ctx: RunContext, result: ProcessResult, scratch: Path, outputs: dict[str, Any], stderr_tail: deque[str]
    ) -> None:
        if result.timed_out or (result.killed and ctx.kill_reason[:1] == ["timeout"]):
            after = f" after {format_duration(timedelta(seconds=ctx.timeout))}" if ctx.timeout is not None else ""
            raise TaskFailed(f"Timed out{after}: the notebook's kernel was stopped", outputs=outputs)
        if result.killed:
            raise TaskFailed("Killed", outputs=outputs)
        result_file = scratch / "result.json"
        if not result_file.is_file():
            how = f"exit code {result.exit_code}" if result.exit_code is not None else f"signal {result.signal}"
            last = f": {stderr_tail[-1]}" if stderr_tail else ""
            raise TaskFailed(f"The notebook runner ended with {how} before finishing{last}", outputs=outputs)
        data = json.loads(result_file.read_text(encoding="utf-8"))
        if data.get("ok"):
            return
        err = data.get("error") or {}
        what = f"{err.get('ename', 'an error')}: {err.get('evalue', '')}".rstrip(": ")
        if err.get("stage") == "read":
            raise TaskFailed(f"notebook {self.notebook!r} is not a readable Jupyter notebook ({what})", outputs=outputs)
        if err.get("cell") is not None:
            message = f"Cell {err['cell']} raised {what}"
        else:
            message = f"The notebook could not run: {what}"
        tail = _traceback_tail(err.get("traceback") or [])
        if data.get("kernelLog") and err.get("cell") is None:
            tail += "\nKernel log:\n" + "\n".join(data["kernelLog"][-5:])
        raise TaskFailed(message + (f"\n{tail}" if tail else ""), outputs=outputs)

    # --- inputs ---------------------------------------------------------------------------------

    def _working_dir(self, ctx: RunContext) -> tuple[Path, bool]:
        if self.cwd:
            path = _resolve_local(ctx, str(ctx.render(self.cwd)))
            if path is None or not path.is_dir():
                raise TaskFailed(f"cwd {self.cwd!r} is not a directory (looked beside the flow file and in the project)")
            return path, False
        if ctx.working_dir is not None:
            path = Path(ctx.working_dir).resolve()
            path.mkdir(parents=True, exist_ok=True)
            return path, False
        return Path(tempfile.mkdtemp(prefix=f"lanner-{ctx.task_id}-", dir=_tmp_base(ctx))).resolve(), True

    def _fetch_notebook(self, ctx: RunContext, scratch: Path) -> tuple[Path, Path | None]:
        """A local copy of the notebook to run, and its folder when it is a local file."""
        ref = str(ctx.render(self.notebook)).strip()
        try:
            if ref.startswith(SCHEME):
                data = storage_for_context(ctx).read_bytes(ref, namespace=ctx.namespace)
                name = Path(ref.rsplit("/", 1)[-1]).name or "notebook.ipynb"
            elif ref.startswith(NSFILE_SCHEME):
                rel = resolve_nsfile(ref, ctx.namespace)
                data = storage_for_context(ctx).namespace_files_get(ctx.namespace, rel)
                name = rel.rsplit("/", 1)[-1]
            else:
                path = _resolve_local(ctx, ref)
                if path is None or not path.is_file():
                    raise TaskFailed(f"notebook {ref!r} not found (looked beside the flow file and in the project directory)")
                return path, path.parent
        except StorageError as exc:
            raise TaskFailed(f"notebook: {exc}") from None
        target = scratch / "in" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target, None

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
                copied = storage_for_context(ctx).copy_namespace_files(ctx.namespace, workdir, ns.include, ns.exclude)
                ctx.logger.debug(f"Copied {len(copied)} namespace file(s) into the working directory")
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
                target.write_bytes(_content(ctx, content))
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
                    found[name] = _store(ctx, path, name)
            if not matched:
                ctx.logger.warn(f"outputFiles pattern {pattern!r} matched no file in the working directory")
        return found


# --- helpers ----------------------------------------------------------------------------------------


def _tmp_base(ctx: RunContext) -> Path | None:
    if ctx.home is None:
        return None
    base = Path(ctx.home) / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    return base


def _resolve_local(ctx: RunContext, ref: str) -> Path | None:
    """An absolute path, else the first of flow folder / project directory where ``ref`` exists."""
    path = Path(ref).expanduser()
    if path.is_absolute():
        return path.resolve()
    for base in (ctx.flow_dir, Path.cwd()):
        if base is not None and (Path(base) / path).exists():
            return (Path(base) / path).resolve()
    return None


def _content(ctx: RunContext, content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    if not isinstance(content, str):
        return json.dumps(content).encode("utf-8")
    text = content.strip()
    if text.startswith(SCHEME) and "\n" not in text:
        return storage_for_context(ctx).read_bytes(text, namespace=ctx.namespace)
    if text.startswith(NSFILE_SCHEME) and "\n" not in text:
        return storage_for_context(ctx).namespace_files_get(ctx.namespace, resolve_nsfile(text, ctx.namespace))
    return content.encode("utf-8")


def _store(ctx: RunContext, path: Path, name: str) -> str:
    return ctx.put_file(path, name) if ctx.put_file is not None else str(path.resolve())


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
