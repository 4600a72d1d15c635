"""The ``lanner server`` command group (registered by ``engine.cli.main``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

server_app = typer.Typer(help="Run the Lanner server.", no_args_is_help=True)

_PRECEDENCE = "Each option can also come from the environment (shown) or lanner.yaml; flags win, then environment, then the file."


@server_app.command("local", help="Run everything in one process: REST API (/api/v1), UI (/ui), scheduler, executor and workers.\n\n" + _PRECEDENCE)
def server_local(
    host: Annotated[str | None, typer.Option(help="Address to bind (env LANNER_HOST; default 127.0.0.1, private to this machine).", show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (env LANNER_PORT; default 8080).", show_default=False)] = None,
    flows: Annotated[Path | None, typer.Option(help="Directory of flow YAML files, deployed at start and re-deployed when they change (env LANNER_FLOWS; default flows).", show_default=False)] = None,
    workers: Annotated[int | None, typer.Option(help="Worker threads running task attempts (env LANNER_WORKERS; default 4 x CPUs).", show_default=False)] = None,
    grace: Annotated[float | None, typer.Option(help="Seconds running attempts may take to finish after SIGTERM; the rest resume at the next start (env LANNER_GRACE; default 30).", show_default=False)] = None,
    home: Annotated[Path | None, typer.Option(help="Home of the embedded database and internal storage (env LANNER_HOME; default ./.lanner).", show_default=False)] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the store, e.g. postgresql+psycopg://... (env LANNER_DATABASE_URL; default SQLite in home).", show_default=False)] = None,
    auth_users: Annotated[str | None, typer.Option(help="Basic-auth users 'user:password,...' protecting API and UI (/health stays open, webhooks use their key) (env LANNER_AUTH_USERS; default none).", show_default=False)] = None,
    max_body: Annotated[str | None, typer.Option(help="Largest request body, e.g. 10MiB; larger ones get 413 (env LANNER_MAX_BODY; default 10MiB).", show_default=False)] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error (env LANNER_LOG_LEVEL; default info).", show_default=False)] = None,
    watch: Annotated[bool | None, typer.Option("--watch/--no-watch", help="Re-deploy flow files when they change (env LANNER_WATCH; default on).", show_default=False)] = None,
    ui: Annotated[bool | None, typer.Option("--ui/--no-ui", help="Load the builder UI at /ui; off serves a placeholder page and starts faster (env LANNER_UI; default on).", show_default=False)] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://HOST:8786: task attempts run on that Dask cluster (env LANNER_DASK_ADDRESS; default local threads).", show_default=False)] = None,
    allowed_hosts: Annotated[str | None, typer.Option(help="Host names the server answers to besides localhost, 127.0.0.1, [::1] and the bind address, comma separated; *.example.com wildcards, * for any (env LANNER_ALLOWED_HOSTS; default none).", show_default=False)] = None,
    header_timeout: Annotated[float | None, typer.Option(help="Seconds a client has to send a request's headers before the connection is closed (env LANNER_HEADER_TIMEOUT; default 10).", show_default=False)] = None,
    run_docker_as_process: Annotated[bool | None, typer.Option("--run-docker-as-process/--no-run-docker-as-process", help="Run script tasks meant for a Docker container (taskRunner Docker, containerImage) as processes on this host, with a WARNING that the image is ignored, instead of refusing them (env LANNER_RUN_DOCKER_AS_PROCESS; default off).", show_default=False)] = None,
    url: Annotated[str | None, typer.Option(help="Public URL of the server as users reach it, for links to execution pages in notifications (env LANNER_URL; default http://HOST:PORT).", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(help="Settings file [default ./lanner.yaml when present).", show_default=False)] = None,
) -> None:
    from engine.model.start_imports import start_imports

    start_imports()  # before FastAPI and Lanner build their models
    from engine.server import ConfigError, load_config, run_server

    flags = {
        "host": host, "port": port, "flows": flows, "workers": workers, "grace": grace, "home": home,
        "database_url": database_url, "auth_users": auth_users, "max_body": max_body, "log_level": log_level, "watch": watch, "ui": ui, "dask": dask,
        "allowed_hosts": allowed_hosts, "header_timeout": header_timeout, "url": url, "run_docker_as_process": run_docker_as_process,
    }
    try:
        cfg = load_config(flags, config_file=config)
    except ConfigError as exc:
        typer.echo(f"lanner server local: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(run_server(cfg))


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
