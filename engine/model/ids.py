"""Ids and timestamps of execution records.

They live with the records (not in the runtime) because the store, the
scheduler and the runner all mint and read them, and the store may import
nothing above ``engine.model``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now_iso() -> str:
    """Timezone-aware UTC timestamp, fixed width so strings sort as times."""
    # isoformat is several times cheaper than strftime and gives the same text.
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    """Short, URL-safe, sortable-enough id (Kestra uses 22-char base62 ids)."""
    return os.urandom(11).hex()  # 22 hex chars, as uuid4().hex[:22] but without building a UUID


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
