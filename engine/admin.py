"""Administration of the store for the ``lanner db`` and ``lanner purge`` commands.

These work on the database itself (its schema, bulk retention), not on flows
and executions one at a time, so they sit beside the Engine rather than in it;
the CLI reaches the store only through here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from engine.purge import PurgeReport, purge
from engine.runtime.local import default_home
from engine.storage import InternalStorage, default_root


def database_url(home: Path | None = None) -> str:
    """``LANNER_DATABASE_URL``, else the embedded SQLite database of ``home`` (``LANNER_HOME``)."""
    from engine.store.sql import default_database_url

    home = home or default_home()
    home.mkdir(parents=True, exist_ok=True)
    return default_database_url(home)


def upgrade_database(url: str) -> tuple[str | None, str | None]:
    """Apply every missing migration; (revision before, revision after)."""
    from sqlalchemy import create_engine

    from engine.store import migrations

    engine = create_engine(url)
    try:
        return migrations.current(engine), migrations.upgrade(engine)
    finally:
        engine.dispose()


def database_revision(url: str) -> tuple[str | None, str]:
    """(the database's schema revision, the newest one this code knows)."""
    from sqlalchemy import create_engine

    from engine.store import migrations

    engine = create_engine(url)
    try:
        return migrations.current(engine), migrations.head()
    finally:
        engine.dispose()


def display_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def purge_old(older_than: timedelta, *, keep_failed: bool = False) -> PurgeReport:
    """Delete ended executions older than ``older_than`` with their task runs, logs and files."""
    from engine.store.sql import SqlStore

    store = SqlStore(database_url())
    try:
        return purge(store, InternalStorage(default_root(default_home())), older_than, keep_failed=keep_failed)
    finally:
        store.close()
