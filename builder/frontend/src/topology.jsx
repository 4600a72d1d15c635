// The topology of a flow, coloured by the state of an execution, on React Flow.
//
// Positions come from builder/topology.py (computed once in Python, so the static SVG a notebook
// viewer shows and this view are the same picture); React Flow adds zoom, pan, fit and the
// minimap. Nodes keep the widget's data attributes (data-node-id, data-kind, data-state) that
// the pages, the tests and the notebook tutorial read.

import { useEffect, useMemo, useRef } from "react";
import {
  BaseEdge, Controls, Handle, MiniMap, Position, ReactFlow, ReactFlowProvider, getBezierPath, useReactFlow,
} from "@xyflow/react";

const PENDING = "#e2e8f0";
const EDGE_COLOURS = { sequence: "#94a3b8", dag: "#6366f1", error: "#ef4444" };

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.floor(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  const sec = Math.floor(seconds % 60);
  if (minutes < 60) return `${minutes}m ${String(sec).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

function Chips({ st, palette }) {
  const counts = st && st.iterations ? Object.entries(st.iterations) : [];
  if (!counts.length) return null;
  return (
    <span className="lanner-chips">
      {counts.map(([s, c]) => (
        <span key={s} className="lanner-chip" data-state={s} title={`${c} ${s.toLowerCase()}`}
          style={{ background: palette[s] || PENDING }}>{c}</span>
      ))}
    </span>
  );
}

function TopoNode({ data }) {
  const { n, st, selected, palette, onSelect } = data;
  const colour = st ? st.colour : PENDING;
  const cls = `lanner-node lanner-kind-${n.kind}${selected ? " lanner-selected" : ""}`;
  const attrs = { className: cls, "data-node-id": n.id, "data-kind": n.kind, "data-state": st ? st.state : "" };
  if (n.kind === "branch-label") {
    return <div {...attrs}><span className="lanner-branch">{n.label}</span></div>;
  }
  const title = `${n.label} (${n.type})` + (st ? ` — ${st.state}` : "");
  const click = (ev) => { ev.stopPropagation(); onSelect(n.id); };
  const handles = [
    <Handle key="t" type="target" position={Position.Left} isConnectable={false} />,
    <Handle key="s" type="source" position={Position.Right} isConnectable={false} />,
  ];
  if (n.kind === "container") {
    const meta = st ? [st.state, formatDuration(st.duration)].filter(Boolean).join(" · ") : "";
    return (
      <div {...attrs} title={title} style={{ borderColor: colour }} data-colour={colour}>
        {handles}
        <div className="lanner-box-header" onClick={click} role="button" tabIndex={0}
          onKeyDown={(e) => { if (e.key === "Enter") click(e); }}
          style={{ background: colour, opacity: 1, "--lanner-fill": st ? 0.22 : 0.6 }}>
          <span className="lanner-label">{`${n.icon || ""} ${n.label}`}</span>
          <span className="lanner-meta">{meta}</span>
          <Chips st={st} palette={palette} />
        </div>
      </div>
    );
  }
  const parts = [n.type];
  if (st) {
    parts.push(formatDuration(st.duration));
    if (st.attempts > 1) parts.push(`${st.attempts} attempts`);
  }
  return (
    <div {...attrs} title={title} onClick={click} role="button" tabIndex={0}
      onKeyDown={(e) => { if (e.key === "Enter") click(e); }}>
      {handles}
      <div className="lanner-task" data-colour={colour} style={{ borderColor: colour, "--lanner-colour": colour }}>
        <span className="lanner-stripe" style={{ background: colour }} />
        <span className="lanner-label">{`${n.icon || ""} ${n.label}`}</span>
        <span className="lanner-meta">{parts.filter(Boolean).join(" · ")}</span>
        <Chips st={st} palette={palette} />
      </div>
    </div>
  );
}

function TopoEdge({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, data }) {
  const [path] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  return <BaseEdge path={path} markerEnd={markerEnd} className={`lanner-edge-path lanner-edge-${data.kind}`} />;
}

const NODE_TYPES = { topo: TopoNode };
const EDGE_TYPES = { topo: TopoEdge };

// Python gives absolute positions; React Flow wants child nodes relative to their parent.
function toReactFlow(topo, states, selected, palette, onSelect) {
  const byId = new Map((topo.nodes || []).map((n) => [n.id, n]));
  const nodes = (topo.nodes || []).map((n) => {
    const parent = n.parent && byId.get(n.parent);
    return {
      id: n.id, type: "topo", parentId: parent ? parent.id : undefined,
      position: { x: n.x - (parent ? parent.x : 0), y: n.y - (parent ? parent.y : 0) },
      width: n.width, height: n.height, style: { width: n.width, height: n.height },
      draggable: false, selectable: false, connectable: false, focusable: false,
      data: { n, st: states[n.id], selected: selected === n.id, palette, onSelect },
    };
  });
  const edges = (topo.edges || []).filter((e) => byId.has(e.from) && byId.has(e.to)).map((e) => ({
    id: `${e.kind}:${e.from}->${e.to}`, source: e.from, target: e.to, type: "topo", data: { kind: e.kind },
    className: `lanner-edge lanner-edge-${e.kind}`, focusable: false, selectable: false,
    markerEnd: { type: "arrowclosed", color: EDGE_COLOURS[e.kind] || EDGE_COLOURS.sequence, width: 14, height: 14 },
  }));
  return { nodes, edges };
}

function Graph({ topo, states, selected, palette, onSelect }) {
  const rf = useReactFlow();
  const { nodes, edges } = useMemo(() => toReactFlow(topo, states, selected, palette, onSelect),
    [topo, states, selected, palette, onSelect]);
  const fitted = useRef("");
  const key = `${(topo.flow || {}).namespace}/${(topo.flow || {}).id}/${topo.width}x${topo.height}`;
  useEffect(() => {
    if (!nodes.length || fitted.current === key) return;
    fitted.current = key;
    requestAnimationFrame(() => rf.fitView({ padding: 0.04, maxZoom: 1, duration: 0 }));
  }, [nodes, key, rf]);
  return (
    <ReactFlow nodes={nodes} edges={edges} nodeTypes={NODE_TYPES} edgeTypes={EDGE_TYPES} nodesDraggable={false}
      nodesConnectable={false} elementsSelectable={false} nodesFocusable={false} edgesFocusable={false}
      disableKeyboardA11y deleteKeyCode={null} zoomOnDoubleClick={false} preventScrolling={false}
      minZoom={0.05} maxZoom={2} proOptions={{ hideAttribution: true }}
      aria-label={`Topology of ${(topo.flow || {}).namespace ?? ""}.${(topo.flow || {}).id ?? ""}`}>
      <Controls showInteractive={false} position="bottom-left" />
      {nodes.length > 12
        ? <MiniMap position="bottom-right" pannable zoomable
          nodeColor={(n) => (n.data.n.kind === "branch-label" ? "transparent" : n.data.st ? n.data.st.colour : "#cbd5e1")} />
        : null}
    </ReactFlow>
  );
}

export function TopologyView(props) {
  const { topo } = props;
  if (!(topo.nodes || []).length) return <div className="lanner-empty">No tasks to draw.</div>;
  // Tall enough for the whole flow at full size, within reason; zoom and pan reach the rest.
  const height = Math.max(140, Math.min(460, (topo.height || 0) + 24));
  return (
    <div className="lanner-graph" style={{ height }}>
      <ReactFlowProvider><Graph {...props} /></ReactFlowProvider>
    </div>
  );
}
