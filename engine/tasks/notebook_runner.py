"""Runs one notebook with papermill, in its own process (``python -m engine.tasks.notebook_runner SPEC``).

The notebook task starts this module through ``run_process`` so a hung or
crashing kernel can never take the worker down, and a timeout can stop
everything. ``SPEC`` is a JSON file written by the task (see
``engine/tasks/notebook.py``); this process answers on three channels:

* stdout: one line per line a cell prints on stdout, as ``[cell N] text``,
  flushed immediately, so logs stream while the notebook runs;
* stderr: the same for what cells print on stderr, plus warnings of its own;
* the ``result`` file (JSON): success, or the failing cell, exception and
  traceback, and whether the HTML report was written.

``python -m engine.tasks.notebook_runner --kernel -f CONNECTION_FILE`` is the
kernel itself (see :func:`kernel_main`).

Cells are numbered like Jupyter's ``In [N]`` prompts of the executed notebook:
code cells only, in order, the injected parameters cell included.

The kernel is this interpreter's ipykernel for the native ``python3`` kernel
(whatever kernelspec a user or the system has installed), started so it dies
with this process: ``PR_SET_PDEATHSIG`` is set inside the kernel on Linux, its
pid is written to ``pidFile`` (the task kills its process group afterwards),
and ipykernel's own parent poller (``JPY_PARENT_PID``) is the last resort.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

NO_PARAMETERS_CELL = "notebook has no cell tagged 'parameters'; parameters were injected at the top"

NATIVE_KERNELS = {"python3"}
_MODULE = "engine.tasks.notebook_runner"


def _emit(stream: Any, label: str, text: str) -> None:
    stream.write(f"[cell {label}] {text}\n")
    stream.flush()


def _code_cell_numbers(nb: Any) -> dict[int, int]:
    """Cell index -> its number among non-empty code cells (1-based): a fresh kernel's In [N]."""
    numbers, n = {}, 0
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code" and str(cell.get("source", "")).strip():
            n += 1
            numbers[i] = n
    return numbers


def _make_kernel_manager(pid_file: str | None, kernel_log: str | None) -> type:
    from jupyter_client.manager import AsyncKernelManager

    class LannerKernelManager(AsyncKernelManager):  # type: ignore[misc]
        """Starts this interpreter's ipykernel for native kernels, quietly, and records its pid."""

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            if self.kernel_name in NATIVE_KERNELS:
                return [sys.executable, "-m", _MODULE, "--kernel", "-f", os.path.realpath(self.connection_file)]
            return super().format_kernel_cmd(extra_arguments)

        async def start_kernel(self, **kw: Any) -> None:
            if kernel_log:
                log = open(kernel_log, "ab")  # noqa: SIM115 - the kernel process keeps it open
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
            await super().start_kernel(**kw)
            pid = getattr(self.provisioner, "pid", None)
            # Only a kernel that leads its own process group may be killed by group later.
            if pid_file and pid and getattr(self.provisioner, "pgid", None) == pid:
                Path(pid_file).write_text(str(pid))

    return LannerKernelManager


def _register_engine() -> None:
    """A papermill engine whose client prints every stream line with its cell number, at once."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class StreamingClient(PapermillNotebookClient):
        def __init__(self, *args: Any, **kw: Any):
            super().__init__(*args, **kw)
            self._partial: dict[tuple[int, str], str] = {}
            self._numbers: dict[int, int] | None = None

        def _label(self, index: int) -> str:
            if self._numbers is None:
                self._numbers = _code_cell_numbers(self.nb)
            return str(self._numbers.get(index, index + 1))

        def _out(self, index: int, name: str, text: str) -> None:
            stream = sys.stderr if name == "stderr" else sys.stdout
            _emit(stream, self._label(index), text.rsplit("\r", 1)[-1])

        def process_message(self, msg: dict, cell: Any, cell_index: int) -> Any:
            if msg.get("msg_type") == "stream":
                content = msg.get("content", {})
                name = content.get("name", "stdout")
                key = (cell_index, name)
                text = self._partial.pop(key, "") + content.get("text", "")
                *lines, rest = text.split("\n")
                for line in lines:
                    self._out(cell_index, name, line)
                if rest:
                    self._partial[key] = rest
            return super().process_message(msg, cell, cell_index)

        def execute_cell(self, cell: Any, cell_index: int, *args: Any, **kw: Any) -> Any:
            try:
                return super().execute_cell(cell, cell_index, *args, **kw)
            finally:
                for key in [k for k in self._partial if k[0] == cell_index]:
                    self._out(cell_index, key[1], self._partial.pop(key))

    class StreamingEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            from papermill.utils import merge_kwargs, remove_args

            kwargs = remove_args(["input_path", "stdout_file", "stderr_file", "log_output"], **kwargs)
            start_timeout = kwargs.pop("start_timeout", 60)
            final = merge_kwargs(
                remove_args(["timeout", "startup_timeout", "execution_timeout"], **kwargs),
                timeout=None,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logging.getLogger("papermill"),
            )
            return StreamingClient(nb_man, **final).execute()

    papermill_engines.register("lanner", StreamingEngine)


def _setup_logging() -> None:
    """Papermill's warnings (e.g. unknown parameters) go to stderr; its chatter does not."""

    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "does not contain a cell with tag 'parameters'" not in record.getMessage()

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_Drop())
    log = logging.getLogger("papermill")
    log.handlers[:] = [handler]
    log.setLevel(logging.WARNING)
    log.propagate = False


