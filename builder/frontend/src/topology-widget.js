// Lanner flow topology widget: the entry of builder/canvas/bundle/topology.js.
//
// An ES module following the anywidget contract (`render({ model, el })`) with no Jupyter-specific
// API, so that the web builder loads the very same bundle through Panel's AnyWidgetComponent and
// draws flows exactly as notebooks do. The drawing is plain SVG from the layout builder/topology.py
// computes (the picture the static fallback shows); d3-zoom adds zoom, pan, fit and a minimap
// (topology-zoom.js). Not React Flow: a notebook stores this code with every saved notebook, and
// the whole bundle must stay a few tens of kilobytes.
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
//   gantt      {executionId, rows: [{label, state, start, end, duration, attempts}], start, end, dropped}
//              (times in ms since the epoch; builder/jupyter/gantt.py), drawn here as SVG
//   files_url  base URL of the server that serves the execution's files ("" : ask the kernel)
//
// Every render uses its own SVG ids: `url(#id)` resolves to the first element with that id in the
// whole page, so ids shared by two widgets break one's arrowheads when the other's SVG is hidden.
// A click on a file link with no `files_url` sends {kind: "download", uri} to the kernel, which
// answers {kind: "file", uri, name} with the bytes as a buffer (or {kind: "file", uri, error}).

import "./topology.css";

import { Viewport, viewHeight } from "./topology-zoom.js";

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

let renders = 0;

