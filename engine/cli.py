"""The ``lanner`` command.

Exit codes of ``lanner flow run``: 0 when the execution ends SUCCESS or
WARNING, 1 when it ends FAILED or KILLED, 2 when the flow or its inputs are
invalid (no execution is created then).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

app = typer.Typer(help="Lanner: declarative, event-driven workflow orchestrator.", no_args_is_help=True, add_completion=False)
flow_app = typer.Typer(help="Validate, run and describe flows.", no_args_is_help=True)
namespace_app = typer.Typer(help="Namespaces and their files.", no_args_is_help=True)
ns_files_app = typer.Typer(help="Files attached to a namespace.", no_args_is_help=True)
app.add_typer(flow_app, name="flow")
app.add_typer(namespace_app, name="namespace")
namespace_app.add_typer(ns_files_app, name="files")



def _err(msg: str) -> None:
    typer.echo(msg, err=True)


@flow_app.command("validate")
def flow_validate(
    files: Annotated[list[Path], typer.Argument(help="Flow YAML files.")],
    run_docker_as_process: Annotated[bool, typer.Option("--run-docker-as-process", help="Accept script tasks meant for a Docker container: they would run as processes (env LANNER_RUN_DOCKER_AS_PROCESS).")] = False,
) -> None:
    """Validate flow files; print every error with its path and line. Exit 1 when any is invalid.

    Beyond the flow itself, the files its tasks name are read: a notebook must
    exist beside the flow file (or in the project) and declare, in its
    ``parameters`` cell, every parameter given to it, with a compatible type.
    """
    from engine.local_engine import LocalEngine
    from engine.model.validation import check_files

    if run_docker_as_process:
        os.environ["LANNER_RUN_DOCKER_AS_PROCESS"] = "1"
    engine = LocalEngine()  # validating starts no runner
    bad = 0
    for path in files:
        text = _read_flow(path)
        if text is None:
            bad += 1
            continue
        report = engine.validate(text)
        for w in report.warnings:
            typer.echo(f"{path}: warning: {w}")
        errors = list(report.errors) or check_files(text, path.resolve().parent)
        if errors:
            bad += 1
            for e in errors:
                typer.echo(f"{path}: {e}")
        else:
            typer.echo(f"{path}: valid ({report.namespace}.{report.flow_id})")
    raise typer.Exit(1 if bad else 0)


def _read_flow(path: Path) -> str | None:
    """A flow file's text, or None after saying in one sentence why it cannot be read (too big, binary...)."""
    from engine.cli_run import read_flow

    return read_flow(path)


@flow_app.command("schema")
def flow_schema() -> None:
    """Print the JSON Schema of a flow (every registered task and trigger type)."""
    from engine.model.schema import flow_json_schema

    typer.echo(json.dumps(flow_json_schema(), indent=2))


@flow_app.command("run")
def flow_run(
    file: Annotated[Path, typer.Argument(help="The flow YAML file.")],
    input: Annotated[list[str] | None, typer.Option("--input", "-i", help="An input as KEY=VALUE (repeatable). FILE inputs take a local path.")] = None,
    flows: Annotated[Path | None, typer.Option("--flows", help="Deploy every flow of this directory first (so subflows resolve).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the execution summary as JSON on stdout; logs go to stderr.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Kill the execution after this many seconds.")] = None,
    run_docker_as_process: Annotated[bool, typer.Option("--run-docker-as-process", help="Run script tasks meant for a Docker container as processes on this host, with a WARNING (env LANNER_RUN_DOCKER_AS_PROCESS).")] = False,
) -> None:
    """Run a flow in this process on the embedded store and wait for it to end."""
    from engine.cli_run import run_flow_file

    if run_docker_as_process:
        os.environ["LANNER_RUN_DOCKER_AS_PROCESS"] = "1"
    raise typer.Exit(run_flow_file(file, input or [], flows, as_json, timeout))


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


plugins_app = typer.Typer(help="Installed plugins: the task, trigger and condition types they add.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")


@plugins_app.command("list")
def plugins_list(
    as_json: Annotated[bool, typer.Option("--json", help="Every plugin with its types and load errors, as JSON.")] = False,
) -> None:
    """Each plugin (distribution and version), the types it adds, and why any of them could not be loaded."""
    from engine.model.registry import plugins

    found = plugins()
    if as_json:
        typer.echo(json.dumps([p.to_dict() for p in found], indent=2))
        return
    for plugin in found:
        version = f" {plugin.version}" if plugin.version else ""
        typer.echo(f"{plugin.name}{version}" + ("  (Lanner's own types)" if plugin.builtin else ""))
        for kind, label in (("task", "tasks"), ("trigger", "triggers"), ("condition", "conditions")):
            names = [t["type"] for t in plugin.types[kind]]
            if names:
                typer.echo(f"  {label} ({len(names)}): {', '.join(names)}")
        for error in plugin.errors:
            typer.echo(f"  error: {error.group} entry point '{error.entry_point}' ({error.target}): {error.message}")


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