def write_report(notebook_path: Path, html_path: Path) -> None:
    """Render the executed notebook as one self-contained HTML page (no script from a CDN)."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    template = (
        "{%- extends 'index.html.j2' -%}\n"
        "{%- block html_head_js -%}{%- endblock html_head_js -%}\n"
        "{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}\n"
        "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n"
        "{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}\n"
    )
    exporter = HTMLExporter(
        template_name="lab",
        template_file="lanner_report.html.j2",
        extra_loaders=[DictLoader({"lanner_report.html.j2": template})],
        embed_images=True,
    )
    nb = nbformat.read(str(notebook_path), as_version=4)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook_path.stem}})
    html_path.write_text(body, encoding="utf-8")


def _error_info(exc: BaseException) -> dict[str, Any]:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        # A fresh kernel numbers executions like _code_cell_numbers does.
        return {"stage": "cell", "cell": exc.exec_count, "ename": exc.ename, "evalue": exc.evalue, "traceback": _plain(exc.traceback)}
    return {
        "stage": "run",
        "cell": None,
        "ename": type(exc).__name__,
        "evalue": str(exc).strip().splitlines()[0] if str(exc).strip() else "",
        "traceback": traceback.format_exception(exc)[-5:],
    }


def _plain(lines: list[str]) -> list[str]:
    """Traceback lines without the ANSI colours ipykernel adds."""
    import re

    ansi = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
    return [ansi.sub("", line) for line in lines]


def _skip_slow_optional_imports() -> None:
    """Keep jsonschema (imported by nbformat) from loading its optional IRI checker.

    ``rfc3987_syntax`` builds a grammar at import time (~2 s on a busy machine) and
    only validates "iri" strings, which notebooks never contain. jsonschema
    imports it under ``suppress(ImportError)``, so a ``None`` entry skips it.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def run(spec: dict[str, Any]) -> dict[str, Any]:
    _skip_slow_optional_imports()
    import nbformat
    import papermill

    _setup_logging()
    _register_engine()
    source = Path(spec["input"])
    output = Path(spec["output"])
    try:
        nb = nbformat.read(str(source), as_version=4)
    except Exception as exc:  # noqa: BLE001 - not JSON, not a notebook, unreadable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"ok": False, "error": {"stage": "read", "ename": type(exc).__name__, "evalue": first[:500]}}
    parameters = spec.get("parameters") or {}
    kernel = spec.get("kernel") or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    has_cell = any("parameters" in (c.get("metadata", {}).get("tags") or []) for c in nb.cells)
    if parameters and not has_cell:
        sys.stderr.write(NO_PARAMETERS_CELL + "\n")
        sys.stderr.flush()
    result: dict[str, Any] = {"ok": True, "kernel": kernel, "parametersCell": has_cell}
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=parameters,
            engine_name="lanner",
            kernel_name=kernel,
            cwd=spec.get("cwd"),
            progress_bar=False,
            start_timeout=spec.get("startTimeout", 60),
            kernel_manager_class=_make_kernel_manager(spec.get("pidFile"), spec.get("kernelLog")),
        )
    except Exception as exc:  # noqa: BLE001 - every failure is reported in the result file
        result["ok"] = False
        result["error"] = _error_info(exc)
        log = spec.get("kernelLog")
        if log and Path(log).is_file():
            result["kernelLog"] = Path(log).read_text(errors="replace").splitlines()[-20:]
    result["notebook"] = output.is_file()
    if spec.get("report") and output.is_file():
        try:
            write_report(output, Path(spec["report"]))
            result["report"] = True
        except Exception as exc:  # noqa: BLE001 - a report problem must not hide the run's outcome
            result["report"] = False
            sys.stderr.write(f"HTML report not written: {type(exc).__name__}: {exc}\n")
    return result


def kernel_main(args: list[str]) -> None:
    """Be the kernel (``--kernel -f CONNECTION_FILE``): die with the runner, then start ipykernel."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
            # The runner may have died before prctl: then no signal would ever come.
            if str(os.getppid()) != os.environ.get("JPY_PARENT_PID", str(os.getppid())):
                os._exit(1)
        except (OSError, AttributeError):
            pass
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # like ipykernel_launcher; IPython puts the working directory back
    from ipykernel import kernelapp

    sys.argv = [sys.argv[0], *args]
    kernelapp.launch_new_instance()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--kernel"]:
        kernel_main(args[1:])
        return 0
    if len(args) != 1:
        sys.stderr.write("usage: python -m engine.tasks.notebook_runner SPEC.json\n")
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    result = run(spec)
    Path(spec["result"]).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
