"""Flow topology layout and execution-state colouring, shared by every UI.

The Jupyter widget and the web builder both draw a flow from the plain JSON
this module returns, so that a flow looks the same wherever it is shown. It is
pure Python on purpose (no Panel, no ipywidgets): the layout is computed once,
here, and the front ends only paint rectangles and edges.

Layout is left to right: the tasks of a list sit in a row joined by sequence
edges; a container (sequential, for_each, working_directory...) is a box that
encloses its children; parallel children and the branches of ``if``/``switch``
are stacked vertically inside their box, each labelled branch starting with a
small ``branch-label`` node; ``dag`` tasks sit in columns by dependency depth;
``errors``/``finally`` (and ``afterExecution`` at flow level) are separate
labelled lanes below the main row. Coordinates are absolute pixels, top-left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from engine.model import registry, tree
from engine.model.flowable import COMMON_CHILD_LISTS, FLOW_CHILD_LISTS, ChildList
from engine.model.state import TERMINAL, State

NODE_W, NODE_H = 176, 56
LABEL_W, LABEL_H = 92, 26
GAP_X, GAP_Y = 36, 18
PAD, HEADER = 12, 30
MARGIN = 16

#: One palette for every view of an execution (widget, web builder, Gantt, static SVG).
STATE_COLOURS: dict[str, str] = {
    State.CREATED: "#94a3b8",
    State.QUEUED: "#a78bfa",
    State.RUNNING: "#3b82f6",
    State.PAUSED: "#06b6d4",
    State.SUCCESS: "#22c55e",
    State.WARNING: "#f59e0b",
    State.FAILED: "#ef4444",
    State.KILLING: "#f97316",
    State.KILLED: "#991b1b",
    State.RETRYING: "#eab308",
    State.RESTARTED: "#0ea5e9",
    State.RETRIED: "#c084fc",
    State.CANCELLED: "#64748b",
    State.SKIPPED: "#cbd5e1",
}
STATE_COLOURS = {str(k): v for k, v in STATE_COLOURS.items()}
#: Colour of a node that has no task run (yet).
PENDING_COLOUR = "#e2e8f0"

#: Icon of a type the registry does not know.
_UNKNOWN_ICON = "▪️"
#: How a type the registry does not know nests tasks (a layout rebuilt from task runs uses it).
_UNKNOWN_CHILDREN = ChildList("tasks")
# Which state wins when several task runs share one node: active states first, then the worst end.
_STATE_RANK = [State.RUNNING, State.KILLING, State.RETRYING, State.PAUSED, State.QUEUED, State.CREATED,
               State.RESTARTED, State.RETRIED, State.KILLED, State.FAILED, State.CANCELLED, State.WARNING, State.SUCCESS,
               State.SKIPPED]


@dataclass
class Node:
    """One rectangle: a task, a container box, or a branch label."""

    id: str
    task_id: str | None
    type: str
    label: str
    icon: str
    x: int
    y: int
    width: int
    height: int
    parent: str | None
    kind: str  # task | container | branch-label
    branch: str | None = None  # the child list of the parent this node sits in (tasks, then, cases.A...)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "taskId": self.task_id, "type": self.type, "label": self.label,
                "icon": self.icon, "x": self.x, "y": self.y, "width": self.width, "height": self.height,
                "parent": self.parent, "kind": self.kind, "branch": self.branch}


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # sequence | dag | error

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "kind": self.kind}


@dataclass
class Layout:
    """A laid-out flow; :meth:`to_dict` is the JSON the front ends draw."""

    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    flow: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"flow": dict(self.flow), "width": self.width, "height": self.height,
                "nodes": [n.to_dict() for n in self.nodes], "edges": [e.to_dict() for e in self.edges]}


@dataclass
class _Box:
    """A laid-out subtree in coordinates relative to its own top-left corner."""

    nodes: list[Node]
    edges: list[Edge]
    w: int
    h: int
    head: str | None = None  # node an incoming sequence edge points to
    tail: str | None = None  # node an outgoing sequence edge leaves from

    def shift(self, dx: int, dy: int) -> _Box:
        for n in self.nodes:
            n.x += dx
            n.y += dy
        return self


def canonical_type(type_name: Any) -> str:
    """Canonical task name for a type (Kestra aliases resolved); unknown names are kept as given."""
    if not isinstance(type_name, str) or not type_name:
        return "unknown"
    return _canonical(type_name)


@lru_cache(maxsize=1024)
def _canonical(type_name: str) -> str:
    return registry.canonical_task_name(type_name) or type_name


@lru_cache(maxsize=1024)
def _icon(canonical: str) -> str:
    cls = registry.task_class(canonical)
    return cls.icon if cls is not None and cls.icon else _UNKNOWN_ICON


def _is_loop(type_name: str) -> bool:
    """Whether the type runs its children once per value (its task runs group by value)."""
    cls = registry.task_class(type_name)
    return bool(getattr(cls, "iterates", False))


class _Builder:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def unique(self, wanted: str) -> str:
        node_id, n = wanted, 1
        while node_id in self.ids:
            n += 1
            node_id = f"{wanted}#{n}"
        self.ids.add(node_id)
        return node_id

    # -- single task ------------------------------------------------------------------------------
    def task(self, task: Any, parent: str | None, branch: str | None) -> _Box:
        if not isinstance(task, dict):
            task = {"id": "invalid", "type": "unknown"}
        tid = task.get("id") if isinstance(task.get("id"), str) else None
        ctype = canonical_type(task.get("type"))
        node_id = self.unique(tid or f"{ctype}-task")
        lanes = self.child_lanes(task, ctype)
        if not lanes:
            node = Node(node_id, tid, ctype, tid or ctype, _icon(ctype), 0, 0, NODE_W, NODE_H, parent, "task", branch)
            return _Box([node], [], NODE_W, NODE_H, node_id, node_id)
        node = Node(node_id, tid, ctype, tid or ctype, _icon(ctype), 0, 0, 0, 0, parent, "container", branch)
        parts: list[_Box] = []
        for name, items, decl, title in lanes:
            if decl.shape == "graph":
                parts.append(self.dag(items, node_id, name))
            elif decl.parallel:
                parts.append(self.stack([self.task(t, node_id, name) for t in items]))
            else:
                parts.append(self.lane(items, node_id, name, title))
        content = self.stack(parts).shift(PAD, HEADER)
        node.width = max(NODE_W, content.w + 2 * PAD)
        node.height = HEADER + content.h + PAD
        return _Box([node, *content.nodes], content.edges, node.width, node.height, node_id, node_id)

    def child_lanes(self, task: dict[str, Any], ctype: str) -> list[tuple[str, list[Any], ChildList, str | None]]:
        """(branch name, tasks, its declaration, lane title or None) for each non-empty child list.

        The lists are the ones the task's type declares (main lists first); a type the
        registry does not know is drawn with its ``tasks`` as a plain row.
        """
        lanes: list[tuple[str, list[Any], ChildList, str | None]] = []

        def add(name: str, value: Any, decl: ChildList, title: str | None) -> None:
            if isinstance(value, list) and value:
                lanes.append((name, value, decl, title))

        known = registry.task_class(ctype) is not None
        for decl in tree.branch_lists(ctype) if known else (_UNKNOWN_CHILDREN,):
            value = task.get(decl.name)
            if decl.shape == "map":
                for key, branch in (value.items() if isinstance(value, dict) else []):
                    add(f"{decl.name}.{key}", branch, decl, f"{decl.label or decl.name} {key}")
            else:
                add(decl.name, value, decl, decl.label)
        if lanes:  # errors/finally only make a box of a task that has children
            for decl in COMMON_CHILD_LISTS:
                add(decl.name, task.get(decl.name), decl, decl.label)
        return lanes

    # -- arrangements -------------------------------------------------------------------------------
    def row(self, items: list[Any], parent: str | None, branch: str, edge_kind: str) -> _Box:
        boxes = [self.task(t, parent, branch) for t in items]
        return self.join_row(boxes, edge_kind)

    @staticmethod
    def join_row(boxes: list[_Box], edge_kind: str) -> _Box:
        if not boxes:
            return _Box([], [], 0, 0)
        h = max(b.h for b in boxes)
        nodes: list[Node] = []
        edges: list[Edge] = []
        x = 0
        for i, b in enumerate(boxes):
            b.shift(x, (h - b.h) // 2)
            nodes += b.nodes
            edges += b.edges
            if i and boxes[i - 1].tail and b.head:
                edges.append(Edge(boxes[i - 1].tail, b.head, edge_kind))  # type: ignore[arg-type]
            x += b.w + GAP_X
        return _Box(nodes, edges, x - GAP_X, h, boxes[0].head, boxes[-1].tail)

    @staticmethod
    def stack(boxes: list[_Box]) -> _Box:
        boxes = [b for b in boxes if b.nodes]
        if not boxes:
            return _Box([], [], 0, 0)
        nodes: list[Node] = []
        edges: list[Edge] = []
        y = 0
        for b in boxes:
            b.shift(0, y)
            nodes += b.nodes
            edges += b.edges
            y += b.h + GAP_Y
        return _Box(nodes, edges, max(b.w for b in boxes), y - GAP_Y, boxes[0].head, boxes[0].tail)

    def lane(self, items: list[Any], owner: str | None, branch: str, title: str | None) -> _Box:
        """A row of tasks, after a label node when the lane has a ``title``."""
        kind = "error" if branch == "errors" else "sequence"
        body = self.row(items, owner, branch, kind)
        if title is None:
            return body
        label_id = self.unique(f"{owner or 'flow'}:{branch}")
        label = Node(label_id, None, "branch", title, "", 0, 0, LABEL_W, LABEL_H, owner, "branch-label", branch)
        return self.join_row([_Box([label], [], LABEL_W, LABEL_H, label_id, label_id), body], kind)

    def dag(self, items: list[Any], owner: str, branch: str) -> _Box:
        tasks: list[tuple[str | None, Any, list[str]]] = []
        for item in items:
            task = item.get("task") if isinstance(item, dict) and "task" in item else item
            deps = item.get("dependsOn") if isinstance(item, dict) else None
            tid = task.get("id") if isinstance(task, dict) else None
            tasks.append((tid, task, [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []))
        known = {t[0] for t in tasks if t[0]}
        depth: dict[str, int] = {}

        def depth_of(tid: str, seen: frozenset[str]) -> int:
            if tid in depth:
                return depth[tid]
            deps = next((d for t, _, d in tasks if t == tid), [])
            deps = [d for d in deps if d in known and d not in seen]
            depth[tid] = 1 + max((depth_of(d, seen | {tid}) for d in deps), default=-1)
            return depth[tid]

        columns: dict[int, list[_Box]] = {}
        node_of: dict[str, str] = {}
        for tid, task, _ in tasks:
            box = self.task(task, owner, branch)
            if tid and box.head:
                node_of.setdefault(tid, box.head)
            columns.setdefault(depth_of(tid, frozenset()) if tid else 0, []).append(box)
        stacked = [self.stack(columns[c]) for c in sorted(columns)]
        h = max(b.h for b in stacked)
        nodes: list[Node] = []
        edges: list[Edge] = []
        x = 0
        for b in stacked:
            b.shift(x, (h - b.h) // 2)
            nodes += b.nodes
            edges += b.edges
            x += b.w + GAP_X
        for tid, _, deps in tasks:
            for d in deps:
                if tid in node_of and d in node_of:
                    edges.append(Edge(node_of[d], node_of[tid], "dag"))
        return _Box(nodes, edges, x - GAP_X, h)


def layout_flow(flow_data: dict[str, Any]) -> Layout:
    """Lay out a flow given as YAML data (camelCase keys, canonical or Kestra type names)."""
    if not isinstance(flow_data, dict):
        raise ValueError("flow_data must be a mapping with id, namespace and tasks")
    b = _Builder()
    lanes = []
    for decl in FLOW_CHILD_LISTS:
        items = flow_data.get(decl.name)
        if isinstance(items, list) and (items or decl.label is None):
            lanes.append(b.lane(items, None, decl.name, decl.label))
    body = b.stack(lanes).shift(MARGIN, MARGIN)
    flow = {"id": flow_data.get("id"), "namespace": flow_data.get("namespace")}
    return Layout(body.nodes, body.edges, body.w + 2 * MARGIN, body.h + 2 * MARGIN, flow)


def layout_from_summary(summary: dict[str, Any]) -> Layout:
    """A layout rebuilt from the task runs alone, for when the flow source is not at hand."""
    runs = summary.get("taskRuns") or []
    task_of = {r["id"]: r["taskId"] for r in runs}
    children: dict[str | None, list[str]] = {}
    for r in runs:
        parent_task = task_of.get(r.get("parentTaskRunId"))
        kids = children.setdefault(parent_task, [])
        if r["taskId"] not in kids:
            kids.append(r["taskId"])

    def build(task_id: str, seen: frozenset[str]) -> dict[str, Any]:
        kids = [k for k in children.get(task_id, []) if k not in seen]
        data: dict[str, Any] = {"id": task_id, "type": "task"}
        if kids:
            data["tasks"] = [build(k, seen | {task_id}) for k in kids]
        return data

    return layout_flow({"id": summary.get("flowId"), "namespace": summary.get("namespace"),
                        "tasks": [build(t, frozenset()) for t in children.get(None, [])]})


# --- execution state -----------------------------------------------------------------------------

def aggregate_state(states: list[str]) -> str:
    """The state a node with several task runs shows: the most active, else the worst end."""
    present = set(states)
    for s in _STATE_RANK:
        if str(s) in present:
            return str(s)
    return states[0] if states else str(State.CREATED)


def parse_time(ts: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime (UTC when no offset), None when absent or bad."""
    if not isinstance(ts, str) or not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def run_duration(runs: list[dict[str, Any]], now: datetime | None = None) -> float | None:
    """Seconds from the first start to the last end (to ``now`` while a run is not over)."""
    starts = [d for d in (parse_time(r.get("startDate")) for r in runs) if d]
    if not starts:
        return None
    ends: list[datetime] = []
    for r in runs:
        end = parse_time(r.get("endDate"))
        if end is None and r.get("state") not in TERMINAL:
            end = now or datetime.now(UTC)
        if end:
            ends.append(end)
    if not ends:
        return None
    return round(max(0.0, (max(ends) - min(starts)).total_seconds()), 3)


