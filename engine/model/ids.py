"""Ids and timestamps of execution records.

They live with the records (not in the runtime) because the store, the
scheduler and the runner all mint and read them, and the store may import
nothing above ``engine.model``.
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime

#: The formatted date and time of the current second, shared by every timestamp taken within it.
_second: tuple[int, str] = (-1, "")


def now_iso() -> str:
    """Timezone-aware UTC timestamp, fixed width so strings sort as times.

    The same text as ``datetime.now(UTC).isoformat(timespec="microseconds")``
    (``2026-01-02T03:04:05.123456+00:00``) at a fraction of the cost: a task run
    takes several timestamps, and the part up to the second is formatted once
    per second.
    """
    global _second
    ns = time.time_ns()
    sec = ns // 1_000_000_000
    cached = _second
    if cached[0] != sec:
        cached = (sec, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec)))
        _second = cached  # one tuple, replaced whole: safe across threads
    # The microseconds zero-padded to six digits, without a format spec to parse.
    return cached[1] + str(1_000_000 + ns // 1000 % 1_000_000)[1:] + "+00:00"


#: Ids come from a generator seeded from os.urandom per process (and again in a forked child):
#: unpredictable enough for ids that are not secrets, without a system call per id.
_ids = random.Random(os.urandom(32))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_id() -> str:
    """Short, URL-safe id: 22 hex characters (88 random bits; Kestra uses 22-char base62 ids)."""
    return _ids.getrandbits(88).to_bytes(11).hex()


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
