"""YAML <-> data sync of the editor and placement of validator errors on tasks."""

from __future__ import annotations

from builder.yaml_sync import FLOW_KEY, YamlSync, dump, locate, parse, path_tokens, validate

FLOW = """id: demo
namespace: company.team
x-kept: {b: 1, a: 2.0}
tasks:
  - id: first
    type: log
    message: hi
  - id: par
    type: parallel
    tasks:
      - id: inner
        type: log
        message: 3
"""


def test_round_trip_keeps_key_order_unknown_keys_and_floats():
    data, err = parse(FLOW)
    assert err is None
    assert list(data) == ["id", "namespace", "x-kept", "tasks"]
    again, _ = parse(dump(data))
    assert again == data and list(again["x-kept"]) == ["b", "a"] and isinstance(again["x-kept"]["a"], float)


def test_sync_ignores_echoes_and_keeps_last_good_data_on_syntax_errors():
    sync = YamlSync(text=FLOW)
    assert sync.from_text(FLOW) is None
    assert sync.from_text(FLOW + "\n") is None  # same data: no canvas update
    assert sync.from_text("id: [oops") is None and sync.error and "line" in sync.error
    assert sync.data["id"] == "demo"
    new = dict(sync.data, id="renamed")
    text = sync.from_data(new)
    assert text is not None and text.startswith("id: renamed") and sync.error is None
    assert sync.from_data(new) is None


def test_errors_are_placed_on_the_task_and_field_they_concern():
    _report, placed = validate(FLOW)
    assert not placed.ok
    assert "inner" in placed.by_item and "first" not in placed.by_item
    assert "message" in placed.by_field["inner"]
    _report, placed = validate("id: demo\nnamespace: ns\ntasks: []\n")
    assert placed.flow and placed.canvas_errors()[FLOW_KEY] == placed.flow


def test_locate_walks_into_nested_tasks():
    data, _ = parse(FLOW)
    assert path_tokens("tasks[1].tasks[0].message.str") == ["tasks", 1, "tasks", 0, "message", "str"]
    assert locate(data, "tasks[1].tasks[0].message.str")[:2] == ("inner", "message")
    assert locate(data, "tasks[1]")[:2] == ("par", None)
    assert locate(data, "namespace")[:2] == (FLOW_KEY, "namespace")
