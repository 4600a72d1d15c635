"""A state change has one date: the record, its state history and the stored JSON agree.

The runner's loop writes every task run it touches; what it writes for the state history
(``meta``) is formatted directly for the usual shape and must read back exactly as the JSON
encoder's text would, whatever the values hold.
"""

from __future__ import annotations

import json

import pytest

from engine.model.execution import HISTORY, Attempt
from engine.model.state import State
from engine.runtime.end_summary import EndSummary
from engine.store.batch import ENCODER, attempts_json, dumps, meta_json
from tests.unit.executor_harness import Harness, make_flow


def test_an_ended_task_run_has_the_same_end_date_in_its_record_attempt_and_history() -> None:
    h = Harness(make_flow("""
        - id: loop
          type: for_each
          values: ["a", "b"]
          tasks:
            - id: r
              type: return
              format: x
        - id: failing
          type: fail
          allowFailure: true
        """), script={"failing": ["FAILED"]}).start()
    assert h.st.execution.state == "WARNING"
    for tr in h.st.task_runs.values():
        history = tr.meta[HISTORY]
        assert [e["state"] for e in history][0] == "CREATED" and history[-1]["state"] == str(tr.state)
        assert history[-1]["date"] == tr.end_date, tr.task_id
        if tr.attempts:
            assert tr.attempts[-1].end_date == tr.end_date
        assert all(type(e["state"]) is str for e in history)  # plain text, not the enum


@pytest.mark.parametrize("history", [
    [{"state": "CREATED", "date": "2026-01-02T03:04:05.123456+00:00"}, {"state": "SUCCESS", "date": "2026-01-02T03:04:05.2+00:00"}],
    [],
    [{"state": 'SUC"CESS', "date": "d"}],
    [{"state": "A", "date": "back\\slash"}],
    [{"state": "A", "date": "line\nbreak"}],
    [{"state": "A", "date": "\u2028"}],
    [{"state": "A", "date": "éte"}],
    [{"state": "A", "date": None}],
    [{"state": "A"}],
    [{"date": "d", "state": "A", "more": 1}],
    ["not a dict"],
])  # fmt: skip
def test_the_state_history_json_reads_back_as_the_encoder_writes_it(history: list) -> None:
    meta = {HISTORY: history}
    assert json.loads(meta_json(meta)) == json.loads(ENCODER.encode(meta)) == meta  # type: ignore[arg-type]


def test_other_meta_goes_through_the_encoder() -> None:
    meta = {HISTORY: [], "values": ["a", 1], "branch": None}
    assert meta_json(meta) == ENCODER.encode(meta)
    assert meta_json({}) is None


def test_an_end_summary_is_made_once_on_first_use() -> None:
    h = Harness(make_flow("- id: a\n  type: return\n  format: x\n")).start()
    ended = EndSummary(h.st)
    assert ended.task_runs == 1
    first = ended.get()
    assert first == h.st.summary() and first["state"] == "SUCCESS" and len(first["taskRuns"]) == 1
    assert ended.get() is first


@pytest.mark.parametrize("attempts", [
    [Attempt(State.SUCCESS, "2026-01-02T03:04:05.123456+00:00", "2026-01-02T03:04:05.2+00:00")],
    [Attempt(State.CREATED), Attempt(State.RUNNING, "s")],
    [Attempt(State.FAILED, "s", "e", "it broke")],
    [Attempt(State.SUCCESS, "s", "e", None, "lanner://logs/a.txt")],  # logToFile: its file is stored too
    [Attempt(State.SUCCESS, 'quote"d', "back\\slash")],
    [Attempt(State.SUCCESS, "line\nbreak", "é")],
    [],
])  # fmt: skip
def test_attempts_json_reads_back_as_their_dicts(attempts: list[Attempt]) -> None:
    assert json.loads(attempts_json(attempts)) == [a.to_dict() for a in attempts]


@pytest.mark.parametrize("outputs", [
    {"value": "3"}, {"a": None, "b": True, "c": -5, "d": "x"}, {"q": 'say "hi"'}, {"k": "back\\slash"},
    {"n": "line\nbreak"}, {"é": "ü"}, {}, {"f": 1.5}, {"nested": {"a": 1}}, {1: "not a text key"},
])  # fmt: skip
def test_outputs_json_reads_back_as_the_encoder_writes_them(outputs: dict) -> None:
    assert json.loads(dumps(outputs)) == json.loads(ENCODER.encode(outputs))
