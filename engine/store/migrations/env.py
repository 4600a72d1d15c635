"""Alembic environment of the Lanner store, driven programmatically by ``engine.store.migrate``.

The caller hands over an open connection (``config.attributes["connection"]``)
so migrations run inside the store's own transaction handling (SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's advisory lock) instead of an alembic.ini.
"""

from __future__ import annotations

from alembic import context

from engine.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch mode for ALTER
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
