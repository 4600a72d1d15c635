"""What ``Query``, ``Queries`` and ``Trigger`` share: Kestra's JDBC properties and one way to run them."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from engine.sdk import Field, LannerModel, RunContext, RunnableTask, StorageError, TaskFailed, TaskResult
from lanner_jdbc import sqlrun
from lanner_jdbc.urls import Target, UrlError, translate

FetchType = Literal["FETCH", "FETCH_ONE", "STORE", "NONE"]
GROUP = "SQL databases"
DB_NAMES = {"postgres": "PostgreSQL", "mysql": "MySQL", "sqlite": "SQLite", "duckdb": "DuckDB"}


class SqlProperties(LannerModel):
    """Kestra's JDBC connection and query properties (``AbstractJdbcBaseQuery``)."""

    db: ClassVar[str] = "postgres"
    default_fetch_type: ClassVar[str] = "NONE"

    url: str | None = Field(default=None, description="JDBC URL (jdbc:postgresql://host:5432/db); a SQLAlchemy URL works too.")
    username: str | None = Field(default=None, description="Database user (overrides the URL's).")
    password: str | None = Field(default=None, description="The user's password; masked in logs, outputs and errors. Prefer {{ secret('...') }}.")
    time_zone_id: str | None = Field(default=None, description="Time zone date-times with an offset are given in (default: as the database returns them).")
    sql: str = Field(min_length=1, description="The SQL to run; :name placeholders are bound from 'parameters'.")
    after_sql: str | None = Field(default=None, alias="afterSQL", description="One statement run after 'sql' in the same transaction (mark rows as processed).")
    parameters: dict[str, Any] | None = Field(default=None, description="Values bound to the :name placeholders of the SQL (rendered).")
    fetch_type: FetchType | None = Field(
        default=None,
        description="FETCH: every row in outputs.<id>.rows; FETCH_ONE: the first in outputs.<id>.row; "
        "STORE: rows streamed to an Ion file (outputs.<id>.uri); NONE: nothing kept (the default for tasks).",
    )
    fetch_size: int = Field(default=10_000, gt=0, description="Rows fetched per round trip when storing (server-side cursor).")
    fetch: bool = Field(default=False, json_schema_extra={"deprecated": True}, description="Deprecated: fetchType: FETCH.")
    fetch_one: bool = Field(default=False, json_schema_extra={"deprecated": True}, description="Deprecated: fetchType: FETCH_ONE.")
    store: bool = Field(default=False, json_schema_extra={"deprecated": True}, description="Deprecated: fetchType: STORE.")
    connection_pooling: bool = Field(default=True, description="Accepted for Kestra compatibility: every run opens its own connection.")
    connection_pool_size: int = Field(default=10, description="Accepted for Kestra compatibility.")

    def resolved_fetch_type(self) -> str:
        if self.fetch_one:
            return "FETCH_ONE"
        if self.store:
            return "STORE"
        if self.fetch:
            return "FETCH"
        return self.fetch_type or self.default_fetch_type

    def default_url(self) -> str | None:
        return None

    def connection_url(self, render: Callable[[Any], Any]) -> str:
        url = render(self.url) if self.url is not None else self.default_url()
        if not url:
            raise TaskFailed(f"url is required for {DB_NAMES[self.db]}: e.g. {_EXAMPLES[self.db]}")
        return str(url)


_EXAMPLES = {
    "postgres": "jdbc:postgresql://localhost:5432/mydb",
    "mysql": "jdbc:mysql://localhost:3306/mydb",
    "sqlite": "jdbc:sqlite:mydb.sqlite",
    "duckdb": "jdbc:duckdb:",
}


