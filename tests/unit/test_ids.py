"""Ids of executions and task runs: unique, short, and in the order they were made (the store's indexes grow at their end)."""

from __future__ import annotations

import re
import time

import pytest

from engine.model.ids import new_id


def test_ids_are_22_hex_characters_and_unique() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{22}", i) for i in ids[:1000])


def test_ids_sort_in_the_order_they_were_made() -> None:
    made = []
    for _ in range(5):
        made.extend(new_id() for _ in range(200))
        time.sleep(0.002)  # across milliseconds too
    assert made == sorted(made)


def test_an_id_starts_with_its_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = int(new_id(), 16) >> 40
    after = time.time_ns() // 1_000_000
    assert before <= made <= after


# The children only make ids and write them to a pipe (no lock another thread may hold), then _exit.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")
def test_ids_made_in_forked_processes_are_unique_and_well_formed() -> None:
    """A forked child starts its counter from a new random value: ids made in the same millisecond by
    the parent and by several children (the fork server's, a Dask worker's) never collide."""
    import os

    per_process = 5_000
    readers = []
    for _ in range(4):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: make ids, send them, leave without running the parent's clean-up
            try:
                os.close(read_end)
                with os.fdopen(write_end, "w") as out:
                    out.write("\n".join(new_id() for _ in range(per_process)))
            finally:
                os._exit(0)
        os.close(write_end)
        readers.append((pid, read_end))
    ids = [new_id() for _ in range(per_process)]
    for pid, read_end in readers:
        with os.fdopen(read_end) as got:
            ids.extend(got.read().split("\n"))
        os.waitpid(pid, 0)
    assert len(ids) == 5 * per_process
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{22}", i) for i in ids)


def test_now_iso_is_the_isoformat_of_utc_now() -> None:
    from datetime import UTC, datetime

    from engine.model.ids import now_iso

    before = datetime.now(UTC)
    text = now_iso()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", text)
    assert before <= datetime.fromisoformat(text) <= after
