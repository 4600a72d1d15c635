"""show / run / watch: what the magics and the Python API do, in one place.

A :class:`Session` owns the engines of one kernel (the embedded engine, opened on
first use, and one HTTP engine per server URL). A :class:`Run` polls an execution from a
thread every ~200 ms and pushes its state into the widget, so the topology changes
colour while the flow runs even though the cell itself is waiting.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from builder.jupyter.backends import NotebookError, local_engine, server_engine
from builder.jupyter.widget import FlowWidget
from builder.topology import layout_from_summary
from engine.client import HttpEngine
from engine.model.inputs import InputError
from engine.model.state import TERMINAL
from engine.model.validation import FlowValidationError
from engine.service import Engine, EngineError, Unreachable

POLL_INTERVAL = 0.2
#: Logs are re-read every this many polls (and once more at the end).
LOGS_EVERY = 5


class FlowInvalid(NotebookError, ValueError):
    """A flow that does not validate; the message lists every error with its line."""

    def __init__(self, errors: list[Any]):
        self.errors = errors
        lines = [f"the flow is invalid ({len(errors)} error{'s' if len(errors) != 1 else ''}):"]
        for e in errors:
            where = f"line {e.line}: " if getattr(e, "line", None) else ""
            path = f"{e.path}: " if getattr(e, "path", "") else ""
            lines.append(f"  {where}{path}{e.message}")
        super().__init__("\n".join(lines))


def validate(text: str) -> dict[str, Any]:
    """Validate flow YAML; return its data, or raise FlowInvalid listing every error with its line."""
    from engine.model.validation import validate_text

    report = validate_text(text)
    if report.errors:
        raise FlowInvalid(report.errors)
    return report.data if isinstance(report.data, dict) else yaml.safe_load(text)


def parse_inputs(pairs: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` as a dict; values stay strings (the engine coerces them by input type)."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise NotebookError(f"--input '{pair}' must look like NAME=VALUE")
        out[key.strip()] = value
    return out


@contextmanager
def refused(what: str, engine: Engine) -> Iterator[None]:
    """An engine's refusal as one NotebookError saying what failed where."""
    try:
        yield
    except Unreachable as exc:
        raise NotebookError(str(exc)) from None
    except (EngineError, InputError, FlowValidationError) as exc:
        raise NotebookError(f"{what} ({engine.label}): {exc}") from None


def summary_of(engine: Engine, execution_id: str) -> dict[str, Any] | None:
    """The execution summary as the widget and the user get it (the REST API's JSON)."""
    found = engine.summary(execution_id)
    return None if found is None else found.to_dict()


def logs_of(engine: Engine, execution_id: str) -> list[dict[str, Any]]:
    return [line.to_dict() for line in engine.logs(execution_id)]


def flow_source(engine: Engine, namespace: str, flow_id: str, revision: int | None = None) -> str | None:
    """The YAML of a deployed flow (None when the engine has no such flow)."""
    with refused(f"cannot read flow {namespace}.{flow_id}", engine):
        found = engine.flow(namespace, flow_id, revision) if namespace else None
    return found.source if found is not None else None


def read_file(engine: Engine, execution_id: str, uri: str) -> tuple[str, bytes]:
    """A file the execution stored (its executed notebook, report, output files): (name, bytes)."""
    with refused(f"cannot read {uri}", engine), engine.download(execution_id, uri) as found:
        return found.name, found.read()


