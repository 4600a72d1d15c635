"""Schema migrations of the store (Alembic), run programmatically: no alembic.ini.

``upgrade(engine)`` brings any database to the newest revision. It is what
``lanner db upgrade`` runs and what every :class:`~engine.store.sql.SqlStore`
runs when it opens (instead of ``metadata.create_all``). Several processes may
start at once on one PostgreSQL database: the upgrade holds an advisory lock,
so exactly one of them applies each revision. A database created before
migrations existed (tables present, no ``alembic_version``) is stamped at the
baseline first and then upgraded.

Adding a table or column to ``engine.store.tables.metadata`` needs a new file in
``versions/``; ``tests/integration/test_store_backends.py`` fails otherwise.
Generate one with ``python -m engine.store.migrations revision -m "what"``, then
``python -m engine.store.migrations sqlite-schema`` (the SQL that creates a new
embedded database without SQLAlchemy, :mod:`engine.store.sqlite_schema`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from engine.store import sqlite_schema
from engine.store.sqlite_schema import shipped_head

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

HERE = Path(__file__).resolve().parent
BASELINE = "0001"
_PG_LOCK_KEY = 0x4C414E4E  # "LANN": one advisory lock for schema changes
ALEMBIC_VERSION_DDL = ("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                       "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")


def _config(connection: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision id shipped with this code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return ScriptDirectory.from_config(cfg).get_current_head() or BASELINE


def sqlite_schema_text(revision: str) -> str:
    """What ``engine/store/sqlite_schema.sql`` must hold: the SQLite DDL of ``metadata`` (as ``create_all``
    emits it) and the ``alembic_version`` table, stamped with ``revision``."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from engine.store.tables import metadata

    dialect = sqlite.dialect()
    statements: list[str] = []
    for table in metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        statements.extend(str(CreateIndex(index).compile(dialect=dialect)).strip()
                          for index in sorted(table.indexes, key=lambda i: i.name or ""))
    statements.append(ALEMBIC_VERSION_DDL)
    return sqlite_schema.header(revision) + "".join(s + sqlite_schema.SEPARATOR for s in statements)


def current(engine: Engine) -> str | None:
    """The revision the database is at (None when it has never been migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_head(engine: Engine, reader: Engine | None = None) -> None:
    """Bring the database to the newest revision; one query, and no Alembic, when it is there already.

    Every process that opens the store calls this, so the usual case (nothing
    to do) must cost no more than reading ``alembic_version`` (with ``reader``
    when given: SQLite's writing engine would take the write lock for it).
    """
    target = shipped_head()
    if target is not None:
        try:
            with (reader or engine).connect() as conn:
                at: Sequence[str] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except DBAPIError:  # no alembic_version table yet: a new or a pre-migrations database
            at = []
        if at == [target]:
            return
        if not at and engine.dialect.name == "sqlite" and _create_at_head(engine, target):
            return
    upgrade(engine)


def _create_at_head(engine: Engine, target: str) -> bool:
    """An empty SQLite database gets the newest schema at once, stamped at ``target``.

    Alembic's own advice for new databases: ``metadata`` is what the migrations
    build (tests/integration/test_store_backends.py checks both ways), and
    replaying every revision on an empty file only costs start-up time. SQLite's
    ``BEGIN IMMEDIATE`` serializes two processes creating the same file.
    False when the database is not empty (then the migrations decide).
    """
    from engine.store.tables import metadata

    with engine.begin() as conn:
        if inspect(conn).get_table_names():
            return False
        metadata.create_all(conn, checkfirst=False)  # no table is there: no query per table to find out
        conn.execute(text(ALEMBIC_VERSION_DDL))
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": target})
    return True


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Apply every missing migration; safe to call from several processes at once."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        tables = set(inspect(conn).get_table_names())
        cfg = _config(conn)
        if "alembic_version" not in tables and "executions" in tables:
            command.stamp(cfg, BASELINE)  # made by create_all before migrations existed
        command.upgrade(cfg, revision)
        return MigrationContext.configure(conn).get_current_revision()


def diff(engine: Engine) -> list[Any]:
    """What ``metadata`` has that the migrated database lacks (empty when in step)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from engine.store.tables import metadata

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))


def revision(engine: Engine, message: str) -> None:
    """Write a new autogenerated migration into versions/ (for developers)."""
    from alembic import command

    n = len(list((HERE / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
    with engine.begin() as conn:
        command.revision(_config(conn), message=message, autogenerate=True, rev_id=f"{n:04d}")
