"""The newest schema of the embedded SQLite database as SQL text, read without SQLAlchemy or Alembic.

The one definition of the tables stays :mod:`engine.store.tables` (with the
Alembic migrations that build it). ``sqlite_schema.sql`` beside this module is
generated from it (``python -m engine.store.migrations sqlite-schema``) and
stamped with the revision it stands for; ``tests/integration/test_native_sqlite_store.py``
fails when the file differs from what ``metadata`` compiles to, so the two
cannot drift apart. :mod:`engine.store.sqlite_native` creates a new database
from it, and checks an existing one with :func:`shipped_head`, so that
``lanner flow run`` on a fresh ``LANNER_HOME`` imports neither library.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA_FILE = HERE / "sqlite_schema.sql"
VERSIONS = HERE / "migrations" / "versions"
_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*=\s*(?:["']([^"']+)["']|None)""", re.M)
_STAMP = re.compile(r"^-- revision: (\S+)$", re.M)
#: What marks the end of one statement in the file.
SEPARATOR = ";\n"


def shipped_head() -> str | None:
    """The newest revision, read from the ``revision =`` lines of migrations/versions/ without importing Alembic.

    None when they do not form one line of revisions (then only Alembic can tell).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        found = dict((k, v) for k, v in _REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
            if found.get("down_revision"):
                parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def header(revision: str) -> str:
    return (f"-- revision: {revision}\n"
            "-- Generated from engine/store/tables.py by `python -m engine.store.migrations sqlite-schema`; do not edit.\n")


def schema() -> tuple[str | None, list[str]]:
    """The revision the file stands for, and its statements (the tables, their indexes, ``alembic_version``)."""
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    stamp = _STAMP.search(text)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return (stamp.group(1) if stamp else None), [s.strip() for s in body.split(SEPARATOR) if s.strip()]
