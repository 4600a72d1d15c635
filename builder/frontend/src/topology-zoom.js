// Zoom, pan, fit and a minimap for one topology drawing, on d3-zoom.
//
// The drawing is plain SVG (topology-widget.js): a notebook saves the widget's code with the
// notebook, so the topology stays small (a React Flow build weighs about ten times more there,
// see README "Builder"). Ctrl (or ⌘) + wheel zooms, so that the wheel alone still scrolls the
// notebook or page; dragging pans; the buttons zoom and fit. The view survives redraws (live
// state updates redraw the SVG) and fits again when another flow is drawn.

import { select } from "d3-selection";
import { zoom, zoomIdentity } from "d3-zoom";

const PAD = 8;
const MIN_HEIGHT = 140;
const MAX_HEIGHT = 460;
const MINIMAP_NODES = 12;
const MINIMAP = { width: 160, height: 100 };

/** The height the drawing takes on the page: the whole flow at full size, within reason. */
export function viewHeight(topo) {
  return Math.max(MIN_HEIGHT, Math.min(MAX_HEIGHT, (topo.height || 0) + 2 * PAD));
}

export class Viewport {
  constructor(host) {
    this.host = host;
    this.transform = null;
    this.key = "";
    this.userMoved = false;
    // The extent from the element's box: d3's default reads the SVG's width attribute, "100%",
    // which throws ("Could not resolve relative length") once a redraw has replaced that SVG.
    this.behaviour = zoom().scaleExtent([0.05, 2])
      .extent(function extent() { return [[0, 0], [this.clientWidth || 1, this.clientHeight || 1]]; })
      .filter((ev) => (ev.type === "wheel" ? ev.ctrlKey || ev.metaKey : !ev.button))
      .on("zoom", (ev) => {
        this.transform = ev.transform;
        if (ev.sourceEvent) this.userMoved = true;
        this.paint();
      });
    this.resized = new ResizeObserver(() => { if (!this.userMoved) this.fit(); });
    this.resized.observe(host);
  }

  /** Attach to a freshly drawn SVG: `view` is the group the transform moves, `graphId` the drawing's id. */
  attach(svgEl, view, graphId, topo, nodeCount) {
    this.svg = svgEl;
    this.view = view;
    this.topo = topo;
    const key = `${topo.flow?.namespace}/${topo.flow?.id}/${topo.width}x${topo.height}`;
    if (key !== this.key) {
      this.key = key;
      this.transform = null;
      this.userMoved = false;
    }
    select(svgEl).call(this.behaviour).on("dblclick.zoom", null);
    this.drawControls();
    this.drawMinimap(graphId, nodeCount);
    if (this.transform) select(svgEl).call(this.behaviour.transform, this.transform);
    else this.fit();
  }

  size() {
    return { w: this.svg?.clientWidth || 0, h: this.svg?.clientHeight || 0 };
  }

  /** The whole flow in view, never larger than full size. */
  fit() {
    const { w, h } = this.size();
    if (!this.svg || !w || !h || !this.topo) return;
    const k = Math.min(1, (w - 2 * PAD) / Math.max(1, this.topo.width), (h - 2 * PAD) / Math.max(1, this.topo.height));
    // Full size: from the top left, as the flow reads; scaled down: centred.
    const x = k < 1 ? Math.max(PAD, (w - this.topo.width * k) / 2) : PAD;
    select(this.svg).call(this.behaviour.transform, zoomIdentity.translate(x, PAD).scale(k));
    this.userMoved = false;
  }

  zoomBy(factor) {
    if (this.svg) select(this.svg).call(this.behaviour.scaleBy, factor);
    this.userMoved = true;
  }

  drawControls() {
    if (this.controls) return;
    const bar = document.createElement("div");
    bar.className = "lanner-zoom";
    for (const [action, text, title] of [["in", "+", "Zoom in"], ["out", "−", "Zoom out"], ["fit", "⤢", "Fit the flow"]]) {
      const b = document.createElement("button");
      Object.assign(b, { type: "button", textContent: text, title });
      b.dataset.zoom = action;
      b.setAttribute("aria-label", title);
      b.addEventListener("click", () => (action === "fit" ? this.fit() : this.zoomBy(action === "in" ? 1.25 : 0.8)));
      bar.append(b);
    }
    this.controls = bar;
    this.host.append(bar);
  }

  drawMinimap(graphId, nodeCount) {
    this.minimap?.remove();
    this.minimap = null;
    if (nodeCount <= MINIMAP_NODES || !this.topo) return;
    const NS = "http://www.w3.org/2000/svg";
    const map = document.createElementNS(NS, "svg");
    map.setAttribute("class", "lanner-minimap");
    map.setAttribute("width", MINIMAP.width);
    map.setAttribute("height", MINIMAP.height);
    const s = Math.min(MINIMAP.width / this.topo.width, MINIMAP.height / this.topo.height);
    const g = document.createElementNS(NS, "g");
    g.setAttribute("transform", `scale(${s})`);
    const use = document.createElementNS(NS, "use");
    use.setAttribute("href", `#${graphId}`);
    const frame = document.createElementNS(NS, "rect");
    frame.setAttribute("class", "lanner-minimap-view");
    g.append(use, frame);
    map.append(g);
    // A click centres the main view on that point of the flow.
    map.addEventListener("click", (ev) => {
      const box = map.getBoundingClientRect();
      select(this.svg).call(this.behaviour.translateTo, (ev.clientX - box.left) / s, (ev.clientY - box.top) / s);
      this.userMoved = true;
    });
    this.minimap = map;
    this.minimapFrame = frame;
    this.host.append(map);
  }

  paint() {
    if (!this.view || !this.transform) return;
    this.view.setAttribute("transform", this.transform.toString());
    if (this.minimapFrame) {
      const { w, h } = this.size();
      const t = this.transform;
      for (const [k, v] of Object.entries({ x: -t.x / t.k, y: -t.y / t.k, width: w / t.k, height: h / t.k })) {
        this.minimapFrame.setAttribute(k, String(v));
      }
    }
  }

  close() {
    this.resized.disconnect();
  }
}
