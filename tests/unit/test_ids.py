"""Ids of executions and task runs: unique, short, and in the order they were made (the store's indexes grow at their end)."""

from __future__ import annotations

import re
import time

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
