"""Runs one notebook with papermill, in its own process (``python -m engine.tasks.notebook_runner SPEC``).

The notebook task starts this module through ``run_process`` so a hung or
crashing kernel can never take the worker down, and a timeout can stop
everything. ``SPEC`` is a JSON file written by the task (see
``engine/tasks/notebook.py``); this process answers on three channels:

* stdout: one JSON event per line a cell prints or displays,
  ``{"cell": "3", "level": "INFO", "text": "..."}``, flushed at once, so logs
  stream while the notebook runs (``engine/tasks/notebook_client.py``);
* stderr: warnings of its own and papermill's;
* the ``result`` file (JSON): success, or what failed (the cell as the user's
  notebook numbers it, the exception and traceback; a missing or dead kernel
  as one sentence), and whether the HTML report was written.

The executed notebook is saved when each cell starts and ends, every few
seconds while a long cell prints, and on SIGTERM (timeout or kill): what ran
is never lost. ``--report NOTEBOOK HTML`` renders the report of a notebook
saved that way.

``python -m engine.tasks.notebook_runner --kernel -f CONNECTION_FILE`` is the
kernel itself (see :func:`kernel_main`). The kernel is this interpreter's
ipykernel for the native ``python3`` kernel (whatever kernelspec a user or the
system has installed), started so it dies with this process:
``PR_SET_PDEATHSIG`` is set inside the kernel on Linux, its pid is written to
``pidFile`` (the task kills its process group afterwards), and ipykernel's own
parent poller (``JPY_PARENT_PID``) is the last resort.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from engine.tasks.notebook_client import RunState, make_kernel_manager, register_engine
from engine.tasks.notebook_params import overridden_by_notebook

NO_PARAMETERS_CELL = "notebook has no cell tagged 'parameters'"
#: Seconds between two saves of the executed notebook while one cell keeps printing.
AUTOSAVE_EVERY = 5


def no_parameters_warning(overridden: list[str]) -> str:
    """The warning for a notebook without a parameters cell; names the assignments that win and the fix."""
    fix = ("tag the cell that sets their defaults with 'parameters' (JupyterLab: Property Inspector > Cell Tags) "
           "so the values are injected after it")
    if overridden:
        names = ", ".join(overridden)
        return (f"{NO_PARAMETERS_CELL}: the parameters were injected at the top, so the notebook's own "
                f"assignment{'s' if len(overridden) > 1 else ''} to {names} win{'' if len(overridden) > 1 else 's'} "
                f"over the values given; {fix}")
    return f"{NO_PARAMETERS_CELL}: the parameters were injected at the top; {fix}"


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


def _installed_kernels() -> list[str]:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return sorted(KernelSpecManager().find_kernel_specs())
    except Exception:  # noqa: BLE001 - a broken Jupyter path must not hide the real error
        return []


def _exit_text(code: int | None, sig: int | None) -> str:
    if sig is not None:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = ", often the out-of-memory killer" if sig == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    if code is not None:
        return f"exit code {code}"
    return "no exit status known"


def _error_info(exc: BaseException, state: RunState, kernel: str, kernel_from: str) -> dict[str, Any]:
    """What failed, for the result file: a cell (user's numbering), a kernel problem, or the run itself."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        cell: str | None = state.label(exc.cell_index) or str(exc.exec_count)
        return {"stage": "cell", "cell": cell, "ename": exc.ename, "evalue": exc.evalue, "traceback": _plain(exc.traceback)}
    if isinstance(exc, NoSuchKernel):
        installed = ", ".join(_installed_kernels()) or "none"
        asked = ("the task's kernel property names" if kernel_from == "task"
                 else "the notebook's metadata (kernelspec) names")
        return {"stage": "kernel", "message": (
            f"{asked} kernel '{kernel}', which is not installed on this worker (installed: {installed}); "
            f"set the task's `kernel` property to one of them, or install that kernel on the worker")}
    if isinstance(exc, CellTimeoutError):
        return {"stage": "cell_timeout", "cell": state.label(state.cell_index)}
    dead = isinstance(exc, DeadKernelError) or "Kernel died" in str(exc)
    if dead:
        code, sig = state.kernel_exit()
        cell = state.label(state.cell_index) if isinstance(exc, DeadKernelError) else None
        where = f"while running cell {cell}" if cell else "while starting"
        return {"stage": "dead", "cell": cell, "exitCode": code, "signal": sig,
                "message": f"the kernel '{kernel}' died {where} ({_exit_text(code, sig)})"}
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


def _stop_on_sigterm(state: RunState, output: Path) -> None:
    """On SIGTERM (timeout or kill) save what ran so far, then end at once (the task kills the kernel)."""

    def handler(signum: int, _frame: object) -> None:
        client = state.client
        if client is not None:
            try:
                import nbformat

                if state.cell_index is not None:
                    cell = client.nb.cells[state.cell_index]
                    cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                        "stream", name="stderr", text="Lanner stopped the notebook here (timeout or kill).\n"))
                nbformat.write(client.nb, str(output))
            except Exception:  # noqa: BLE001 - stopping must not fail
                pass
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    _skip_slow_optional_imports()
    import nbformat
    import papermill

    _setup_logging()
    state = RunState()
    cell_timeout = spec.get("cellTimeout")
    register_engine(state, int(cell_timeout) if cell_timeout else None)
    source = Path(spec["input"])
    output = Path(spec["output"])
    _stop_on_sigterm(state, output)
    try:
        nb = nbformat.read(str(source), as_version=4)
    except Exception as exc:  # noqa: BLE001 - not JSON, not a notebook, unreadable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"ok": False, "error": {"stage": "read", "ename": type(exc).__name__, "evalue": first[:500]}}
    parameters = spec.get("parameters") or {}
    kernel = spec.get("kernel") or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    kernel_from = "task" if spec.get("kernel") else "notebook"
    has_cell = any("parameters" in (c.get("metadata", {}).get("tags") or []) for c in nb.cells)
    if parameters and not has_cell:
        sys.stderr.write(no_parameters_warning(overridden_by_notebook(nb, list(parameters))) + "\n")
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
            autosave_cell_every=AUTOSAVE_EVERY,
            kernel_manager_class=make_kernel_manager(
                state, spec.get("pidFile"), spec.get("kernelLog"), spec.get("kernelPython"), spec.get("kernelPythonPath")
            ),
        )
    except Exception as exc:  # noqa: BLE001 - every failure is reported in the result file
        result["ok"] = False
        result["error"] = _error_info(exc, state, kernel, kernel_from)
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
    if args[:1] == ["--report"] and len(args) == 3:
        _skip_slow_optional_imports()
        write_report(Path(args[1]), Path(args[2]))
        return 0
    if len(args) != 1:
        sys.stderr.write("usage: python -m engine.tasks.notebook_runner SPEC.json | --report NOTEBOOK HTML\n")
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    result = run(spec)
    Path(spec["result"]).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