function drawTopology(host, topo, states, selected, onSelect, palette, uid, viewport) {
  host.querySelector(":scope > .lanner-svg, :scope > .lanner-empty")?.remove();
  const nodes = topo.nodes || [];
  if (!nodes.length) {
    host.prepend(html("div", { class: "lanner-empty" }, null, "No tasks to draw."));
    return;
  }
  const root = svg("svg", {
    class: "lanner-svg", width: "100%", height: viewHeight(topo), role: "img",
    "aria-label": `Topology of ${topo.flow?.namespace ?? ""}.${topo.flow?.id ?? ""}`,
  });
  host.prepend(root);
  const defs = svg("defs", {}, root);
  for (const kind of ["sequence", "dag", "error"]) {
    const marker = svg("marker", {
      id: `${uid}-arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
    }, defs);
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: `lanner-arrow lanner-arrow-${kind}` }, marker);
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  // The view group takes the zoom transform; the graph inside it is what the minimap shows.
  const view = svg("g", { class: "lanner-viewport" }, root);
  const graph = svg("g", { id: `${uid}-graph` }, view);
  const containers = svg("g", { class: "lanner-containers" }, graph);
  const edges = svg("g", { class: "lanner-edges" }, graph);
  const leaves = svg("g", { class: "lanner-leaves" }, graph);

  for (const e of topo.edges || []) {
    const a = byId.get(e.from), b = byId.get(e.to);
    if (!a || !b) continue;
    svg("path", {
      d: edgePath(a, b), class: `lanner-edge lanner-edge-${e.kind}`,
      "data-from": e.from, "data-to": e.to, "marker-end": `url(#${uid}-arrow-${e.kind})`,
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
  viewport.attach(root, view, `${uid}-graph`, topo, nodes.length);
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

// (label, uri) of every internal-storage file in a run's outputs, e.g. ("notebook", "lanner:///...").
function storedFiles(value, path = "") {
  if (typeof value === "string") return value.startsWith("lanner://") ? [[path, value]] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => storedFiles(v, `${path}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => storedFiles(v, path ? `${path}.${k}` : k));
  }
  return [];
}

const FILE_LABELS = { notebook: "Executed notebook", report: "HTML report" };

function drawFiles(host, model, runs, download) {
  const found = runs.flatMap((r) => storedFiles(r.outputs || {}).map(([label, uri]) => [r, label, uri]));
  if (!found.length) return;
  const sec = html("div", { class: "lanner-section lanner-files" }, host);
  html("h4", {}, sec, "Files");
  const base = model.get("files_url") || ""; // "/" : the API of the page's own server
  const ex = (model.get("execution") || {}).id;
  for (const [run, label, uri] of found) {
    const row = html("div", { class: "lanner-file" }, sec);
    if (runs.length > 1 && run.value !== null && run.value !== undefined) html("code", {}, row, run.value);
    const name = uri.split("/").pop();
    const text = `${FILE_LABELS[label] || label} (${name})`;
    if (base && ex) {
      const href = `${base.replace(/\/+$/, "")}/api/v1/executions/${encodeURIComponent(ex)}/file?path=${encodeURIComponent(uri)}`;
      html("a", { class: "lanner-file-link", href, target: "_blank", rel: "noopener", "data-uri": uri }, row, text);
    } else {
      const a = html("a", { class: "lanner-file-link", href: "#", "data-uri": uri, title: uri }, row, text);
      a.addEventListener("click", (ev) => { ev.preventDefault(); download(uri, a); });
    }
  }
}

function drawDetails(host, model, download) {
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
  drawFiles(host, model, runs, download);
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

function timeLabel(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

// The execution's task runs as bars on a time axis (one row each), coloured by state.
function drawGanttChart(host, data, palette) {
  const rows = data.rows || [];
  const labelWidth = 170, width = 760, rowHeight = 22, top = 24;
  const span = Math.max(1, (data.end ?? 0) - (data.start ?? 0));
  const x = (ms) => labelWidth + ((ms - data.start) / span) * (width - labelWidth - 10);
  const root = svg("svg", {
    class: "lanner-gantt-svg", width, height: top + rows.length * rowHeight + 6,
    viewBox: `0 0 ${width} ${top + rows.length * rowHeight + 6}`, role: "img", "aria-label": "Gantt chart",
  }, host);
  for (let i = 0; i <= 4; i++) {
    const ms = data.start + (span * i) / 4;
    svg("line", { x1: x(ms), x2: x(ms), y1: top - 4, y2: top + rows.length * rowHeight, class: "lanner-gantt-grid" }, root);
    const t = svg("text", { x: x(ms), y: 14, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle", class: "lanner-meta" }, root);
    t.textContent = timeLabel(ms);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    const g = svg("g", { class: "lanner-gantt-row", "data-label": r.label, "data-state": r.state || "" }, root);
    const label = svg("text", { x: labelWidth - 8, y: y + 15, "text-anchor": "end", class: "lanner-meta" }, g);
    label.textContent = clip(r.label, 26);
    svg("rect", {
      x: x(r.start), y: y + 3, width: Math.max(2, x(r.end) - x(r.start)), height: rowHeight - 6, rx: 3,
      fill: palette[r.state] || PENDING,
    }, g);
    const tip = svg("title", {}, g);
    tip.textContent = `${r.label}: ${r.state} · ${r.duration}` + (r.attempts > 1 ? ` · ${r.attempts} attempts` : "");
  });
  if (data.dropped) html("div", { class: "lanner-hint" }, host, `${data.dropped} earlier task runs are not shown.`);
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
  const uid = `lanner-${++renders}-${Math.random().toString(36).slice(2, 8)}`;
  const root = html("div", { class: "lanner-flow" }, el);
  const bar = html("div", { class: "lanner-toolbar" }, root);
  const header = html("div", { class: "lanner-header" }, bar);
  const tabs = html("div", { class: "lanner-tabs", role: "tablist" }, bar);
  const topoTab = html("button", { type: "button", class: "lanner-tab", "data-view": "topology" }, tabs, "Topology");
  const ganttTab = html("button", { type: "button", class: "lanner-tab", "data-view": "gantt" }, tabs, "Gantt");
  const canvas = html("div", { class: "lanner-canvas" }, root);
  const viewport = new Viewport(canvas);
  const gantt = html("div", { class: "lanner-gantt" }, root);
  const details = html("div", { class: "lanner-details" }, root);
  let localView = model.get("view") || "topology";
  const pending = new Map(); // uri -> the link waiting for the kernel's answer

  const download = (uri, link) => {
    pending.set(uri, link);
    link.classList.add("lanner-loading");
    model.send({ kind: "download", uri });
  };
  const onMessage = (msg, buffers) => {
    if (!msg || msg.kind !== "file" || !pending.has(msg.uri)) return;
    const link = pending.get(msg.uri);
    pending.delete(msg.uri);
    link.classList.remove("lanner-loading");
    if (msg.error || !buffers || !buffers.length) {
      link.title = msg.error || "the kernel sent no data";
      link.classList.add("lanner-file-error");
      return;
    }
    const url = URL.createObjectURL(new Blob([buffers[0]]));
    const a = html("a", { href: url, download: msg.name || "file" }, root);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  };

  const select = (id) => {
    model.set("selected", model.get("selected") === id ? "" : id);
    model.save_changes();
    redraw();
  };
  const redraw = () => {
    drawHeader(header, model);
    drawTopology(canvas, model.get("topology") || {}, model.get("states") || {}, model.get("selected"), select,
      model.get("palette") || {}, uid, viewport);
    drawDetails(details, model, download);
  };
  const drawGantt = () => {
    gantt.replaceChildren();
    const data = model.get("gantt") || {};
    if ((data.rows || []).length) {
      drawGanttChart(gantt, data, model.get("palette") || {});
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
    ["change:gantt", onGantt], ["change:files_url", redraw], ["msg:custom", onMessage],
  ];
  for (const [name, fn] of events) model.on(name, fn);
  redraw();
  showView();
  return () => {
    for (const [name, fn] of events) model.off(name, fn);
    viewport.close();
  };
}

export default { render };
