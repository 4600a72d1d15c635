// Lanner flow topology widget: the entry of builder/canvas/bundle/topology.js.
//
// An ES module following the anywidget contract (`render({ model, el })`) with no Jupyter-specific
// API, so that the web builder loads the very same bundle through Panel's AnyWidgetComponent and
// draws flows exactly as notebooks do. The graph is drawn by React Flow (topology.jsx) from the
// layout builder/topology.py computes once, the same layout the static SVG fallback draws.
//
// Traits (all plain JSON):
//   topology   {flow, width, height, nodes: [{id, taskId, type, label, icon, x, y, width, height,
//               parent, kind, branch}], edges: [{from, to, kind}]}      (builder/topology.py)
//   states     {nodeId: {state, colour, duration, attempts, iterations, runs, values}}
//   details    {nodeId: {taskId, runs: [{id, value, state, attempts, outputs}], logs: [...]}}
//   execution  {id, namespace, flowId, state, colour, duration, outputs} or {}
//   selected   node id shown in the details panel ("" for none)
//   palette    {STATE: "#rrggbb"}: the one state palette (builder/topology.py STATE_COLOURS)
//   view       "topology" | "gantt"
//   gantt_html a self-contained HTML page (Bokeh, inline resources), drawn in an iframe

import "@xyflow/react/dist/style.css";
import "./topology.css";

import { createRoot } from "react-dom/client";

import { TopologyView, formatDuration } from "./topology.jsx";

export { formatDuration };

const PENDING = "#e2e8f0";

function html(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null && text !== undefined) node.textContent = String(text);
  if (parent) parent.appendChild(node);
  return node;
}

// Colours come from the `palette` trait (builder/topology.py STATE_COLOURS): one source of truth.
function badge(parent, state, palette) {
  const b = html("span", { class: "lanner-badge", "data-state": state }, parent, state);
  b.style.background = (palette || {})[state] || PENDING;
  return b;
}

function jsonBlock(parent, value) {
  html("pre", { class: "lanner-json" }, parent, JSON.stringify(value, null, 2));
}

function descendants(topo, rootId) {
  const kids = new Map();
  for (const n of topo.nodes || []) {
    if (!kids.has(n.parent)) kids.set(n.parent, []);
    kids.get(n.parent).push(n);
  }
  const out = [];
  const walk = (id) => (kids.get(id) || []).forEach((n) => { if (n.kind !== "branch-label") out.push(n); walk(n.id); });
  walk(rootId);
  return out;
}

function drawDetails(host, model) {
  host.replaceChildren();
  const palette = model.get("palette") || {};
  const id = model.get("selected");
  if (!id) {
    html("div", { class: "lanner-hint" }, host, "Click a task to see its outputs and logs.");
    return;
  }
  const topo = model.get("topology") || {};
  const node = (topo.nodes || []).find((n) => n.id === id);
  const st = (model.get("states") || {})[id];
  const det = (model.get("details") || {})[id] || { runs: [], logs: [] };
  const head = html("div", { class: "lanner-details-head" }, host);
  html("strong", {}, head, node ? `${node.icon || ""} ${node.label}` : id);
  html("span", { class: "lanner-type" }, head, node ? node.type : "");
  if (st) {
    badge(head, st.state, palette);
    html("span", { class: "lanner-meta-text" }, head,
      [formatDuration(st.duration), st.attempts > 1 ? `${st.attempts} attempts` : ""].filter(Boolean).join(" · "));
  } else {
    html("span", { class: "lanner-meta-text" }, head, "not run");
  }

  if (st && st.values && st.values.length) {
    const sec = html("div", { class: "lanner-section lanner-iterations" }, host);
    html("h4", {}, sec, `Iterations (${st.values.length})`);
    const inner = descendants(topo, id);
    const allDetails = model.get("details") || {};
    const allStates = model.get("states") || {};
    for (const it of st.values) {
      const item = html("details", { class: "lanner-iteration", "data-value": it.value }, sec);
      const sum = html("summary", {}, item);
      badge(sum, it.state, palette);
      html("code", {}, sum, it.value);
      html("span", { class: "lanner-meta-text" }, sum, formatDuration(it.duration));
      const table = html("table", {}, item);
      for (const child of inner) {
        const runs = ((allDetails[child.id] || {}).runs || []).filter((r) => String(r.value) === String(it.value));
        for (const r of runs) {
          const tr = html("tr", {}, table);
          html("td", {}, tr, child.label);
          badge(html("td", {}, tr), r.state, palette);
          html("td", { class: "lanner-json-cell" }, tr, JSON.stringify(r.outputs || {}));
        }
        if (!runs.length && allStates[child.id]) {
          const tr = html("tr", {}, table);
          html("td", {}, tr, child.label);
          html("td", {}, tr, "—");
        }
      }
    }
  }

  const runs = det.runs || [];
  if (runs.length) {
    const sec = html("div", { class: "lanner-section lanner-outputs" }, host);
    html("h4", {}, sec, "Outputs");
    const withOutputs = runs.filter((r) => Object.keys(r.outputs || {}).length);
    if (!withOutputs.length) html("div", { class: "lanner-hint" }, sec, "No outputs.");
    for (const r of withOutputs) {
      if (runs.length > 1 || r.value !== null) {
        const sub = html("div", { class: "lanner-run" }, sec);
        badge(sub, r.state, palette);
        html("code", {}, sub, r.value === null ? r.id : r.value);
      }
      jsonBlock(sec, r.outputs);
    }
  }
  const logs = det.logs || [];
  const sec = html("div", { class: "lanner-section lanner-logs" }, host);
  html("h4", {}, sec, `Logs (${logs.length})`);
  if (!logs.length) html("div", { class: "lanner-hint" }, sec, "No logs.");
  const table = html("table", {}, sec);
  for (const line of logs) {
    const tr = html("tr", { class: `lanner-log lanner-log-${String(line.level || "").toLowerCase()}` }, table);
    html("td", { class: "lanner-ts" }, tr, String(line.timestamp || "").replace("T", " ").slice(11, 23));
    html("td", { class: "lanner-level" }, tr, line.level);
    html("td", { class: "lanner-msg" }, tr, line.message);
  }
}

