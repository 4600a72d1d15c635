"""Pure-Python flow edits: paths, containers, ids, dag edges, and lossless key order."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import pytest

from builder.canvas import flow_edit as fe
from builder.canvas.flow_edit import FlowEditError
from builder.canvas.roundtrip import restore_key_order


def log(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "type": "log", "message": task_id, **extra}


def sample() -> dict[str, Any]:
    return {
        "id": "demo",
        "namespace": "company.team",
        "x-extra": {"keep": [1, 2]},
        "tasks": [
            log("a"),
            {"id": "par", "type": "io.kestra.plugin.core.flow.Parallel", "tasks": [log("p1"), log("p2")]},
            {"id": "check", "type": "if", "condition": "{{ true }}", "then": [log("t1")]},
            {"id": "sw", "type": "switch", "value": "x", "cases": {"a": [log("ca")], "b": []}, "defaults": [log("d0")]},
            {"id": "g", "type": "dag", "tasks": [
                {"task": log("d1")},
                {"task": log("d2"), "dependsOn": ["d1"]},
                {"task": {"id": "inner", "type": "sequential", "tasks": [log("s1")]}, "dependsOn": ["d2"]},
            ]},
        ],
        "errors": [log("alert")],
        "triggers": [{"id": "daily", "type": "schedule", "cron": "0 7 * * *"}],
    }


def test_container_kinds_cover_canonical_current_and_legacy_names():
    assert fe.container_kind("if") == "if"
    assert fe.container_kind("io.kestra.plugin.core.flow.ForEach") == "for_each"
    assert fe.container_kind("io.kestra.core.tasks.flows.EachParallel") == "for_each"
    assert fe.container_kind("io.kestra.core.tasks.flows.WorkingDirectory") == "working_directory"
    assert fe.container_kind("log") is None
    assert fe.container_kind("com.acme.If") is None
    assert fe.container_kind(None) is None
    assert fe.container_lists("switch") == ("cases", "defaults", "errors", "finally")
    assert fe.container_lists("log") == ("errors", "finally")


def test_child_list_keys_expand_switch_cases():
    sw = sample()["tasks"][3]
    assert fe.child_list_keys(sw) == [("cases", "a"), ("cases", "b"), ("defaults",), ("errors",), ("finally",)]
    assert fe.child_list_keys(log("x")) == []
    assert fe.child_list_keys(log("x", errors=[log("e")])) == [("errors",)]


def test_iteration_finds_every_task_with_its_path():
    flow = sample()
    found = {t["id"]: p for p, t in fe.iter_tasks(flow)}
    assert found["t1"] == ["tasks", 2, "then", 0]
    assert found["ca"] == ["tasks", 3, "cases", "a", 0]
    assert found["d2"] == ["tasks", 4, "tasks", 1, "task"]
    assert found["s1"] == ["tasks", 4, "tasks", 2, "task", "tasks", 0]
    assert found["alert"] == ["errors", 0]
    assert fe.all_ids(flow) == ["a", "par", "p1", "p2", "check", "t1", "sw", "ca", "d0", "g", "d1", "d2", "inner",
                                "s1", "alert"]
    for path in found.values():
        assert fe.get_at(flow, path)["id"] in found
    assert fe.find_task(flow, "s1") == found["s1"]
    assert fe.find_task(flow, "daily") == ["triggers", 0]
    assert fe.find_task(flow, "nope") is None


def test_get_at_names_the_missing_key():
    with pytest.raises(FlowEditError, match="no 9 at /tasks"):
        fe.get_at(sample(), ["tasks", 9])


def test_new_id_is_unique_and_valid():
    assert fe.new_id("log", []) == "log_1"
    assert fe.new_id("log", ["log_1", "log_2"]) == "log_3"
    assert fe.new_id("log_2", ["log_1", "log_2"]) == "log_3"
    assert fe.new_id("io.kestra.Foo", []) == "io_kestra_Foo_1"
    assert fe.new_id("_x", []) == "task__x_1"


def test_insert_at_paths_creates_optional_lists_and_wraps_dag_items():
    flow = sample()
    before = copy.deepcopy(flow)
    out = fe.insert_task(flow, ["tasks", 2, "else", 0], log("e1"))
    assert out["tasks"][2]["else"] == [log("e1")]
    assert list(out["tasks"][2]) == ["id", "type", "condition", "then", "else"]
    out = fe.insert_task(out, ["tasks", 3, "cases", "b", 0], log("cb"))
    assert out["tasks"][3]["cases"]["b"] == [log("cb")]
    out = fe.insert_task(out, ["tasks", 4, "tasks", 1], log("dx"))
    assert out["tasks"][4]["tasks"][1] == {"task": log("dx")}
    out = fe.insert_task(out, ["tasks", 1, "finally", 0], log("fin"))
    assert out["tasks"][1]["finally"] == [log("fin")]
    out = fe.insert_task(out, ["tasks", 5], log("last"))
    assert out["tasks"][-1]["id"] == "last"
    assert flow == before, "the input flow must not be mutated"


def test_insert_rejects_duplicate_ids_and_bad_positions():
    with pytest.raises(FlowEditError, match="'p1' already exists"):
        fe.insert_task(sample(), ["tasks", 0], log("p1"))
    with pytest.raises(FlowEditError, match="outside the list"):
        fe.insert_task(sample(), ["tasks", 7], log("z"))
    with pytest.raises(FlowEditError, match="must end with a list index"):
        fe.insert_task(sample(), ["tasks"], log("z"))


def test_move_within_a_list_reads_the_target_before_the_move():
    flow = sample()
    out = fe.move_task(flow, ["tasks", 0], ["tasks", 2])
    assert [t["id"] for t in out["tasks"]] == ["par", "a", "check", "sw", "g"]
    out = fe.move_task(flow, ["tasks", 2], ["tasks", 0])
    assert [t["id"] for t in out["tasks"]] == ["check", "a", "par", "sw", "g"]
    assert fe.move_task(flow, ["tasks", 1], ["tasks", 2]) == flow  # dropped next to itself


def test_move_into_a_later_container_shifts_its_index():
    out = fe.move_task(sample(), ["tasks", 0], ["tasks", 1, "tasks", 2])
    assert [t["id"] for t in out["tasks"][0]["tasks"]] == ["p1", "p2", "a"]
    assert out["tasks"][0]["id"] == "par"


def test_move_out_of_a_container_and_of_an_optional_list_drops_it_when_empty():
    out = fe.move_task(sample(), ["errors", 0], ["tasks", 2, "then", 1])
    assert "errors" not in out
    assert [t["id"] for t in out["tasks"][2]["then"]] == ["t1", "alert"]
    out = fe.move_task(sample(), ["tasks", 3, "defaults", 0], ["tasks", 0])
    assert "defaults" not in out["tasks"][4]
    assert out["tasks"][0]["id"] == "d0"


def test_move_into_itself_is_refused():
    with pytest.raises(FlowEditError, match="into itself"):
        fe.move_task(sample(), ["tasks", 1], ["tasks", 1, "tasks", 0])
    with pytest.raises(FlowEditError, match="into itself"):
        fe.move_task(sample(), ["tasks", 4, "tasks", 2, "task"], ["tasks", 4, "tasks", 2, "task", "tasks", 0])


def test_dag_items_keep_their_edges_inside_the_dag_and_lose_them_outside():
    flow = sample()
    out = fe.move_task(flow, ["tasks", 4, "tasks", 1, "task"], ["tasks", 4, "tasks", 0])
    assert out["tasks"][4]["tasks"][0] == {"task": log("d2"), "dependsOn": ["d1"]}
    out = fe.move_task(flow, ["tasks", 4, "tasks", 0, "task"], ["tasks", 0])
    assert out["tasks"][0] == log("d1")
    assert "dependsOn" not in out["tasks"][5]["tasks"][0]  # d2 no longer waits for d1
    out = fe.move_task(flow, ["tasks", 0], ["tasks", 4, "tasks", 3])
    assert out["tasks"][3]["tasks"][3] == {"task": log("a")}


def test_delete_removes_the_task_and_edges_to_it():
    out = fe.delete_task(sample(), ["tasks", 4, "tasks", 1, "task"])
    items = out["tasks"][4]["tasks"]
    assert [i["task"]["id"] for i in items] == ["d1", "inner"]
    assert "dependsOn" not in items[1]
    out = fe.delete_task(sample(), ["triggers", 0])
    assert "triggers" not in out
    with pytest.raises(FlowEditError, match="no task at"):
        fe.delete_task(sample(), ["tasks", 1, "tasks", 5])


def test_duplicate_gives_fresh_ids_to_the_copy_and_everything_inside():
    flow = sample()
    out, path = fe.duplicate_task(flow, ["tasks", 4])
    assert path == ["tasks", 5]
    copy_ = out["tasks"][5]
    assert copy_["id"] == "g_1"
    inner_ids = [i["task"]["id"] for i in copy_["tasks"]]
    assert inner_ids == ["d1_1", "d2_1", "inner_1"]
    assert copy_["tasks"][1]["dependsOn"] == ["d1_1"]
    assert copy_["tasks"][2]["dependsOn"] == ["d2_1"]
    assert copy_["tasks"][2]["task"]["tasks"][0]["id"] == "s1_1"
    ids = fe.all_ids(out)
    assert len(ids) == len(set(ids))
    assert out["tasks"][4] == flow["tasks"][4]


def test_duplicate_of_a_dag_item_keeps_its_dependencies():
    out, path = fe.duplicate_task(sample(), ["tasks", 4, "tasks", 1, "task"])
    assert path == ["tasks", 4, "tasks", 2, "task"]
    assert out["tasks"][4]["tasks"][2] == {"task": log("d2", id="d2_1"), "dependsOn": ["d1"]}


def test_toggle_disabled_sets_then_removes_the_key():
    flow = sample()
    out = fe.toggle_disabled(flow, ["tasks", 0])
    assert out["tasks"][0] == {**log("a"), "disabled": True}
    back = fe.toggle_disabled(out, ["tasks", 0])
    assert back["tasks"][0] == log("a")
    assert "disabled" not in flow["tasks"][0]


def test_connect_adds_edges_and_refuses_cycles_self_edges_and_strangers():
    flow = sample()
    out = fe.connect(flow, ["tasks", 4], "d1", "inner")
    assert out["tasks"][4]["tasks"][2]["dependsOn"] == ["d2", "d1"]
    assert fe.connect(out, ["tasks", 4], "d1", "inner") == out
    with pytest.raises(FlowEditError, match="cycle"):
        fe.connect(flow, ["tasks", 4], "inner", "d1")
    with pytest.raises(FlowEditError, match="itself"):
        fe.connect(flow, ["tasks", 4], "d1", "d1")
    with pytest.raises(FlowEditError, match="'a' is not in the dag"):
        fe.connect(flow, ["tasks", 4], "a", "d1")
    with pytest.raises(FlowEditError, match="is not a dag"):
        fe.connect(flow, ["tasks", 1], "p1", "p2")
    out = fe.disconnect(flow, ["tasks", 4], "d1", "d2")
    assert "dependsOn" not in out["tasks"][4]["tasks"][1]


def test_add_case():
    out = fe.add_case(sample(), ["tasks", 3], " c ")
    assert list(out["tasks"][3]["cases"]) == ["a", "b", "c"]
    with pytest.raises(FlowEditError, match="already has a case 'a'"):
        fe.add_case(sample(), ["tasks", 3], "a")
    with pytest.raises(FlowEditError, match="not a switch"):
        fe.add_case(sample(), ["tasks", 0], "a")


def test_replace_task_keeps_the_dag_wrapper():
    out = fe.replace_task(sample(), ["tasks", 4, "tasks", 1, "task"], log("d2", message="changed"))
    assert out["tasks"][4]["tasks"][1] == {"task": log("d2", message="changed"), "dependsOn": ["d1"]}


def test_restore_key_order_undoes_what_a_browser_does_to_objects():
    old = {"id": "f", "x": {"2": 1, "1": 2, "b": 3}, "n": 1.0, "tasks": [
        log("a"), {"id": "sw", "type": "switch", "value": 1, "cases": {"10": [], "2": [log("c")]}}]}
    # What comes back from JavaScript: integer-like keys first, 1.0 as 1, tasks moved, a case added.
    browser = json.loads(json.dumps({"id": "f", "n": 1, "tasks": [
        {"cases": {"2": [log("c")], "10": [], "3": []}, "id": "sw", "type": "switch", "value": 1}, log("a")],
        "x": {"1": 2, "2": 1, "b": 3}}))
    out = restore_key_order(browser, old)
    assert out == browser
    assert list(out) == ["id", "x", "n", "tasks"]
    assert list(out["x"]) == ["2", "1", "b"]
    assert list(out["tasks"][0]) == ["id", "type", "value", "cases"]
    assert list(out["tasks"][0]["cases"]) == ["10", "2", "3"]
    assert isinstance(out["n"], float)


def test_restore_key_order_keeps_values_a_browser_cannot_represent():
    day = datetime.date(2024, 1, 2)
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    big = 2**60 + 1
    old = {"a": day, "b": moment, "c": big, "d": "2024-01-02", "e": 3}
    browser = {"a": "2024-01-02", "b": moment.timestamp() * 1000, "c": float(big), "d": "2024-01-02", "e": 4}
    browser["c"] = int(browser["c"])
    out = restore_key_order(browser, old)
    assert out == {"a": day, "b": moment, "c": big, "d": "2024-01-02", "e": 4}
    # A value that really changed is not "restored".
    assert restore_key_order({"a": "2024-01-03"}, {"a": day}) == {"a": "2024-01-03"}


def test_container_spec_is_json_and_comes_from_the_registry():
    spec = json.loads(json.dumps(fe.container_spec()))
    assert [c["name"] for c in spec["lists"]["if"]] == ["then", "else"]
    assert [(c["name"], c["shape"]) for c in spec["lists"]["switch"]] == [("cases", "map"), ("defaults", "list")]
    assert spec["lists"]["dag"][0]["shape"] == "graph" and spec["lists"]["parallel"][0]["parallel"] is True
    assert spec["names"]["io.kestra.core.tasks.flows.EachParallel"] == "for_each"
    assert "subflow" not in spec["names"], "a flowable without child lists is no container"
    assert set(spec["optional"]) == fe.optional_lists() >= {"else", "defaults", "errors", "finally", "afterExecution", "triggers"}
