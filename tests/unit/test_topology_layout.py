"""Topology layout and execution colouring (builder/topology.py)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.topology import (
    GAP_X,
    PENDING_COLOUR,
    STATE_COLOURS,
    aggregate_state,
    apply_execution,
    format_duration,
    layout_flow,
    layout_from_summary,
    node_details,
)
from engine.model.state import State


def log(tid: str) -> dict:
    return {"id": tid, "type": "log", "message": tid}


def by_id(layout) -> dict:
    return {n["id"]: n for n in layout.to_dict()["nodes"]}


def encloses(outer: dict, inner: dict) -> bool:
    return (outer["x"] <= inner["x"] and outer["y"] <= inner["y"]
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"])


def overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


NESTED = {
    "id": "nested", "namespace": "demo.topology",
    "tasks": [
        log("start"),
        {"id": "fan", "type": "io.kestra.plugin.core.flow.Parallel", "tasks": [
            log("p1"),
            {"id": "seq", "type": "sequential", "tasks": [log("s1"), log("s2")]},
        ]},
        {"id": "choose", "type": "if", "condition": "{{ true }}", "then": [log("yes")], "else": [log("no")]},
        {"id": "loop", "type": "io.kestra.core.tasks.flows.EachSequential", "value": ["a", "b"],
         "tasks": [log("inner")]},
        {"id": "graph", "type": "dag", "tasks": [
            {"task": log("d1")},
            {"task": log("d2"), "dependsOn": ["d1"]},
            {"task": log("d3"), "dependsOn": ["d1"]},
            {"task": log("d4"), "dependsOn": ["d2", "d3"]},
        ]},
        log("end"),
    ],
    "errors": [log("alert")],
    "finally": [log("cleanup")],
}


def test_sequence_is_left_to_right_with_sequence_edges():
    layout = layout_flow(NESTED)
    nodes = by_id(layout)
    top = [nodes[i] for i in ("start", "fan", "choose", "loop", "graph", "end")]
    assert all(a["x"] + a["width"] + GAP_X == b["x"] for a, b in itertools.pairwise(top))
    edges = {(e.source, e.target, e.kind) for e in layout.edges}
    assert ("start", "fan", "sequence") in edges and ("graph", "end", "sequence") in edges
    assert nodes["fan"]["kind"] == "container" and nodes["start"]["kind"] == "task"
    assert nodes["fan"]["type"] == "parallel" and nodes["loop"]["type"] == "for_each"


def test_parallel_children_are_stacked_vertically_inside_their_box():
    nodes = by_id(layout_flow(NESTED))
    p1, seq = nodes["p1"], nodes["seq"]
    assert p1["x"] == seq["x"] and p1["y"] + p1["height"] <= seq["y"]
    assert p1["parent"] == "fan" and seq["parent"] == "fan" and nodes["s1"]["parent"] == "seq"
    for child in ("p1", "seq", "s1", "s2"):
        assert encloses(nodes["fan"], nodes[child])
    assert nodes["s1"]["y"] == nodes["s2"]["y"] and nodes["s1"]["x"] < nodes["s2"]["x"]


def test_if_branches_have_labels_and_stack():
    layout = layout_flow(NESTED)
    nodes = by_id(layout)
    then_label, else_label = nodes["choose:then"], nodes["choose:else"]
    assert then_label["kind"] == else_label["kind"] == "branch-label"
    assert (then_label["label"], else_label["label"]) == ("then", "else")
    assert nodes["yes"]["y"] < nodes["no"]["y"] and nodes["yes"]["branch"] == "then"
    assert then_label["x"] < nodes["yes"]["x"]
    assert ("choose:then", "yes") in {(e.source, e.target) for e in layout.edges}


def test_switch_cases_and_default_are_lanes():
    flow = {"id": "s", "namespace": "n", "tasks": [{"id": "sw", "type": "switch", "value": "x",
            "cases": {"A": [log("a1"), log("a2")], "B": [log("b1")]}, "defaults": [log("dflt")]}]}
    nodes = by_id(layout_flow(flow))
    labels = [nodes[i]["label"] for i in ("sw:cases.A", "sw:cases.B", "sw:defaults")]
    assert labels == ["case A", "case B", "default"]
    assert nodes["a1"]["y"] == nodes["a2"]["y"] < nodes["b1"]["y"] < nodes["dflt"]["y"]


def test_dag_columns_follow_dependency_depth():
    layout = layout_flow(NESTED)
    nodes = by_id(layout)
    assert nodes["d1"]["x"] < nodes["d2"]["x"] == nodes["d3"]["x"] < nodes["d4"]["x"]
    assert nodes["d2"]["y"] != nodes["d3"]["y"]
    dag_edges = {(e.source, e.target) for e in layout.edges if e.kind == "dag"}
    assert dag_edges == {("d1", "d2"), ("d1", "d3"), ("d2", "d4"), ("d3", "d4")}


def test_errors_and_finally_are_lanes_below_the_main_row():
    layout = layout_flow(NESTED)
    nodes = by_id(layout)
    main_bottom = max(n["y"] + n["height"] for n in nodes.values() if n["branch"] == "tasks" and not n["parent"])
    assert nodes["flow:errors"]["y"] >= main_bottom and nodes["alert"]["y"] > main_bottom
    assert nodes["cleanup"]["y"] > nodes["alert"]["y"]
    assert ("flow:errors", "alert", "error") in {(e.source, e.target, e.kind) for e in layout.edges}


def test_container_errors_lane_is_inside_the_container():
    flow = {"id": "f", "namespace": "n", "tasks": [
        {"id": "box", "type": "sequential", "tasks": [log("a")], "errors": [log("oops")], "finally": [log("fin")]}]}
    nodes = by_id(layout_flow(flow))
    for child in ("a", "oops", "fin", "box:errors", "box:finally"):
        assert encloses(nodes["box"], nodes[child]), child
    assert nodes["a"]["y"] < nodes["oops"]["y"] < nodes["fin"]["y"]


def test_output_is_stable_json():
    first = json.dumps(layout_flow(NESTED).to_dict(), sort_keys=True)
    assert first == json.dumps(layout_flow(NESTED).to_dict(), sort_keys=True)
    data = layout_flow(NESTED).to_dict()
    assert data["flow"] == {"id": "nested", "namespace": "demo.topology"}
    assert {"id", "taskId", "type", "label", "icon", "x", "y", "width", "height", "parent", "kind"} <= set(data["nodes"][0])
    assert set(data["edges"][0]) == {"from", "to", "kind"}


def test_layout_fits_in_its_size_and_ids_are_unique():
    layout = layout_flow(NESTED)
    ids = [n.id for n in layout.nodes]
    assert len(ids) == len(set(ids))
    for n in layout.nodes:
        assert n.x >= 0 and n.y >= 0 and n.x + n.width <= layout.width and n.y + n.height <= layout.height


def test_duplicate_and_missing_ids_still_give_unique_nodes():
    flow = {"id": "f", "namespace": "n", "tasks": [log("same"), log("same"), {"type": "log"}]}
    layout = layout_flow(flow)
    assert [n.id for n in layout.nodes] == ["same", "same#2", "log-task"]


def test_not_a_mapping_is_a_clear_error():
    with pytest.raises(ValueError, match="flow_data must be a mapping"):
        layout_flow(["tasks"])  # type: ignore[arg-type]


# --- property: random nested flows never overlap --------------------------------------------------

_counter = itertools.count()


def _leaf() -> st.SearchStrategy[dict]:
    return st.just(None).map(lambda _: {"type": "log", "message": "x"})


def _containers(children: st.SearchStrategy[list[dict]]) -> st.SearchStrategy[dict]:
    kids = st.lists(children, min_size=1, max_size=3)
    lists = st.lists(_leaf(), min_size=1, max_size=2)
    extra = st.fixed_dictionaries({}, optional={"errors": lists, "finally": lists})
    row = st.tuples(st.sampled_from(["sequential", "parallel", "for_each", "working_directory"]), kids, extra).map(
        lambda t: {"type": t[0], "tasks": t[1], **t[2]})
    branch = st.tuples(kids, st.one_of(st.none(), kids), extra).map(
        lambda t: {"type": "if", "condition": "x", "then": t[0], **({"else": t[1]} if t[1] else {}), **t[2]})
    switch = st.tuples(st.dictionaries(st.sampled_from("ABC"), kids, min_size=1, max_size=2), kids).map(
        lambda t: {"type": "switch", "value": "x", "cases": t[0], "defaults": t[1]})
    dag = st.lists(children, min_size=1, max_size=4).flatmap(
        lambda items: st.lists(st.lists(st.integers(0, len(items) - 1), max_size=2),
                               min_size=len(items), max_size=len(items)).map(
            lambda deps: {"type": "dag", "tasks": [{"task": t, "_deps": d} for t, d in zip(items, deps, strict=True)]}))
    return st.one_of(row, branch, switch, dag)


def _name(tree: object) -> object:
    """Give every task a unique id and turn dag dependency indexes into earlier ids (no cycles)."""
    if isinstance(tree, list):
        return [_name(t) for t in tree]
    if not isinstance(tree, dict):
        return tree
    if "task" in tree:
        return {"task": _name(tree["task"]), "_deps": tree["_deps"]}
    out = {k: _name(v) for k, v in tree.items()}
    if "type" in tree:
        out["id"] = f"t{next(_counter)}"
    if tree.get("type") == "dag":
        items = out["tasks"]
        for i, item in enumerate(items):
            deps = sorted({items[j]["task"]["id"] for j in item.pop("_deps") if j < i})
            if deps:
                item["dependsOn"] = deps
    return out


flows = st.tuples(
    st.lists(st.recursive(_leaf(), lambda c: _containers(c), max_leaves=12), min_size=1, max_size=3),
    st.one_of(st.none(), st.lists(_leaf(), min_size=1, max_size=2)),
).map(lambda t: _name({"id": "r", "namespace": "n", "tasks": t[0], **({"errors": t[1]} if t[1] else {})}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows)
def test_random_nested_flows_never_overlap_and_containers_enclose(flow):
    layout = layout_flow(flow)
    nodes = by_id(layout)

    def ancestors(nid: str) -> set[str]:
        out = set()
        while nodes[nid]["parent"]:
            nid = nodes[nid]["parent"]
            out.add(nid)
        return out

    anc = {nid: ancestors(nid) for nid in nodes}
    for nid, node in nodes.items():
        for a in anc[nid]:
            assert encloses(nodes[a], node), (a, nid)
        assert node["x"] + node["width"] <= layout.width and node["y"] + node["height"] <= layout.height
    for a, b in itertools.combinations(nodes, 2):
        if a in anc[b] or b in anc[a]:
            continue
        assert not overlap(nodes[a], nodes[b]), (a, b)
    for e in layout.edges:
        assert e.source in nodes and e.target in nodes
        assert nodes[e.source]["x"] + nodes[e.source]["width"] <= nodes[e.target]["x"]


# --- execution state ---------------------------------------------------------------------------------

def test_every_state_has_a_distinct_colour():
    assert set(STATE_COLOURS) == {str(s) for s in State}
    colours = list(STATE_COLOURS.values())
    assert len(set(colours)) == len(colours) and PENDING_COLOUR not in colours
    assert all(c.startswith("#") and len(c) == 7 for c in colours)


def test_aggregate_state_prefers_activity_then_the_worst_end():
    assert aggregate_state(["SUCCESS", "RUNNING", "FAILED"]) == "RUNNING"
    assert aggregate_state(["SUCCESS", "FAILED", "WARNING"]) == "FAILED"
    assert aggregate_state(["SUCCESS", "SKIPPED"]) == "SUCCESS"
    assert aggregate_state(["SKIPPED"]) == "SKIPPED"


def _run(rid, task, state, start, end, parent=None, value=None, attempts=1):
    return {"id": rid, "taskId": task, "parentTaskRunId": parent, "value": value, "state": state,
            "attempts": [{"state": state}] * attempts, "outputs": {"value": rid},
            "startDate": f"2024-05-01T10:00:{start:02d}+00:00",
            "endDate": f"2024-05-01T10:00:{end:02d}+00:00" if end is not None else None}


SUMMARY = {
    "id": "ex1", "namespace": "demo.topology", "flowId": "nested", "state": "RUNNING",
    "taskRuns": [
        _run("r1", "start", "SUCCESS", 0, 2, attempts=3),
        _run("r2", "loop", "RUNNING", 2, None),
        _run("r3", "inner", "SUCCESS", 2, 3, parent="r2", value="a"),
        _run("r4", "inner", "FAILED", 3, 5, parent="r2", value="b"),
        _run("r5", "inner", "RUNNING", 5, None, parent="r2", value="c"),
        _run("r9", "not-in-flow", "SUCCESS", 0, 1),
    ],
}


def test_apply_execution_colours_durations_attempts_and_iterations():
    now = datetime(2024, 5, 1, 10, 0, 9, tzinfo=UTC)
    states = apply_execution(layout_flow(NESTED), SUMMARY, now=now)
    assert set(states) == {"start", "loop", "inner"}
    start = states["start"]
    assert (start["state"], start["colour"], start["duration"], start["attempts"]) == (
        "SUCCESS", STATE_COLOURS["SUCCESS"], 2.0, 3)
    loop = states["loop"]
    assert loop["state"] == "RUNNING" and loop["duration"] == 7.0
    assert loop["iterations"] == {"SUCCESS": 1, "FAILED": 1, "RUNNING": 1}
    assert [v["value"] for v in loop["values"]] == ["a", "b", "c"]
    inner = states["inner"]
    assert inner["iterations"] == {"SUCCESS": 1, "FAILED": 1, "RUNNING": 1}
    assert [r["value"] for r in inner["runs"]] == ["a", "b", "c"]
    json.dumps(states)  # plain JSON for widget traits


def test_apply_execution_accepts_the_layout_dict():
    layout = layout_flow(NESTED)
    assert apply_execution(layout.to_dict(), SUMMARY) .keys() == apply_execution(layout, SUMMARY).keys()


def test_node_details_groups_outputs_and_logs_by_node():
    logs = [{"taskId": "start", "taskRunId": "r1", "level": "INFO", "message": "hello", "timestamp": "t", "attempt": 1},
            {"taskId": None, "taskRunId": None, "level": "INFO", "message": "execution", "timestamp": "t"}]
    details = node_details(layout_flow(NESTED), SUMMARY, logs)
    assert details["start"]["logs"][0]["message"] == "hello"
    assert details["start"]["runs"][0]["outputs"] == {"value": "r1"}
    assert [r["value"] for r in details["inner"]["runs"]] == ["a", "b", "c"]


def test_layout_from_summary_rebuilds_nesting():
    layout = layout_from_summary(SUMMARY)
    nodes = by_id(layout)
    assert nodes["loop"]["kind"] == "container" and nodes["inner"]["parent"] == "loop"
    assert [n for n in nodes if nodes[n]["taskId"] == "inner"] == ["inner"]


def test_format_duration():
    assert [format_duration(s) for s in (None, 0.25, 4.24, 187, 3720)] == ["", "250ms", "4.2s", "3m 07s", "1h 02m"]