function drawHeader(host, model) {
  host.replaceChildren();
  const palette = model.get("palette") || {};
  const topo = model.get("topology") || {};
  const ex = model.get("execution") || {};
  const flow = topo.flow || {};
  html("span", { class: "lanner-title" }, host, `${flow.namespace ?? ""}.${flow.id ?? ""}`);
  if (ex.state) {
    badge(host, ex.state, palette).classList.add("lanner-execution-state");
    html("span", { class: "lanner-meta-text" }, host, [ex.id ? `execution ${ex.id}` : "", formatDuration(ex.duration)].filter(Boolean).join(" · "));
  }
  if (ex.message) html("span", { class: "lanner-message" }, host, ex.message);
}

function render({ model, el }) {
  const root = html("div", { class: "lanner-flow" }, el);
  const bar = html("div", { class: "lanner-toolbar" }, root);
  const header = html("div", { class: "lanner-header" }, bar);
  const tabs = html("div", { class: "lanner-tabs", role: "tablist" }, bar);
  const topoTab = html("button", { type: "button", class: "lanner-tab", "data-view": "topology" }, tabs, "Topology");
  const ganttTab = html("button", { type: "button", class: "lanner-tab", "data-view": "gantt" }, tabs, "Gantt");
  const canvas = html("div", { class: "lanner-canvas" }, root);
  const gantt = html("div", { class: "lanner-gantt" }, root);
  const details = html("div", { class: "lanner-details" }, root);
  let localView = model.get("view") || "topology";

  const select = (id) => {
    model.set("selected", model.get("selected") === id ? "" : id);
    model.save_changes();
    redraw();
  };
  const graph = createRoot(canvas);
  const redraw = () => {
    drawHeader(header, model);
    graph.render(<TopologyView topo={model.get("topology") || {}} states={model.get("states") || {}}
      selected={model.get("selected")} onSelect={select} palette={model.get("palette") || {}} />);
    drawDetails(details, model);
  };
  const drawGantt = () => {
    gantt.replaceChildren();
    const page = model.get("gantt_html");
    if (page) {
      const frame = html("iframe", { class: "lanner-gantt-frame", title: "Gantt chart", sandbox: "allow-scripts" }, gantt);
      frame.srcdoc = page;
    } else {
      html("div", { class: "lanner-hint" }, gantt,
        (model.get("execution") || {}).id ? "Building the Gantt chart… (it needs a running kernel)" : "Run the flow to see its Gantt chart.");
    }
  };
  const showView = () => {
    const isGantt = localView === "gantt";
    canvas.hidden = isGantt;
    gantt.hidden = !isGantt;
    topoTab.classList.toggle("lanner-active", !isGantt);
    ganttTab.classList.toggle("lanner-active", isGantt);
    if (isGantt) drawGantt();
  };
  for (const tab of [topoTab, ganttTab]) {
    tab.addEventListener("click", () => {
      localView = tab.dataset.view;
      model.set("view", localView);
      model.save_changes();
      showView();
    });
  }
  const onView = () => { localView = model.get("view") || "topology"; showView(); };
  const onGantt = () => { if (localView === "gantt") drawGantt(); };
  const events = [
    ["change:topology", redraw], ["change:states", redraw], ["change:details", redraw],
    ["change:execution", redraw], ["change:selected", redraw], ["change:view", onView],
    ["change:gantt_html", onGantt],
  ];
  for (const [name, fn] of events) model.on(name, fn);
  redraw();
  showView();
  return () => {
    for (const [name, fn] of events) model.off(name, fn);
    graph.unmount();
  };
}

export default { render };
