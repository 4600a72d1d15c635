"""Developer entry point: ``python -m engine.store.migrations revision -m MESSAGE [--url URL]``;
``sqlite-schema`` rewrites ``engine/store/sqlite_schema.sql`` from the tables (after a new revision)."""

from __future__ import annotations

import argparse
import tempfile

from sqlalchemy import create_engine

from engine.store import migrations, sqlite_schema


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m engine.store.migrations")
    parser.add_argument("command", choices=["revision", "upgrade", "current", "sqlite-schema"])
    parser.add_argument("-m", "--message", default="change")
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file migrated to head)")
    args = parser.parse_args()
    if args.command == "sqlite-schema":
        revision = sqlite_schema.shipped_head()
        if revision is None:
            raise SystemExit("the revisions in migrations/versions do not form one line: fix them first")
        sqlite_schema.SCHEMA_FILE.write_text(migrations.sqlite_schema_text(revision), encoding="utf-8")
        print(f"{sqlite_schema.SCHEMA_FILE.name} written at revision {revision}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(args.url or f"sqlite:///{tmp}/gen.db")
        if args.command == "revision":
            migrations.upgrade(engine)
            migrations.revision(engine, args.message)
        elif args.command == "upgrade":
            print(migrations.upgrade(engine))
        else:
            print(migrations.current(engine))


if __name__ == "__main__":
    main()