def format_duration(seconds: float | None) -> str:
    """Short human duration: 850ms, 4.2s, 3m 07s, 1h 02m."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _node_ids_by_task(layout: Layout | dict[str, Any]) -> dict[str, str]:
    nodes = layout.to_dict()["nodes"] if isinstance(layout, Layout) else layout.get("nodes", [])
    out: dict[str, str] = {}
    for n in nodes:
        if n.get("taskId"):
            out.setdefault(n["taskId"], n["id"])
    return out


def apply_execution(layout: Layout | dict[str, Any], summary: dict[str, Any],
                    now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Node id -> {state, colour, duration, attempts, iterations, runs, values} for nodes that ran.

    ``iterations`` counts task runs by state; for a ``for_each`` node it counts its
    iterations (one per loop value, in the state of that value's children) and
    ``values`` lists them in order, so a UI can expand them.
    """
    node_of = _node_ids_by_task(layout)
    runs_of: dict[str, list[dict[str, Any]]] = {}
    children_of: dict[str, list[dict[str, Any]]] = {}
    for r in summary.get("taskRuns") or []:
        if r.get("taskId") in node_of:
            runs_of.setdefault(node_of[r["taskId"]], []).append(r)
        if r.get("parentTaskRunId"):
            children_of.setdefault(r["parentTaskRunId"], []).append(r)
    loops = set(_loop_nodes(layout))
    out: dict[str, dict[str, Any]] = {}
    for node_id, runs in runs_of.items():
        state = aggregate_state([str(r.get("state")) for r in runs])
        entry: dict[str, Any] = {
            "state": state,
            "colour": STATE_COLOURS.get(state, PENDING_COLOUR),
            "duration": run_duration(runs, now),
            "attempts": max((len(r.get("attempts") or []) for r in runs), default=0),
            "iterations": {},
            "runs": [{"id": r.get("id"), "value": r.get("value"), "state": r.get("state"),
                      "attempts": len(r.get("attempts") or []), "startDate": r.get("startDate"),
                      "endDate": r.get("endDate"), "duration": run_duration([r], now)} for r in runs],
        }
        by_value: dict[str, list[dict[str, Any]]] = {}
        for r in runs:
            for child in children_of.get(r.get("id"), []):
                by_value.setdefault(str(child.get("value")), []).append(child)
        if node_id in loops and by_value:
            values = [{"value": v, "state": aggregate_state([str(c.get("state")) for c in kids]),
                       "duration": run_duration(kids, now)} for v, kids in by_value.items()]
            entry["values"] = values
            for v in values:
                entry["iterations"][v["state"]] = entry["iterations"].get(v["state"], 0) + 1
        elif len(runs) > 1 or any(r.get("value") is not None for r in runs):
            for r in runs:
                s = str(r.get("state"))
                entry["iterations"][s] = entry["iterations"].get(s, 0) + 1
        out[node_id] = entry
    return out


