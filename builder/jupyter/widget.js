// Lanner flow topology widget.
//
// Plain ES module following the anywidget contract (`render({ model, el })`), with no build
// step and no Jupyter-specific API, so that the web builder can load the very same file
// through Panel's AnyWidgetComponent and draw flows exactly as notebooks do.
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

const SVG_NS = "http://www.w3.org/2000/svg";
const PENDING = "#e2e8f0";

function svg(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function html(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null && text !== undefined) node.textContent = String(text);
  if (parent) parent.appendChild(node);
  return node;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.floor(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  const sec = Math.floor(seconds % 60);
  if (minutes < 60) return `${minutes}m ${String(sec).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

function clip(text, max) {
  text = String(text ?? "");
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function edgePath(a, b) {
  const x1 = a.x + a.width, y1 = a.y + a.height / 2;
  const x2 = b.x, y2 = b.y + b.height / 2;
  const dx = Math.max(16, (x2 - x1) / 2);
  return `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
}

// Iteration counts per state as small coloured chips, right-aligned at (right, y). Returns their width.
function drawChips(g, st, right, y, palette) {
  const counts = st && st.iterations ? Object.entries(st.iterations) : [];
  counts.forEach(([s, c], i) => {
    const chip = svg("g", { class: "lanner-chip", "data-state": s, transform: `translate(${right - 8 - i * 24},${y})` }, g);
    svg("circle", { r: 8, cx: 0, cy: 6, fill: palette[s] || PENDING }, chip);
    const ct = svg("text", { x: 0, y: 9.5, "text-anchor": "middle", class: "lanner-chip-text" }, chip);
    ct.textContent = String(c);
    const tip = svg("title", {}, chip);
    tip.textContent = `${c} ${s.toLowerCase()}`;
  });
  return counts.length * 24;
}

function drawTopology(host, topo, states, selected, onSelect, palette) {
  host.replaceChildren();
  const nodes = topo.nodes || [];
  if (!nodes.length) {
    html("div", { class: "lanner-empty" }, host, "No tasks to draw.");
    return;
  }
  const root = svg("svg", {
    class: "lanner-svg", width: topo.width, height: topo.height,
    viewBox: `0 0 ${topo.width} ${topo.height}`, role: "img",
    "aria-label": `Topology of ${topo.flow?.namespace ?? ""}.${topo.flow?.id ?? ""}`,
  }, host);
  const defs = svg("defs", {}, root);
  for (const kind of ["sequence", "dag", "error"]) {
    const marker = svg("marker", {
      id: `lanner-arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
    }, defs);
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: `lanner-arrow lanner-arrow-${kind}` }, marker);
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const containers = svg("g", { class: "lanner-containers" }, root);
  const edges = svg("g", { class: "lanner-edges" }, root);
  const leaves = svg("g", { class: "lanner-leaves" }, root);

  for (const e of topo.edges || []) {
    const a = byId.get(e.from), b = byId.get(e.to);
    if (!a || !b) continue;
    svg("path", {
      d: edgePath(a, b), class: `lanner-edge lanner-edge-${e.kind}`,
      "data-from": e.from, "data-to": e.to, "marker-end": `url(#lanner-arrow-${e.kind})`,
    }, edges);
  }

  for (const n of nodes) {
    const st = states[n.id];
    const colour = st ? st.colour : PENDING;
    const layer = n.kind === "container" ? containers : leaves;
    const g = svg("g", {
      class: `lanner-node lanner-kind-${n.kind}` + (selected === n.id ? " lanner-selected" : ""),
      "data-node-id": n.id, "data-kind": n.kind, "data-state": st ? st.state : "",
      transform: `translate(${n.x},${n.y})`,
    }, layer);
    if (n.kind === "branch-label") {
      svg("rect", { class: "lanner-branch", width: n.width, height: n.height, rx: n.height / 2 }, g);
      const t = svg("text", { x: n.width / 2, y: n.height / 2 + 4, "text-anchor": "middle", class: "lanner-branch-text" }, g);
      t.textContent = clip(n.label, 14);
      continue;
    }
    const title = svg("title", {}, g);
    title.textContent = `${n.label} (${n.type})` + (st ? ` — ${st.state}` : "");
    if (n.kind === "container") {
      svg("rect", {
        class: "lanner-box", width: n.width, height: n.height, rx: 8,
        stroke: colour, "data-colour": colour,
      }, g);
      svg("rect", { class: "lanner-box-header", width: n.width, height: 26, rx: 8, fill: colour, "fill-opacity": st ? 0.22 : 0.6 }, g);
      const chipsWidth = drawChips(g, st, n.width - 10, 7, palette);
      const labelText = clip(`${n.icon || ""} ${n.label}`, Math.floor((n.width - 20 - chipsWidth) / 8));
      const t = svg("text", { x: 10, y: 18, class: "lanner-label" }, g);
      t.textContent = labelText;
      // State and duration go between the label and the chips when there is room for them.
      const room = n.width - 30 - chipsWidth - labelText.length * 9;
      if (st && room > 48) {
        const meta = svg("text", { x: n.width - 14 - chipsWidth, y: 18, "text-anchor": "end", class: "lanner-meta" }, g);
        meta.textContent = clip([st.state, formatDuration(st.duration)].filter(Boolean).join(" · "), Math.floor(room / 6.5));
      }
    } else {
      svg("rect", {
        class: "lanner-task", width: n.width, height: n.height, rx: 8,
        stroke: colour, fill: colour, "data-colour": colour,
      }, g);
      svg("rect", { class: "lanner-stripe", width: 6, height: n.height, rx: 3, fill: colour }, g);
      const t = svg("text", { x: 14, y: 22, class: "lanner-label" }, g);
      t.textContent = clip(`${n.icon || ""} ${n.label}`, 21);
      const parts = [n.type];
      if (st) {
        parts.push(formatDuration(st.duration));
        if (st.attempts > 1) parts.push(`${st.attempts} attempts`);
      }
      const chipsWidth = drawChips(g, st, n.width - 10, 30, palette);
      const meta = svg("text", { x: 14, y: 42, class: "lanner-meta" }, g);
      meta.textContent = clip(parts.filter(Boolean).join(" · "), Math.floor((n.width - 24 - chipsWidth) / 6.5));
    }
    g.addEventListener("click", (ev) => {
      ev.stopPropagation();
      onSelect(n.id);
    });
  }
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
  const redraw = () => {
    drawHeader(header, model);
    drawTopology(canvas, model.get("topology") || {}, model.get("states") || {}, model.get("selected"), select,
      model.get("palette") || {});
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
  };
}

export default { render };
