"""Kestra's ``io.kestra.plugin.jdbc.<db>.Query`` and ``Queries`` for PostgreSQL, MySQL, SQLite and DuckDB."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from engine.sdk import Field, RunContext, TaskFailed, register_task
from lanner_jdbc.query import GROUP, FileDatabase, QueriesMixin, Run, SqlTask
from lanner_jdbc.urls import Target

_EXTENSION = re.compile(r"[A-Za-z0-9_]+")


# --- PostgreSQL ----------------------------------------------------------------------------------------


class PostgresOptions(SqlTask):
    db: ClassVar[str] = "postgres"

    ssl: bool = Field(default=False, description="Connect with SSL (sslMode require unless sslMode says otherwise).")
    ssl_mode: str | None = Field(default=None, description="DISABLE, ALLOW, PREFER, REQUIRE, VERIFY_CA or VERIFY_FULL.")
    ssl_root_cert: str | None = Field(default=None, description="CA certificate (PEM text) to verify the server with.")
    ssl_cert: str | None = Field(default=None, description="Client certificate (PEM text).")
    ssl_key: str | None = Field(default=None, description="Client key (PEM text).")
    ssl_key_password: str | None = Field(default=None, description="Not supported: give an unencrypted sslKey.")

    def target_for(self, run: Run, url: str) -> Target:
        target = run.target(url)
        query = dict(target.url.query)
        mode = run.render(self.ssl_mode)
        if mode:
            query["sslmode"] = str(mode).lower().replace("_", "-")
        elif self.ssl:
            query.setdefault("sslmode", "require")
        for prop, key in (("ssl_root_cert", "sslrootcert"), ("ssl_cert", "sslcert"), ("ssl_key", "sslkey")):
            pem = getattr(self, prop)
            if pem:
                path = run.tmp / f"{key}.pem"
                path.write_text(str(run.render(pem)), encoding="utf-8")
                path.chmod(0o600)
                query[key] = str(path)
        if self.ssl_key_password:
            raise TaskFailed(f"{self.id}: sslKeyPassword is not supported; give an unencrypted sslKey")
        target.url = target.url.set(query=query)
        return target


@register_task(
    "io.kestra.plugin.jdbc.postgresql.Query",
    group=GROUP, title="PostgreSQL query", icon="🐘",
    summary="Run one SQL statement on PostgreSQL; fetch its rows, the first one, or stream them to an Ion file.",
)
class PostgresQuery(PostgresOptions):
    pass


@register_task(
    "io.kestra.plugin.jdbc.postgresql.Queries",
    group=GROUP, title="PostgreSQL queries", icon="🐘",
    summary="Run several SQL statements on PostgreSQL in one transaction; outputs.<id>.outputs has each result.",
)
class PostgresQueries(QueriesMixin, PostgresOptions):
    single: ClassVar[bool] = False

    def in_transaction(self, ctx: RunContext) -> bool:
        return self.transaction


# --- MySQL / MariaDB -----------------------------------------------------------------------------------


class MysqlOptions(SqlTask):
    db: ClassVar[str] = "mysql"


@register_task(
    "io.kestra.plugin.jdbc.mysql.Query",
    group=GROUP, title="MySQL query", icon="🐬",
    summary="Run one SQL statement on MySQL or MariaDB; fetch its rows, the first one, or stream them to an Ion file.",
)
class MysqlQuery(MysqlOptions):
    pass


@register_task(
    "io.kestra.plugin.jdbc.mysql.Queries",
    group=GROUP, title="MySQL queries", icon="🐬",
    summary="Run several SQL statements on MySQL or MariaDB in one transaction; outputs.<id>.outputs has each result.",
)
class MysqlQueries(QueriesMixin, MysqlOptions):
    single: ClassVar[bool] = False

    def in_transaction(self, ctx: RunContext) -> bool:
        return self.transaction


# --- SQLite --------------------------------------------------------------------------------------------


class SqliteOptions(FileDatabase, SqlTask):
    db: ClassVar[str] = "sqlite"

    sqlite_file: str | None = Field(default=None, description="A SQLite database file from internal storage (lanner:///...) to query.")

    def default_url(self) -> str:
        return "jdbc:sqlite:"

    def prepare(self, ctx: RunContext, run: Run) -> None:
        self.make_output_files(ctx, run)

    def target_for(self, run: Run, url: str) -> Target:
        target = run.target(url)
        if self.sqlite_file or (self.output_db_file and target.file is None):
            name = target.file.name if target.file is not None else f"{self.id}.sqlite"
            path = run.tmp / name
            if self.sqlite_file:
                self.fetch_into(run.ctx, str(run.render(self.sqlite_file)), path)
            target = run.target(f"jdbc:sqlite:{path}")
        return target

    def finish(self, ctx: RunContext, run: Run, target: Target, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        return self.kept_files(ctx, run, target, super().finish(ctx, run, target, outputs))


@register_task(
    "io.kestra.plugin.jdbc.sqlite.Query",
    group=GROUP, title="SQLite query", icon="🪶",
    summary="Run one SQL statement on a SQLite file (or one from internal storage); fetch or store its rows.",
)
class SqliteQuery(SqliteOptions):
    pass


@register_task(
    "io.kestra.plugin.jdbc.sqlite.Queries",
    group=GROUP, title="SQLite queries", icon="🪶",
    summary="Run several SQL statements on a SQLite file in one transaction; outputs.<id>.outputs has each result.",
)
class SqliteQueries(QueriesMixin, SqliteOptions):
    single: ClassVar[bool] = False

    def in_transaction(self, ctx: RunContext) -> bool:
        return self.transaction


# --- DuckDB --------------------------------------------------------------------------------------------


class DuckDbOptions(FileDatabase, SqlTask):
    db: ClassVar[str] = "duckdb"

    input_files: dict[str, str] | str | None = Field(
        default=None,
        description="Files written to the working directory first (name -> content or lanner:/// URI); the SQL reads them by name.",
    )
    database_uri: str | None = Field(default=None, description="A DuckDB database file from internal storage (lanner:///...) to query.")
    community_extensions: list[str] | None = Field(
        default=None, description="Extensions to LOAD first when they are installed (nothing is downloaded at run time)."
    )

    def default_url(self) -> str:
        return "jdbc:duckdb:"

    def prepare(self, ctx: RunContext, run: Run) -> None:
        if self.input_files is not None:
            self.write_input_files(ctx, run, self.input_files)
        self.make_output_files(ctx, run)
        run.extensions = [str(e) for e in ctx.render(self.community_extensions or [])]

    def target_for(self, run: Run, url: str) -> Target:
        target = run.target(url)
        if self.database_uri:
            path = run.tmp / f"{self.id}.duckdb"
            self.fetch_into(run.ctx, str(run.render(self.database_uri)), path)
            return run.target(f"jdbc:duckdb:{path}")
        if target.file is None:  # Kestra's default: a database file in the working directory
            run.extra["dbFilePath"] = str(run.tmp / f"{self.id}.duckdb")
            return run.target(f"jdbc:duckdb:{run.extra['dbFilePath']}")
        return target

    def before(self, run: Run, conn: Any) -> None:
        conn.exec_driver_sql("SET file_search_path='{}'".format(str(run.tmp).replace("'", "''")))
        for extension in run.extensions:
            if not _EXTENSION.fullmatch(extension):
                run.warn(f"DuckDB extension {extension!r} skipped: the name has unsupported characters")
                continue
            try:
                conn.exec_driver_sql(f"LOAD {extension}")
            except Exception as exc:  # noqa: BLE001 - a missing extension is a warning, as in Kestra
                run.warn(f"DuckDB extension {extension!r} is not installed and was not loaded ({type(exc).__name__})")
                conn.rollback()

    def finish(self, ctx: RunContext, run: Run, target: Target, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        return self.kept_files(ctx, run, target, super().finish(ctx, run, target, outputs))


@register_task(
    "io.kestra.plugin.jdbc.duckdb.Query",
    group=GROUP, title="DuckDB query", icon="🦆",
    summary="Run one SQL statement in DuckDB over input files (CSV, Parquet, JSON); fetch or store its rows.",
)
class DuckDbQuery(DuckDbOptions):
    pass


@register_task(
    "io.kestra.plugin.jdbc.duckdb.Queries",
    group=GROUP, title="DuckDB queries", icon="🦆",
    summary="Run several SQL statements in DuckDB in one transaction; outputs.<id>.outputs has each result.",
)
class DuckDbQueries(QueriesMixin, DuckDbOptions):
    single: ClassVar[bool] = False

    def in_transaction(self, ctx: RunContext) -> bool:
        return self.transaction
