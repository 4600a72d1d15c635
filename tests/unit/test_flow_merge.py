"""The builder's three-way flow merge: an edit made on an older flow applied onto the flow as it is now.

Each row is (base, ours, theirs, expected): ``ours`` is the edit being applied (made on ``base``), ``theirs`` the
flow that changed meanwhile. Neither side's change may be lost; where both changed one value, ``ours`` wins.
"""

from __future__ import annotations

import copy

import pytest

from builder.canvas.flow_merge import merge

SWITCH = {"id": "switch_1", "type": "switch"}


def flow(*tasks: dict) -> dict:
    return {"id": "route", "namespace": "acme", "tasks": list(tasks)}


def log(task_id: str, message: str = "hi") -> dict:
    return {"id": task_id, "type": "log", "message": message}


CASES = [
    pytest.param(flow(SWITCH),
                 flow({**SWITCH, "cases": {"north": []}}),
                 flow({**SWITCH, "value": "{{ inputs.region }}"}),
                 flow({**SWITCH, "cases": {"north": []}, "value": "{{ inputs.region }}"}),
                 id="a case added on the canvas while the form set the switch value"),
    pytest.param(flow(SWITCH),
                 flow({**SWITCH, "value": "{{ inputs.region }}"}),
                 flow({**SWITCH, "cases": {"north": []}}),
                 flow({**SWITCH, "value": "{{ inputs.region }}", "cases": {"north": []}}),
                 id="the same, merged the other way round"),
    pytest.param(flow(log("a"), log("b")),
                 flow(log("a"), log("b"), log("c")),
                 flow(log("a", "changed"), log("b")),
                 flow(log("a", "changed"), log("b"), log("c")),
                 id="a task dropped on the canvas while another task's message was typed"),
    pytest.param(flow(log("a"), log("b")),
                 flow(log("b"), log("a")),
                 flow(log("a"), log("b", "typed")),
                 flow(log("b", "typed"), log("a")),
                 id="a move keeps the edit of the moved task"),
    pytest.param(flow(log("a"), log("b"), log("c")),
                 flow(log("a"), log("c")),
                 flow(log("a"), log("b"), log("c", "typed")),
                 flow(log("a"), log("c", "typed")),
                 id="a delete on the canvas and an edit of another task"),
    pytest.param(flow(log("a"), log("c")),
                 flow(log("a", "x"), log("c")),
                 flow(log("a"), log("b"), log("c")),
                 flow(log("a", "x"), log("b"), log("c")),
                 id="a task added by the other side keeps its place"),
    pytest.param(flow(log("a")),
                 flow(log("a", "mine")),
                 flow(log("a", "theirs")),
                 flow(log("a", "mine")),
                 id="both changed one value: the edit being applied wins"),
    pytest.param(flow({**log("a"), "description": "d"}),
                 flow(log("a")),
                 flow({**log("a"), "description": "d", "timeout": "PT1M"}),
                 flow({**log("a"), "timeout": "PT1M"}),
                 id="a property removed on one side stays removed"),
    pytest.param(flow(log("a")),
                 flow(log("a")),
                 flow(log("a"), log("b")),
                 flow(log("a"), log("b")),
                 id="an unchanged edit takes the other side whole"),
    pytest.param({"tasks": [], "retry": {"maxAttempts": 1}},
                 {"tasks": [], "retry": {"maxAttempts": 1.0}},
                 {"tasks": [], "retry": {"maxAttempts": 1}},
                 {"tasks": [], "retry": {"maxAttempts": 1.0}},
                 id="1 and 1.0 differ, as they do in YAML"),
    pytest.param({"dependsOn": ["a"]}, {"dependsOn": ["a", "b"]}, {"dependsOn": ["c"]}, {"dependsOn": ["a", "b"]},
                 id="lists without ids are values: ours wins"),
]


@pytest.mark.parametrize(("base", "ours", "theirs", "expected"), CASES)
def test_neither_edit_is_lost(base, ours, theirs, expected):
    before = copy.deepcopy((base, ours, theirs))
    got = merge(base, ours, theirs)
    assert got == expected
    assert (base, ours, theirs) == before, "the merge must not change its inputs"


def test_the_result_shares_nothing_with_its_inputs():
    ours = flow(log("a", "mine"))
    got = merge(flow(log("a")), ours, flow(log("a"), log("b")))
    got["tasks"][0]["message"] = "changed later"
    assert ours["tasks"][0]["message"] == "mine"