class CellWidgets:
    """The widgets each notebook cell showed, so a cell that runs again closes the ones it showed before.

    Without this, every re-run leaves its old widget models alive in the kernel
    and in the page, and JupyterLab saves all of them in the notebook. Cells are
    known by the ``cellId`` JupyterLab (and other front ends) put in each execute
    request; without one, nothing is closed.
    """

    def __init__(self) -> None:
        self._by_cell: dict[str, tuple[str, list[Any]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def current_cell() -> tuple[str, str] | None:
        """(cell id, execute request id) of the cell running now, when the front end says."""
        try:
            from IPython import get_ipython

            kernel = getattr(get_ipython(), "kernel", None)
            parent = kernel.get_parent("shell") if kernel is not None else None
        except Exception:  # noqa: BLE001 - plain Python, an old ipykernel: no cell to know
            return None
        if not isinstance(parent, dict):
            return None
        cell_id = (parent.get("metadata") or {}).get("cellId")
        msg_id = (parent.get("header") or {}).get("msg_id")
        return (str(cell_id), str(msg_id)) if cell_id and msg_id else None

    def adopt(self, widget: Any, on_close: Any = None) -> None:
        """Record that the running cell shows ``widget``; close what an earlier run of it showed."""
        cell = self.current_cell()
        if cell is None:
            return
        cell_id, msg_id = cell
        with self._lock:
            previous_msg, previous = self._by_cell.get(cell_id, ("", []))
            if previous_msg == msg_id:
                previous.append((widget, on_close))
                return
            self._by_cell[cell_id] = (msg_id, [(widget, on_close)])
        for old, stop in previous:
            if stop is not None:
                stop()
            old.close()


class Session:
    """Engines of one kernel: the embedded one and any servers used so far."""

    def __init__(self, home: str | Path | None = None):
        self.local = local_engine(home)
        self._servers: dict[str, Engine] = {}
        self.runs: list[Run] = []
        self.cells = CellWidgets()

    def backend(self, server: str | None = None) -> Engine:
        if not server:
            return self.local
        key = server.rstrip("/")
        if key not in self._servers:
            self._servers[key] = server_engine(key)
        return self._servers[key]

    def resolve(self, source: str, backend: Engine) -> str:
        """Flow YAML from YAML text, a file path, or a flow id ``namespace.flowId`` known to the backend."""
        return self.resolve_file(source, backend)[0]

    def resolve_file(self, source: str, backend: Engine) -> tuple[str, Path | None]:
        """Like :meth:`resolve`, with the flow file's path when the source was a file."""
        source = source.strip() if isinstance(source, str) else source
        if not isinstance(source, str) or not source:
            raise NotebookError("give flow YAML, a .yaml file path, or a flow id such as company.team.hello")
        if "\n" in source or source.startswith(("id:", "{")):
            return source, None
        path = Path(source).expanduser()
        if path.is_file():
            return path.read_text(), path.resolve()
        if path.suffix in (".yaml", ".yml"):
            raise NotebookError(f"flow file '{source}' does not exist")
        namespace, _, flow_id = source.replace("/", ".").rpartition(".")
        text = flow_source(backend, namespace, flow_id)
        if text is None:
            raise NotebookError(f"'{source}' is neither a flow file nor a flow id known to {backend.label}")
        return text, None

    def show(self, source: str, *, server: str | None = None) -> FlowWidget:
        text = self.resolve(source, self.backend(server))
        widget = FlowWidget.from_flow(validate(text))
        self.cells.adopt(widget)
        return widget

    def edit(self, source: str, *, server: str | None = None) -> Any:
        """The builder's canvas for a flow file (a new one when the ``.yaml`` file does not exist yet)
        or a deployed flow id; *Save* writes the file, or deploys a new revision where the flow came from."""
        from builder.jupyter.editor import FlowEditor
        from builder.yaml_sync import parse

        backend = self.backend(server)
        ref = str(source).strip()
        path = Path(ref).expanduser()
        if path.is_file() or path.suffix in (".yaml", ".yml"):
            if path.is_file():
                data, error = parse(path.read_text())
                if data is None:
                    raise NotebookError(f"{ref} is not readable YAML: {error}")
            else:
                flow_id = re.sub(r"[^a-zA-Z0-9_-]+", "-", path.stem).strip("-") or "new-flow"
                data = {"id": flow_id, "namespace": "company.team", "tasks": []}

            def save_file(text: str) -> str:
                path.write_text(text, encoding="utf-8")
                return f"saved to {ref}"

            editor = FlowEditor(data, save_file, ref)
        else:
            namespace, _, flow_id = ref.replace("/", ".").rpartition(".")
            text = flow_source(backend, namespace, flow_id)
            if text is None:
                raise NotebookError(f"'{ref}' is neither a flow file nor a flow id known to {backend.label}")
            data, error = parse(text)
            if data is None:
                raise NotebookError(f"the source of {ref} on {backend.label} is not readable YAML: {error}")

            def save_deployed(text: str) -> str:
                with refused("cannot deploy the flow", backend):
                    deployed = backend.deploy(text)
                return f"saved as revision {deployed.revision} of {deployed.namespace}.{deployed.id} on {backend.label}"

            editor = FlowEditor(data, save_deployed, f"{namespace}.{flow_id} on {backend.label}")
        self.cells.adopt(editor)
        return editor

    def run(self, source: str, inputs: dict[str, Any] | None = None, *, server: str | None = None,
            display: bool = True) -> Run | None:
        """Validate, deploy and start a flow; the returned Run is already being watched.

        Inside a notebook that a ``notebook`` task is running (``LANNER_NOTEBOOK_DIR`` is
        set) nothing is started and None is returned: a notebook that defines the flow
        running it would otherwise start itself forever. ``LANNER_JUPYTER_RUN=1`` lifts this.
        """
        backend = self.backend(server)
        text, path = self.resolve_file(source, backend)
        data = validate(text)
        widget = FlowWidget.from_flow(data)
        if os.environ.get("LANNER_NOTEBOOK_DIR") and os.environ.get("LANNER_JUPYTER_RUN") != "1":
            print(f"Not running {data['namespace']}.{data['id']}: this notebook is itself running as a "
                  "notebook task (set LANNER_JUPYTER_RUN=1 to run flows from it anyway).")
            if display:
                from IPython.display import display as show_output

                self.cells.adopt(widget)
                show_output(widget)
            return None
        with refused("cannot deploy the flow", backend):
            deployed = backend.deploy(text, path=path)
        with refused(f"cannot start {deployed.namespace}.{deployed.id}", backend):
            execution_id = backend.start(deployed.namespace, deployed.id, dict(inputs or {}))
        return self._watch(widget, backend, execution_id, display)

    def watch(self, execution_id: str, *, server: str | None = None, display: bool = True) -> Run:
        backend = self.backend(server)
        with refused(f"cannot read execution {execution_id}", backend):
            summary = summary_of(backend, execution_id)
        if summary is None:
            raise NotebookError(f"execution '{execution_id}' does not exist on {backend.label}")
        text = flow_source(backend, summary["namespace"], summary["flowId"], summary.get("flowRevision"))
        if text is not None:
            widget = FlowWidget.from_flow(yaml.safe_load(text))
        else:  # the flow is gone: draw what the task runs tell
            widget = FlowWidget(topology=layout_from_summary(summary).to_dict())
        return self._watch(widget, backend, execution_id, display)

    def _watch(self, widget: FlowWidget, backend: Engine, execution_id: str, display: bool) -> Run:
        run = Run(widget, backend, execution_id)
        widget.file_reader = lambda uri: read_file(backend, execution_id, uri)
        if isinstance(backend, HttpEngine):
            widget.files_url = backend.url
        self.cells.adopt(widget, run.stop)
        # The first state is read before the cell returns: a cell that does not wait
        # (%flow watch) must not show (or save) an empty widget.
        summary = summary_of(backend, execution_id)
        if summary is not None:
            ended = summary.get("state") in TERMINAL
            run.summary = summary
            widget.show_execution(summary, logs_of(backend, execution_id) if ended else None)
        if display:
            run.display()
        run.start()
        self.runs.append(run)
        return run

    def close(self) -> None:
        for run in self.runs:
            run.stop()
        self.local.close()
        for server in self._servers.values():
            server.close()


class Run:
    """One execution being watched: a polling thread keeps ``widget`` up to date."""

    def __init__(self, widget: FlowWidget, backend: Engine, execution_id: str, interval: float = POLL_INTERVAL):
        self.widget = widget
        self.backend = backend
        self.execution_id = execution_id
        self.interval = interval
        self.summary: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()  # the execution ended (or watching failed)
        self.settled = threading.Event()  # ended, or paused waiting for someone
        self._stop = threading.Event()
        self._handle: Any = None
        self._thread = threading.Thread(target=self._poll, name=f"lanner-watch-{execution_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def display(self) -> None:
        from IPython.display import display

        self._handle = display(self.widget, display_id=True)

    def _poll(self) -> None:
        n = 0
        try:
            while not self._stop.is_set():
                summary = summary_of(self.backend, self.execution_id)
                if summary is not None:
                    state = summary.get("state")
                    ended = state in TERMINAL
                    logs = logs_of(self.backend, self.execution_id) if ended or n % LOGS_EVERY == 0 else None
                    self.summary = summary
                    self.widget.show_execution(summary, logs)
                    if state == "PAUSED":
                        self.settled.set()
                    if ended:
                        break
                n += 1
                self._stop.wait(self.interval)
        except BaseException as exc:  # noqa: BLE001 - reported to whoever waits, and shown in the widget
            self.error = exc
            self.widget.execution = {**self.widget.execution, "message": f"watching stopped: {exc}"}
        finally:
            self.done.set()
            self.settled.set()
            self.refresh_display()

    def refresh_display(self) -> None:
        """Re-send the output so its static fallback (text/html) shows the latest state."""
        if self._handle is not None:
            try:
                self._handle.update(self.widget)
            except Exception:  # noqa: BLE001 - no frontend to update (plain Python): nothing to do
                pass

    def wait(self, timeout: float | None = None, *, until_paused: bool = True) -> dict[str, Any]:
        """Block until the execution ends (or pauses); Ctrl-C kills the execution."""
        event = self.settled if until_paused else self.done
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not event.wait(0.1):
                if deadline is not None and time.monotonic() > deadline:
                    raise NotebookError(f"execution {self.execution_id} did not end within {timeout} s")
        except KeyboardInterrupt:
            self.kill()
            self.done.wait(10)
        if self.error is not None:
            raise NotebookError(f"watching execution {self.execution_id} failed: {self.error}")
        # Send the last state again from the waiting cell: updates the polling thread sent
        # between two cells are not recorded by tools that save widget state per cell (nbclient).
        self.widget.send_state(key=["states", "details", "execution"])
        return self.summary or {}

    def kill(self) -> None:
        try:
            self.backend.kill(self.execution_id)
        except EngineError:  # it ended meanwhile, or the server is gone: nothing left to kill here
            pass

    def stop(self) -> None:
        """Stop watching (the execution goes on)."""
        self._stop.set()

    @property
    def state(self) -> str | None:
        return (self.summary or {}).get("state")

    def __repr__(self) -> str:
        return f"<Run of execution {self.execution_id} on {self.backend.label}: {self.state or 'starting'}>"
