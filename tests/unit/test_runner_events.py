"""The runner loop's events keep what the frozen dataclasses they replaced gave: immutability, equality by type
and fields, hashing, a readable repr and a pickle round trip."""

from __future__ import annotations

import pickle
import threading

import pytest

from engine.runtime.events import Dequeue, Kill, LeaseTick, Recover, Resume, StartExecution, Sync, Wake


def test_an_event_cannot_be_changed_after_it_is_made() -> None:
    kill = Kill("ex1")
    with pytest.raises(AttributeError, match="Kill is immutable: cannot set 'execution_id'"):
        kill.execution_id = "ex2"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete"):
        del kill.execution_id
    with pytest.raises(AttributeError):
        kill.other = 1
    assert kill.execution_id == "ex1"


def test_events_are_equal_only_with_the_same_type_and_fields() -> None:
    assert Kill("ex1") == Kill("ex1")
    assert Kill("ex1") != Kill("ex2")
    assert Recover("ex1") != Dequeue("ex1")  # same fields, another meaning
    assert Wake() == Wake()
    assert len({Kill("ex1"), Kill("ex1"), Recover("ex1")}) == 2


def test_defaults_keywords_and_repr() -> None:
    resume = Resume("ex1", inputs={"a": 1})
    assert (resume.task_run_id, resume.inputs) == (None, {"a": 1})
    assert repr(resume) == "Resume(execution_id='ex1', task_run_id=None, inputs={'a': 1})"
    assert LeaseTick(frozenset({"ex1"})).commands == ()
    assert repr(Wake()) == "Wake()"


def test_events_survive_a_pickle_round_trip() -> None:
    for event in (Kill("ex1"), Resume("ex1", "tr1", {"a": 1}), LeaseTick(frozenset({"x"}), (Kill("y"),)), Wake()):
        assert pickle.loads(pickle.dumps(event)) == event


def test_match_with_keyword_patterns_as_the_loop_does() -> None:
    done = threading.Event()

    def kind(event: object) -> str:
        match event:
            case Sync(done=flag):
                return f"sync {flag is done}"
            case StartExecution(persisted=None):
                return "start"
            case Kill(execution_id=ex_id):
                return f"kill {ex_id}"
        return "other"

    assert kind(Sync(done)) == "sync True"
    assert kind(Kill("ex9")) == "kill ex9"
    assert kind(Wake()) == "other"
