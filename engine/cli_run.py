"""``lanner flow run`` without the CLI framework: the command most often started, so the one kept light.

``engine.cli`` declares every command with Typer, whose import and command
tree cost tens of milliseconds before anything runs. The ``lanner`` console
script is :func:`main` here: :func:`fast_main` reads
the arguments of a plain ``lanner flow run FILE [--input K=V]... [--flows DIR]
[--json] [--timeout S] [--run-docker-as-process]`` itself and runs it; anything else (``--help``, a
mistake, another command) returns None and goes to Typer, which prints the
help and the errors.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from engine.service import Engine

_VALUED = {"--input": "input", "-i": "input", "--flows": "flows", "--timeout": "timeout"}


def err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    """The ``lanner`` command: a plain ``flow run`` here, everything else through Typer (``engine.cli``)."""
    code = fast_main(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from engine.model.start_imports import start_imports

    start_imports()  # Typer builds pydantic adapters of the options
    from engine.cli import main as typer_main

    typer_main()


def fast_main(argv: list[str]) -> int | None:
    """Run ``flow run`` when ``argv`` is exactly that with known options; None to let Typer handle it."""
    if argv[:2] != ["flow", "run"]:
        return None
    file: str | None = None
    opts: dict[str, Any] = {"input": [], "flows": None, "timeout": None, "json": False}
    args = iter(argv[2:])
    for arg in args:
        name, eq, attached = arg.partition("=")
        if arg == "--json":
            opts["json"] = True
        elif arg == "--run-docker-as-process":
            os.environ["LANNER_RUN_DOCKER_AS_PROCESS"] = "1"
        elif arg in _VALUED or (eq and name in _VALUED and name.startswith("--")):
            value = attached if eq else next(args, None)
            if value is None:
                return None
            key = _VALUED[name]
            opts[key] = [*opts["input"], value] if key == "input" else value
        elif arg.startswith("-") or file is not None:
            return None  # --help, an unknown option or a second file: Typer explains
        else:
            file = arg
    if file is None:
        return None
    try:
        timeout = float(opts["timeout"]) if opts["timeout"] is not None else None
    except ValueError:
        return None
    flows = Path(opts["flows"]) if opts["flows"] is not None else None
    return run_flow_file(Path(file), opts["input"], flows, opts["json"], timeout)


def parse_inputs(pairs: list[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            err(f"--input {pair!r}: expected KEY=VALUE")
            return None
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


def read_flow(path: Path) -> str | None:
    """A flow file's text, or None after saying in one sentence why it cannot be read (too big, binary...)."""
    from engine.model.yaml_loader import YamlError, read_document

    try:
        return read_document(path)
    except OSError as exc:
        err(f"{path}: cannot read: {exc.strerror or exc}")
    except YamlError as exc:
        err(f"{path}: {exc}")
    return None


def run_flow_file(file: Path, input_pairs: list[str], flows: Path | None, as_json: bool, timeout: float | None) -> int:
    """Run a flow in this process on the embedded store (through the in-process Engine), wait for its end;
    the exit code."""
    # Start-up (imports, the models of the flow's types, the runner) makes few cycles but many objects:
    # with the cyclic collector on, ~80 collections that free almost nothing cost ~7 % of a short run.
    # It runs again once the flow is deployed (the runner has frozen the start-up heap by then).
    collecting = gc.isenabled()  # a caller that turned it off keeps it off
    gc.disable()
    try:
        return _run_flow_file(file, input_pairs, flows, as_json, timeout, collecting)
    finally:
        if collecting:
            gc.enable()


