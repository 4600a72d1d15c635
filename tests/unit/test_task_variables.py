"""The expression context of a task run is made when read, and reads exactly like the dict it stands for.

``task_context`` hands out a :class:`TaskVariables`: each group of entries (the shared ones,
``task``, ``taskrun``, ``parent``/``parents``) is made on the first read of one of its names. These
tests drive a real executor (no runner, no store) into a nested loop and check that reading one
name, every name, or the whole mapping (``**``, JSON, pickling, ``==``) gives the same values, that
a text without ``{{`` renders without making any entry, and that a value set first is kept.
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from engine import expressions
from engine.model.execution import HISTORY, TaskRun
from engine.model.state import State
from engine.runtime.expression_context import TaskVariables, task_context
from tests.unit.executor_harness import Harness, make_flow

NAMES = ["flow", "execution", "inputs", "outputs", "labels", "trigger", "envs", "vars", "task", "taskrun", "parent", "parents"]


@pytest.fixture(scope="module")
def nested() -> Harness:
    """An execution with a loop in a loop, its innermost task run still waiting for its result."""
    flow = make_flow("""
        - id: first
          type: return
          format: one
        - id: outer
          type: for_each
          values: ["a", "b"]
          tasks:
            - id: inner
              type: for_each
              values: ["x"]
              tasks:
                - id: leaf
                  type: return
                  format: "{{ taskrun.value }}"
        """, extra="variables:\n  greeting: hi {{ flow.id }}\nlabels:\n  team: data\n")
    harness = Harness(flow, script={"leaf": ["HOLD"], "first": [("SUCCESS", {"value": "one"})]})
    harness.st.execution.inputs = {"n": 3}
    harness.st.execution.labels = {"team": "data", "system.correlationId": "ex-1"}
    return harness.start()


def _leaf_context(h: Harness) -> tuple[TaskVariables, Any]:
    tr = h.run("leaf[x]")
    parent = h.st.task_runs[tr.parent_task_run_id]
    task = h.executor.index.tasks["leaf"]
    return task_context(h.flow, h.st, task, parent, tr.value, tr), tr


def test_each_name_read_alone_gives_the_value_of_the_whole_context(nested: Harness) -> None:
    whole, _ = _leaf_context(nested)
    expected = dict(whole)
    assert list(expected) == NAMES  # every name, in the order an eagerly built context had
    for name in NAMES:
        alone, _ = _leaf_context(nested)
        assert alone[name] == expected[name], name
        assert alone.get(name) == expected[name], name
        assert name in _leaf_context(nested)[0], name


def test_the_values_are_kestras(nested: Harness) -> None:
    ctx, tr = _leaf_context(nested)
    inner = nested.st.task_runs[tr.parent_task_run_id]
    outer = nested.st.task_runs[inner.parent_task_run_id]
    assert ctx["taskrun"] == {
        "id": tr.id, "value": "x", "attemptsCount": 0, "parentId": inner.id, "startDate": "2024-01-01T00:00:00+00:00",
    }  # fmt: skip
    # A task run's value is its nearest enclosing loop's: the inner loop runs in the outer's "a".
    assert ctx["parent"]["taskrun"] == {"id": inner.id, "value": "a"}
    assert ctx["parent"]["parent"] == {"taskrun": {"id": outer.id, "value": None}}
    assert [(p["taskrun"]["id"], p["taskrun"]["value"]) for p in ctx["parents"]] == [(inner.id, "a"), (outer.id, None)]
    assert ctx["task"] == {"id": "leaf", "type": "return"}
    assert ctx["execution"]["id"] == "ex-1" and ctx["execution"]["state"] == "RUNNING"
    assert ctx["inputs"] == {"n": 3}
    assert ctx["outputs"]["first"] == {"value": "one"}
    assert ctx["labels"] == {"team": "data", "system": {"correlationId": "ex-1"}}
    assert ctx["vars"] == {"greeting": "hi table"}
    assert ctx["flow"]["id"] == "table"


def test_a_render_reads_the_same_values_on_the_fast_and_the_full_path(nested: Harness) -> None:
    template = "{{ parent.taskrun.value }}-{{ parents[0].taskrun.value }}-{{ taskrun.value }}-{{ inputs.n }}"
    fast = expressions.render(template, _leaf_context(nested)[0])  # only looks values up
    full = expressions.render(template + "{{ '' | upper }}", _leaf_context(nested)[0])  # runs the template
    assert fast == full == "a-a-x-3"
    assert expressions.render("{{ outputs.first.value ~ vars.greeting }}", _leaf_context(nested)[0]) == "onehi table"


def test_a_text_without_an_expression_makes_no_entry(nested: Harness) -> None:
    ctx, _ = _leaf_context(nested)
    assert expressions.render("plain text", ctx) == "plain text"
    assert expressions.render({"a": ["b", 1]}, ctx) == {"a": ["b", 1]}
    assert dict.__len__(ctx) == 1  # only ``flow``, there from the start
    assert expressions.render("{{ taskrun.value }}", ctx) == "x"
    assert dict.__len__(ctx) == 2  # ``taskrun`` alone was made


def test_whole_mapping_readers_see_every_entry(nested: Harness) -> None:
    expected = dict(_leaf_context(nested)[0])
    assert {**_leaf_context(nested)[0]} == expected
    assert len(_leaf_context(nested)[0]) == len(NAMES)
    assert sorted(_leaf_context(nested)[0].keys()) == sorted(NAMES)
    assert [k for k, _ in _leaf_context(nested)[0].items()] == NAMES
    assert _leaf_context(nested)[0] == expected and not (_leaf_context(nested)[0] != expected)
    assert json.loads(json.dumps(_leaf_context(nested)[0])) == json.loads(json.dumps(expected))

    def kwargs(**kw: Any) -> dict[str, Any]:
        return kw

    assert kwargs(**_leaf_context(nested)[0]) == expected
    for copied in (pickle.loads(pickle.dumps(_leaf_context(nested)[0])), copy.deepcopy(_leaf_context(nested)[0]),
                   _leaf_context(nested)[0].copy(), _leaf_context(nested)[0] | {}):
        assert type(copied) is dict and copied == expected  # a plain dict, never the execution behind it


def test_a_value_set_before_its_entry_is_made_is_kept(nested: Harness) -> None:
    ctx, _ = _leaf_context(nested)
    ctx["taskrun"] = {"value": "mine"}
    ctx["extra"] = 1
    assert ctx["taskrun"] == {"value": "mine"}
    assert ctx["parent"]["taskrun"]["value"] == "a"
    assert list(ctx) == [*NAMES, "extra"]
    assert ctx["taskrun"] == {"value": "mine"}
    ctx2, _ = _leaf_context(nested)
    del ctx2["inputs"]
    assert "inputs" not in ctx2 and ctx2.get("inputs", "gone") == "gone" and "outputs" in ctx2
    assert ctx2.pop("taskrun")["value"] == "x" and "taskrun" not in ctx2


def test_the_flow_context_has_no_task_and_no_parent(nested: Harness) -> None:
    ctx = task_context(nested.flow, nested.st, None, None, None)
    assert "task" not in ctx and "parent" not in ctx and ctx.get("parents") is None
    assert ctx["taskrun"] == {"id": None, "value": None, "attemptsCount": 0, "startDate": None, "parentId": None}
    assert list(ctx) == ["flow", "execution", "inputs", "outputs", "labels", "trigger", "envs", "vars", "taskrun"]
    with pytest.raises(KeyError):
        ctx["nothing"]


def test_an_entry_made_late_sees_the_execution_then() -> None:
    """Entries are made when read: the runner reads a light task's context at once, in its loop, and
    gives a worker's job a plain dict made before the job leaves (engine/runtime/local.py)."""
    h = Harness(make_flow("- id: a\n  type: return\n  format: x\n"), script={"a": ["HOLD"]}).start()
    tr = h.run("a")
    ctx = task_context(h.flow, h.st, h.executor.index.tasks["a"], None, None, tr)
    snapshot = dict(task_context(h.flow, h.st, h.executor.index.tasks["a"], None, None, tr))
    h.st.execution.labels = {"new": "label"}
    assert ctx["labels"] == {"new": "label"}
    assert snapshot["labels"] == {}


def test_a_task_run_not_started_yet_gives_its_creation_date() -> None:
    """Kestra's ``taskrun.startDate`` is its state's start, the first date of its history (never null)."""
    h = Harness(make_flow("- id: a\n  type: return\n  format: x\n"))
    tr = h.st.add(TaskRun(id="t", execution_id="ex-1", task_id="a", parent_task_run_id=None, value=None, iteration=None,
                          state=State.CREATED, seq=0))
    assert tr.start_date is None
    ctx = task_context(h.flow, h.st, h.executor.index.tasks["a"], None, None, tr)
    assert ctx["taskrun"]["startDate"] == tr.meta[HISTORY][0]["date"]