def _loop_nodes(layout: Layout | dict[str, Any]) -> list[str]:
    nodes = layout.to_dict()["nodes"] if isinstance(layout, Layout) else layout.get("nodes", [])
    return [n["id"] for n in nodes if _is_loop(str(n.get("type")))]


def node_details(layout: Layout | dict[str, Any], summary: dict[str, Any], logs: list[dict[str, Any]] | None,
                 max_logs: int = 500) -> dict[str, dict[str, Any]]:
    """Node id -> {taskId, runs: [{id, value, state, outputs}], logs}: what a click on a node shows."""
    node_of = _node_ids_by_task(layout)
    out: dict[str, dict[str, Any]] = {}
    for r in summary.get("taskRuns") or []:
        node_id = node_of.get(r.get("taskId"))
        if node_id is None:
            continue
        d = out.setdefault(node_id, {"taskId": r["taskId"], "runs": [], "logs": []})
        d["runs"].append({"id": r.get("id"), "value": r.get("value"), "state": r.get("state"),
                          "attempts": len(r.get("attempts") or []), "outputs": r.get("outputs") or {}})
    for line in logs or []:
        node_id = node_of.get(line.get("taskId"))
        if node_id is None:
            continue
        d = out.setdefault(node_id, {"taskId": line["taskId"], "runs": [], "logs": []})
        d["logs"].append({k: line.get(k) for k in ("timestamp", "level", "message", "attempt", "taskRunId")})
    for d in out.values():
        if len(d["logs"]) > max_logs:
            d["logs"] = d["logs"][-max_logs:]
    return out
