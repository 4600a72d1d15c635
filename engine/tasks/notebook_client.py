"""The runner's papermill engine: streams cell output as log events, knows its kernel, saves as it goes.

Used only inside the runner process (``engine/tasks/notebook_runner.py``). What it
adds to papermill's nbclient engine:

* every line a cell prints, every ``execute_result``/``display_data`` text, and
  ``\\r``-refreshed progress (tqdm) at most once a second, as one JSON event per
  line on stdout: ``{"cell": "3", "level": "INFO", "text": "..."}``. The level
  comes from the line when it carries one (``INFO:root:...``, ``[ERROR] ...``),
  else stdout is INFO and stderr WARN; progress is INFO;
* cells are labelled as the user's notebook numbers them: the cell papermill
  injects is ``parameters`` and does not shift the numbers of the others;
* the kernel manager records the kernel's pid (the task kills its process group
  afterwards) and its process, so a kernel that died is reported with its exit
  code or signal;
* ``cellTimeout`` is nbclient's per-cell ``timeout``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.tasks.notebook_params import INJECTED_TAG

if TYPE_CHECKING:
    from nbformat import NotebookNode

NATIVE_KERNELS = {"python3"}
_MODULE = "engine.tasks.notebook_runner"
#: Seconds between two log lines of the same ``\r``-refreshed progress line.
PROGRESS_EVERY = 1.0
#: Lines of one ``execute_result``/``display_data`` text logged at most.
DISPLAY_LINES = 100
#: Characters of a line without end kept before it is logged anyway.
MAX_PARTIAL = 256 * 1024

_LEVEL_WORDS = {"TRACE": "TRACE", "DEBUG": "DEBUG", "INFO": "INFO", "WARN": "WARN", "WARNING": "WARN",
                "ERROR": "ERROR", "CRITICAL": "ERROR", "FATAL": "ERROR"}
# A level word standing alone near the start: "INFO:root:x", "[ERROR] x", "12:00:01 - app - WARNING - x".
_LEVEL = re.compile(r"(?:^|[\s\[(|:-])(TRACE|DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)(?=[\s\]):|-]|$)")
_LEVEL_WINDOW = 80


def detect_level(text: str, default: str) -> str:
    """The log level a line announces near its start (Python logging and common formats), else ``default``."""
    m = _LEVEL.search(text[:_LEVEL_WINDOW])
    return _LEVEL_WORDS[m.group(1)] if m else default


def emit(label: str, level: str, text: str) -> None:
    sys.stdout.write(json.dumps({"cell": label, "level": level, "text": text}) + "\n")
    sys.stdout.flush()


def cell_labels(nb: NotebookNode) -> dict[int, str]:
    """Cell index -> the number the user's notebook gives it among its non-empty code cells (1-based).

    That is a fresh kernel's ``In [N]`` when the user runs the notebook by hand;
    the cell papermill injects is labelled ``parameters`` and shifts nothing.
    """
    labels, n = {}, 0
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not str(cell.get("source", "")).strip():
            continue
        if INJECTED_TAG in (cell.get("metadata", {}).get("tags") or []):
            labels[i] = "parameters"
            continue
        n += 1
        labels[i] = str(n)
    return labels


class RunState:
    """What the runner needs to know about the run in progress (for errors and SIGTERM)."""

    def __init__(self) -> None:
        self.client: Any = None
        self.kernel_process: Any = None
        self.cell_index: int | None = None

    def label(self, index: int | None) -> str | None:
        if index is None or self.client is None:
            return None
        return self.client.label(index)

    def kernel_exit(self) -> tuple[int | None, int | None]:
        """(exit code, signal) of the kernel process when it has ended."""
        proc = self.kernel_process
        if proc is None:
            return None, None
        try:
            code = proc.wait(timeout=2)
        except Exception:  # noqa: BLE001 - still running, or not a Popen
            return None, None
        return (None, -code) if code < 0 else (code, None)


def make_kernel_manager(
    state: RunState, pid_file: str | None, kernel_log: str | None, python: str | None = None, python_path: str | None = None
) -> type:
    """The kernel manager of a run. ``python``: the interpreter of the task's dependency environment, whose
    ipykernel runs native kernels (with ``python_path`` as PYTHONPATH, so Lanner's packages stay out of it)."""
    from jupyter_client.manager import AsyncKernelManager

    class LannerKernelManager(AsyncKernelManager):
        """Starts this interpreter's ipykernel for native kernels, quietly, and records its process."""

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            if self.kernel_name in NATIVE_KERNELS:
                if python:
                    return [python, "-m", "ipykernel_launcher", "-f", os.path.realpath(self.connection_file)]
                return [sys.executable, "-m", _MODULE, "--kernel", "-f", os.path.realpath(self.connection_file)]
            return super().format_kernel_cmd(extra_arguments)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]  # jupyter_client's is sync-or-async
            if python and self.kernel_name in NATIVE_KERNELS:
                env = dict(kw.get("env") or os.environ)
                env["PYTHONPATH"] = python_path or ""
                env["VIRTUAL_ENV"] = str(Path(python).parent.parent)
                env["PATH"] = os.pathsep.join((str(Path(python).parent), env.get("PATH", "")))
                kw["env"] = env
            if kernel_log:
                log = open(kernel_log, "ab")  # noqa: SIM115 - the kernel process keeps it open
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
            await super().start_kernel(**kw)
            state.kernel_process = getattr(self.provisioner, "process", None)
            pid = getattr(self.provisioner, "pid", None)
            # Only a kernel that leads its own process group may be killed by group later.
            if pid_file and pid and getattr(self.provisioner, "pgid", None) == pid:
                Path(pid_file).write_text(str(pid))

    return LannerKernelManager


