"""The ``lanner`` command.

Exit codes of ``lanner flow run``: 0 when the execution ends SUCCESS or
WARNING, 1 when it ends FAILED or KILLED, 2 when the flow or its inputs are
invalid (no execution is created then).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:
    from engine.local_engine import LocalEngine
    from engine.model.views import ExecutionSummary

app = typer.Typer(help="Lanner: declarative, event-driven workflow orchestrator.", no_args_is_help=True, add_completion=False)
flow_app = typer.Typer(help="Validate, run and describe flows.", no_args_is_help=True)
namespace_app = typer.Typer(help="Namespaces and their files.", no_args_is_help=True)
ns_files_app = typer.Typer(help="Files attached to a namespace.", no_args_is_help=True)
app.add_typer(flow_app, name="flow")
app.add_typer(namespace_app, name="namespace")
namespace_app.add_typer(ns_files_app, name="files")

STATE_MARK = {"SUCCESS": "✔", "WARNING": "⚠", "FAILED": "✘", "KILLED": "✘", "SKIPPED": "↷", "RUNNING": "▶", "CREATED": "·", "RETRYING": "↻", "PAUSED": "⏸"}


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


@flow_app.command("validate")
def flow_validate(files: Annotated[list[Path], typer.Argument(help="Flow YAML files.")]) -> None:
    """Validate flow files; print every error with its path and line. Exit 1 when any is invalid."""
    from engine.local_engine import LocalEngine

    engine = LocalEngine()  # validating starts no runner
    bad = 0
    for path in files:
        try:
            text = path.read_text()
        except OSError as exc:
            _err(f"{path}: cannot read: {exc.strerror}")
            bad += 1
            continue
        report = engine.validate(text)
        for w in report.warnings:
            typer.echo(f"{path}: warning: {w}")
        if report.errors:
            bad += 1
            for e in report.errors:
                typer.echo(f"{path}: {e}")
        else:
            typer.echo(f"{path}: valid ({report.namespace}.{report.flow_id})")
    raise typer.Exit(1 if bad else 0)


@flow_app.command("schema")
def flow_schema() -> None:
    """Print the JSON Schema of a flow (every registered task and trigger type)."""
    from engine.model.schema import flow_json_schema

    typer.echo(json.dumps(flow_json_schema(), indent=2))


def _parse_inputs(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            _err(f"--input {pair!r}: expected KEY=VALUE")
            raise typer.Exit(2)
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


@flow_app.command("run")
def flow_run(
    file: Annotated[Path, typer.Argument(help="The flow YAML file.")],
    input: Annotated[list[str] | None, typer.Option("--input", "-i", help="An input as KEY=VALUE (repeatable). FILE inputs take a local path.")] = None,
    flows: Annotated[Path | None, typer.Option("--flows", help="Deploy every flow of this directory first (so subflows resolve).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the execution summary as JSON on stdout; logs go to stderr.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Kill the execution after this many seconds.")] = None,
) -> None:
    """Run a flow in this process on the embedded store and wait for it to end."""
    from engine.local_engine import LocalEngine
    from engine.model.inputs import InputError
    from engine.model.validation import FlowValidationError
    from engine.service import EngineError

    try:
        source = file.read_text()
    except OSError as exc:
        _err(f"{file}: cannot read: {exc.strerror}")
        raise typer.Exit(2) from None
    inputs = _parse_inputs(input or [])
    out = sys.stderr if as_json else sys.stdout
    engine = LocalEngine()
    try:
        try:
            if flows is not None:
                for p in sorted(list(flows.glob("**/*.yaml")) + list(flows.glob("**/*.yml"))):
                    if p.resolve() == file.resolve():
                        continue
                    try:
                        engine.deploy(p.read_text(), path=p)
                    except FlowValidationError as exc:
                        _err(f"{p}: skipped, invalid flow:\n{exc}")
            flow = engine.deploy(source, path=file)
            ex_id = engine.start(flow.namespace, flow.id, inputs)
        except FlowValidationError as exc:
            for e in exc.errors:
                _err(f"{file}: {e}")
            raise typer.Exit(2) from None
        except (InputError, EngineError) as exc:  # bad inputs, a disabled or unknown flow
            _err(f"{file}: {exc}")
            raise typer.Exit(2) from None
        try:
            summary = _follow(engine, ex_id, out, timeout)
        except KeyboardInterrupt:
            _kill_quietly(engine, ex_id)
            summary = engine.wait(ex_id, timeout=10)
    finally:
        engine.close()
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        dur = _duration(summary.start_date, summary.end_date)
        typer.echo(f"execution {summary.id} {summary.state} in {dur}", file=out)
        if summary.outputs:
            typer.echo(f"outputs: {json.dumps(summary.outputs, default=str)}", file=out)
    raise typer.Exit(0 if summary.state in ("SUCCESS", "WARNING") else 1)


def _follow(engine: LocalEngine, ex_id: str, out: TextIO, timeout: float | None) -> ExecutionSummary:
    """Print task-run state changes and log lines as they happen, until the end."""
    from engine.model.views import LogEvent, StateEvent

    seen: dict[str, str] = {}
    killer = threading.Timer(timeout, _kill_quietly, (engine, ex_id)) if timeout else None
    if killer is not None:
        killer.daemon = True
        killer.start()
    try:
        for event in engine.follow(ex_id, interval=0.1):
            if isinstance(event, LogEvent):
                log = event.line
                typer.echo(f"{log.timestamp[11:23]} {log.level:<5} {log.task_id or '-'}: {log.message}", file=out)
            elif isinstance(event, StateEvent):
                for tr in event.task_runs:
                    if seen.get(tr.id) != tr.state:
                        seen[tr.id] = tr.state
                        value = f"[{tr.value}]" if tr.value is not None else ""
                        typer.echo(f"{STATE_MARK.get(tr.state, ' ')} {tr.task_id}{value} {tr.state}", file=out)
    finally:
        if killer is not None:
            killer.cancel()
    return engine.wait(ex_id)


def _kill_quietly(engine: LocalEngine, ex_id: str) -> None:
    """--timeout: kill the execution unless it ended meanwhile."""
    from engine.service import Conflict

    try:
        engine.kill(ex_id)
    except Conflict:
        pass


def _duration(start: str | None, end: str | None) -> str:
    from datetime import datetime

    if not start or not end:
        return "?"
    secs = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return f"{secs:.2f}s"


@ns_files_app.command("upload")
def namespace_files_upload(
    namespace: Annotated[str, typer.Argument(help="Namespace, e.g. company.team.")],
    directory: Annotated[Path, typer.Argument(help="Local directory whose files are uploaded.")],
) -> None:
    """Attach every file of DIRECTORY to NAMESPACE (scripts and notebooks can then use them)."""
    from engine.local_engine import LocalEngine
    from engine.service import EngineError

    if not directory.is_dir():
        _err(f"{directory}: not a directory")
        raise typer.Exit(2)
    try:
        files = LocalEngine().upload_namespace_dir(namespace, directory)
    except EngineError as exc:
        _err(str(exc))
        raise typer.Exit(2) from None
    for f in files:
        typer.echo(f"{namespace}/{f.path}")
    typer.echo(f"{len(files)} file(s) uploaded to namespace {namespace}")


@ns_files_app.command("list")
def namespace_files_list(namespace: Annotated[str, typer.Argument(help="Namespace.")]) -> None:
    """List the files attached to NAMESPACE."""
    from engine.local_engine import LocalEngine
    from engine.service import EngineError

    try:
        files = LocalEngine().namespace_files(namespace)
    except EngineError as exc:
        _err(str(exc))
        raise typer.Exit(2) from None
    for f in files:
        typer.echo(f.path)


db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every missing migration to LANNER_DATABASE_URL (or the embedded SQLite database)."""
    from engine.admin import database_url, display_url, upgrade_database

    url = database_url()
    try:
        before, after = upgrade_database(url)
    except Exception as exc:  # noqa: BLE001 - one sentence, no traceback
        _err(f"database {display_url(url)}: cannot upgrade: {str(exc).splitlines()[0]}")
        raise typer.Exit(1) from None
    typer.echo(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the newest one this code knows."""
    from engine.admin import database_revision, database_url

    current, head = database_revision(database_url())
    typer.echo(f"current: {current or 'empty'}; head: {head}")


@app.command("purge")
def purge_cmd(
    older_than: Annotated[str, typer.Option("--older-than", help="ISO-8601 duration, e.g. P30D: delete ended executions older than this.")],
    keep_failed: Annotated[bool, typer.Option("--keep-failed", help="Keep FAILED and KILLED executions.")] = False,
) -> None:
    """Delete old executions with their task runs, logs and files."""
    from engine.admin import purge_old
    from engine.purge import parse_older_than

    try:
        td = parse_older_than(older_than)
    except ValueError as exc:
        _err(str(exc))
        raise typer.Exit(2) from None
    report = purge_old(td, keep_failed=keep_failed)
    typer.echo(f"purged {report.executions} execution(s), {report.task_runs} task run(s), {report.logs} log line(s)")


def main() -> None:
    try:
        from engine.server_cli import register  # the server commands, when present

        register(app)
    except ImportError:
        pass
    app()


if __name__ == "__main__":
    main()