class Run:
    """One run of SQL properties: rendered values, working folder, target, and the statements' outputs."""

    def __init__(self, props: SqlProperties, task_id: str, render: Callable[..., Any], add_secret: Callable[[Any], None],
                 warn: Callable[[str], None], kill_event: Any, check: Callable[[], None]):
        self.props, self.task_id, self.render, self.warn = props, task_id, render, warn
        self.kill_event, self.check = kill_event, check
        self.tmp = Path(tempfile.mkdtemp(prefix=f"lanner-{task_id}-"))
        self.extra: dict[str, Any] = {"workingDir": str(self.tmp)}
        password = render(props.password) if props.password is not None else None
        add_secret(password)
        self.password = None if password is None else str(password)
        self.username = None if props.username is None else str(render(props.username))
        self.add_secret = add_secret
        self.ctx: Any = None  # the task's RunContext (None for a trigger)
        self.extensions: list[str] = []

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def target(self, url: str, base_dir: Path | None = None) -> Target:
        try:
            target = translate(self.props.db, url, self.username, self.password, base_dir or self.tmp)
        except UrlError as exc:
            raise TaskFailed(f"{self.task_id}: {exc}") from None
        self.add_secret(target.url.password)
        if target.dropped:
            self.warn(f"URL parameters without a Python driver equivalent are ignored: {', '.join(target.dropped)}")
        return target

    def statements(self, single: bool) -> list[str]:
        sql = str(self.render(self.props.sql, self.extra))
        statements = sqlrun.split_statements(sql)
        if not statements:
            raise TaskFailed(f"{self.task_id}: sql holds no statement")
        if single and len(statements) > 1:
            raise TaskFailed(f"{self.task_id}: Query runs a single SQL statement, this sql has {len(statements)}; use the Queries task")
        return statements

    def run(self, target: Target, single: bool, transaction: bool, store: Callable[[Path], str] | None,
            before: Callable[[Run, Any], None] | None = None) -> list[dict[str, Any]]:
        """Run the statements; the outputs of each that returns rows."""
        from sqlalchemy.exc import SQLAlchemyError

        statements = self.statements(single)
        after = str(self.render(self.props.after_sql, self.extra)).strip() if self.props.after_sql else None
        if after and len(sqlrun.split_statements(after)) > 1:
            raise TaskFailed(f"{self.task_id}: afterSQL runs a single statement; use the Queries task for more")
        parameters = self.render(self.props.parameters) if self.props.parameters else None
        fetch_type = self.props.resolved_fetch_type()
        stream = fetch_type == "STORE" and self.props.db in ("postgres", "mysql")
        values = sqlrun.Values(self.render(self.props.time_zone_id) if self.props.time_zone_id else None)
        outputs: list[dict[str, Any]] = []
        with sqlrun.connect(self.task_id, target, self.kill_event) as conn:
            try:
                if before is not None:
                    before(self, conn)
                for i, statement in enumerate(statements):
                    result = sqlrun.execute(conn, statement, parameters, stream, self.props.fetch_size)
                    if not sqlrun.returns_rows(statement):
                        result.close()
                        out = None
                    else:
                        out = sqlrun.collect(result, fetch_type, values, store, self.tmp, i, self.check)
                    if out is not None:
                        outputs.append(out)
                    if not transaction:
                        conn.commit()
                if after:
                    sqlrun.execute(conn, after, parameters, False, self.props.fetch_size)
                conn.commit()
            except SQLAlchemyError as exc:
                conn.rollback()
                if self.kill_event.is_set():
                    raise TaskFailed("Killed") from None
                raise sqlrun.failure(self.task_id, "run", target, exc) from None
        return outputs