def _run_flow_file(file: Path, input_pairs: list[str], flows: Path | None, as_json: bool, timeout: float | None,
                   collecting: bool) -> int:
    from engine.model.start_imports import start_imports

    start_imports()  # before the first model is built
    from engine.local_engine import LocalEngine
    from engine.model.inputs import InputError
    from engine.model.validation import FlowValidationError
    from engine.service import EngineError

    source = read_flow(file)
    if source is None:
        return 2
    inputs = parse_inputs(input_pairs)
    if inputs is None:
        return 2
    out = sys.stderr if as_json else sys.stdout
    engine = LocalEngine(native_sqlite=True)  # a short run: no SQLAlchemy unless the flow needs more of the store
    try:
        try:
            if flows is not None:
                for p in sorted(list(flows.glob("**/*.yaml")) + list(flows.glob("**/*.yml"))):
                    if p.resolve() == file.resolve():
                        continue
                    text = read_flow(p)
                    if text is None:
                        continue
                    try:
                        engine.deploy(text, path=p)
                    except FlowValidationError as exc:
                        err(f"{p}: skipped, invalid flow:\n{exc}")
            flow = engine.deploy(source, path=file)
            if collecting:
                gc.enable()
            for warning in flow.warnings:
                err(f"{file}: warning: {warning}")
            ex_id = engine.start(flow.namespace, flow.id, inputs)
        except FlowValidationError as exc:
            for e in exc.errors:
                err(f"{file}: {e}")
            return 2
        except InputError as exc:
            err(f"{file}: {exc}")
            return 2
        except EngineError as exc:  # a disabled or unknown flow, a store that cannot be opened
            err(f"{file}: {exc}")
            return 2
        try:
            summary = follow(engine, ex_id, out, timeout)
        except KeyboardInterrupt:
            kill_quietly(engine, ex_id)
            summary = engine.wait(ex_id, timeout=10).to_dict()
    finally:
        engine.close()
    if as_json:
        print(json.dumps(summary, indent=2, default=str), flush=True)
    else:
        dur = duration(summary.get("startDate"), summary.get("endDate"))
        print(f"execution {summary['id']} {summary['state']} in {dur}", file=out, flush=True)
        if summary.get("outputs"):
            print(f"outputs: {json.dumps(summary['outputs'], default=str)}", file=out, flush=True)
    return 0 if summary["state"] in ("SUCCESS", "WARNING") else 1


def follow(engine: Engine, ex_id: str, out: TextIO, timeout: float | None) -> dict[str, Any]:
    """Print task-run state changes and log lines as they happen (in that order), until the end;
    the final summary (JSON shape, secrets masked by the Engine)."""
    from engine.cli_live import LiveView
    from engine.model.state import is_terminal

    view = LiveView()
    last_log = 0
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        polled = time.thread_time()
        logs = [line.to_dict() for line in engine.logs(ex_id, after_id=last_log)]  # before the summary: it then knows their task runs
        found = engine.summary(ex_id)
        summary = found.to_dict() if found is not None else {"state": "CREATED", "taskRuns": []}
        if logs:
            last_log = logs[-1]["id"]
        ended = is_terminal(summary["state"])
        if ended:
            logs += [line.to_dict() for line in engine.logs(ex_id, after_id=last_log)]
        for line in view.lines(summary, logs):
            print(line, file=out)
        out.flush()
        if ended:
            return summary
        if deadline is not None and time.monotonic() > deadline:
            kill_quietly(engine, ex_id)
            deadline = None
        engine.wait_ended(ex_id, poll_interval(time.thread_time() - polled))  # returns at once when the execution ends


#: Seconds between two polls of the live view, at least.
POLL_INTERVAL = 0.1
#: The share of one core the live view may use.
POLL_SHARE = 0.05


def poll_interval(poll_cpu: float) -> float:
    """How long to wait before the next poll, given the CPU seconds the last one took.

    A poll reads the whole summary, so its cost grows with the execution's task
    runs: at 10 polls a second, the view of a 1,000-task ForEach cost more CPU
    than the tasks themselves. Waiting in proportion keeps the view's share of
    one core under :data:`POLL_SHARE` however big the execution is; a small
    flow is still polled every :data:`POLL_INTERVAL` seconds.
    """
    return max(POLL_INTERVAL, poll_cpu * (1 - POLL_SHARE) / POLL_SHARE)


def kill_quietly(engine: Engine, ex_id: str) -> None:
    """--timeout or Ctrl-C: kill the execution unless it ended meanwhile."""
    from engine.service import Conflict

    try:
        engine.kill(ex_id)
    except Conflict:
        pass


def duration(start: str | None, end: str | None) -> str:
    from datetime import datetime

    if not start or not end:
        return "?"
    secs = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return f"{secs:.2f}s"