class _Stream:
    """Turns one cell stream's chunks into lines, and ``\\r`` refreshes into throttled progress lines."""

    def __init__(self, label: str, name: str):
        self.label = label
        self.default = "WARN" if name == "stderr" else "INFO"
        self.partial = ""
        self.progress_at = 0.0
        self.progress_text = ""

    def _line(self, text: str, progress: bool) -> None:
        if progress and text == self.progress_text:
            return
        self.progress_text = text if progress else ""
        emit(self.label, detect_level(text, "INFO" if progress else self.default), text)

    def feed(self, text: str) -> None:
        text = self.partial + text
        *lines, rest = text.split("\n")
        for line in lines:
            if line.endswith("\r"):  # "\r\n": IPython's !cmd, Windows programs
                line = line[:-1]
            last = line.rsplit("\r", 1)[-1]
            self._line(last, "\r" in line)
        # A trailing "\r" may be the first half of a "\r\n" split across two messages: keep it.
        tail = "\r" if rest.endswith("\r") else ""
        body = rest[:-1] if tail else rest
        if "\r" in body:
            done, _, current = body.rpartition("\r")
            # An empty refresh shows the one before it.
            shown = current if current.strip() else done.rsplit("\r", 1)[-1]
            now = time.monotonic()
            if shown.strip() and now - self.progress_at >= PROGRESS_EVERY:
                self.progress_at = now
                self._line(shown, True)
            rest = current + tail
        if len(rest) > MAX_PARTIAL:  # a "line" that never ends: deliver it in pieces
            self._line(rest, False)
            rest = ""
        self.partial = rest

    def close(self) -> None:
        if self.partial:
            self._line(self.partial, False)
        self.partial = ""


def register_engine(state: RunState, cell_timeout: int | None) -> None:
    """Register papermill engine ``lanner``: the streaming client, with ``cellTimeout`` per cell."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class StreamingClient(PapermillNotebookClient):
        def __init__(self, *args: Any, **kw: Any):
            super().__init__(*args, **kw)
            self._streams: dict[tuple[int, str], _Stream] = {}
            self._labels: dict[int, str] | None = None
            state.client = self

        def label(self, index: int) -> str:
            if self._labels is None:
                self._labels = cell_labels(self.nb)
            return self._labels.get(index, str(index + 1))

        def _display(self, index: int, data: dict[str, Any]) -> None:
            if "application/vnd.jupyter.widget-view+json" in data or "text/plain" not in data:
                return
            text = data["text/plain"]
            lines = ("".join(text) if isinstance(text, list) else str(text)).splitlines()
            for line in lines[:DISPLAY_LINES]:
                emit(self.label(index), "INFO", line)
            if len(lines) > DISPLAY_LINES:
                emit(self.label(index), "INFO", f"… {len(lines) - DISPLAY_LINES} more lines in the executed notebook")

        def process_message(self, msg: dict, cell: object, cell_index: int) -> Any:
            kind = msg.get("msg_type")
            content = msg.get("content", {})
            if kind == "stream":
                name = content.get("name", "stdout")
                key = (cell_index, name)
                if key not in self._streams:
                    self._streams[key] = _Stream(self.label(cell_index), name)
                self._streams[key].feed(content.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                self._display(cell_index, content.get("data") or {})
            return super().process_message(msg, cell, cell_index)

        def execute_cell(self, cell: object, cell_index: int, *args: Any, **kw: Any) -> Any:
            state.cell_index = cell_index
            try:
                return super().execute_cell(cell, cell_index, *args, **kw)
            finally:
                for key in [k for k in self._streams if k[0] == cell_index]:
                    self._streams.pop(key).close()

    class StreamingEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: object, kernel_name: str, **kwargs: Any) -> Any:
            from papermill.utils import merge_kwargs, remove_args

            kwargs = remove_args(["input_path", "stdout_file", "stderr_file", "log_output"], **kwargs)
            start_timeout = kwargs.pop("start_timeout", 60)
            final = merge_kwargs(
                remove_args(["timeout", "startup_timeout", "execution_timeout"], **kwargs),
                timeout=cell_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logging.getLogger("papermill"),
            )
            return StreamingClient(nb_man, **final).execute()

    papermill_engines.register("lanner", StreamingEngine)