class SqlTask(SqlProperties, RunnableTask):
    """A runnable SQL task (Query or Queries) of one database kind."""

    single: ClassVar[bool] = True

    def run(self, ctx: RunContext) -> TaskResult:
        run = Run(self, self.id, ctx.render, ctx.add_secret, ctx.logger.warn, ctx.kill_event, ctx.raise_if_killed)
        run.ctx = ctx
        try:
            self.prepare(ctx, run)
            url = self.connection_url(lambda v: ctx.render(v, run.extra))
            target = self.target_for(run, url)
            ctx.logger.debug(f"Connecting to {target.where}")
            outputs = run.run(target, self.single, self.in_transaction(ctx), lambda p: ctx.output_file(p, self._file_name(p)), self.before)
            return TaskResult(self.finish(ctx, run, target, outputs))
        finally:
            run.close()

    def _file_name(self, path: Path) -> str:
        return f"{self.id}{path.suffix}" if path.stem == "result" else f"{self.id}-{path.stem.split('-')[-1]}{path.suffix}"

    def in_transaction(self, ctx: RunContext) -> bool:
        return True

    def target_for(self, run: Run, url: str) -> Target:
        return run.target(url)

    def prepare(self, ctx: RunContext, run: Run) -> None:
        """Files a file database needs before the SQL runs (inputFiles, a database from storage)."""

    def before(self, run: Run, conn: Any) -> None:
        """Session setup right after connecting (DuckDB's file_search_path)."""

    def finish(self, ctx: RunContext, run: Run, target: Target, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        if not self.single:
            return {"outputs": outputs}
        if self.resolved_fetch_type() == "NONE":
            ctx.logger.info("fetchType is NONE: no rows are kept")
        return outputs[0] if outputs else {}


class QueriesMixin(LannerModel):
    """``Queries``: several statements, in one transaction unless ``transaction: false``."""

    transaction: bool = Field(default=True, description="Run every statement in one transaction, rolled back when one fails.")


class FileDatabase(LannerModel):
    """SQLite's and DuckDB's files: input files, output files and the database file itself in storage."""

    output_files: list[str] | None = Field(
        default=None, description="Names of files the SQL writes ({{ outputFiles.name }} is each one's path); kept in outputs.<id>.outputFiles."
    )
    output_db_file: bool = Field(default=False, description="Keep the database file in internal storage (outputs.<id>.databaseUri).")

    def make_output_files(self, ctx: RunContext, run: Run) -> None:
        names = [str(n) for n in ctx.render(self.output_files or [])]
        for name in names:
            if "/" in name or name.startswith("."):
                raise TaskFailed(f"outputFiles: {name!r} must be a plain file name")
        run.extra["outputFiles"] = {n: str(run.tmp / n) for n in names}

    def write_input_files(self, ctx: RunContext, run: Run, files: Any) -> None:
        rendered = ctx.render(files, run.extra)
        if isinstance(rendered, str):
            try:
                rendered = json.loads(rendered)
            except ValueError:
                pass
        if not isinstance(rendered, dict):
            raise TaskFailed("inputFiles must be a map of file name to content or lanner:/// URI")
        for name, content in rendered.items():
            target = (run.tmp / str(name)).resolve()
            if not target.is_relative_to(run.tmp.resolve()):
                raise TaskFailed(f"inputFiles: {name!r} must be a relative path inside the working directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fetch_into(ctx, str(content), target) if str(content).startswith("lanner:///") else target.write_text(str(content), encoding="utf-8")

    def fetch_into(self, ctx: RunContext, uri: str, target: Path) -> None:
        try:
            with ctx.storage.open(uri.strip(), namespace=ctx.namespace) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except StorageError as exc:
            raise TaskFailed(f"cannot read {uri}: {exc}") from None

    def kept_files(self, ctx: RunContext, run: Run, target: Target, outputs: dict[str, Any]) -> dict[str, Any]:
        files = {}
        for name, path in run.extra.get("outputFiles", {}).items():
            if Path(path).is_file():
                files[name] = ctx.output_file(Path(path), name)
            else:
                ctx.logger.warn(f"outputFiles: the SQL did not write {name}")
        if files:
            outputs["outputFiles"] = files
        if self.output_db_file:
            if target.file is None or not target.file.is_file():
                raise TaskFailed("outputDbFile needs a database file; this one is in memory")
            outputs["databaseUri"] = ctx.output_file(target.file, target.file.name)
        return outputs
