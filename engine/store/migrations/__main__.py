"""Developer entry point: ``python -m engine.store.migrations revision -m MESSAGE [--url URL]``."""

from __future__ import annotations

import argparse
import tempfile

from sqlalchemy import create_engine

from engine.store import migrations


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m engine.store.migrations")
    parser.add_argument("command", choices=["revision", "upgrade", "current"])
    parser.add_argument("-m", "--message", default="change")
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file migrated to head)")
    args = parser.parse_args()
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
