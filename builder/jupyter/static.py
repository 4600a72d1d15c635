"""A static SVG/HTML picture of a flow topology (with execution state when known).

Notebook viewers that cannot run widgets (GitHub, nbviewer, JupyterLab on an
untrusted notebook) show the ``text/html`` entry of an output's mimebundle. This
module draws that entry from the same layout JSON the widget uses. The SVG goes in
as an ``<img>`` with a ``data:`` URI rather than inline: HTML sanitizers (JupyterLab's
for untrusted notebooks among them) drop inline ``<svg>`` but keep images, and an
image cannot carry scripts.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from builder.topology import PENDING_COLOUR, format_duration

_EDGE_COLOURS = {"sequence": "#94a3b8", "dag": "#6366f1", "error": "#ef4444"}


def _clip(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def topology_svg(topology: dict[str, Any], states: dict[str, dict[str, Any]] | None = None) -> str:
    """The topology as one standalone ``<svg>`` element."""
    states = states or {}
    nodes = topology.get("nodes") or []
    by_id = {n["id"]: n for n in nodes}
    w, h = int(topology.get("width") or 0), int(topology.get("height") or 0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lanner-static-svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="system-ui, sans-serif" font-size="13">']
    out.append("<defs>" + "".join(
        f'<marker id="lanner-static-{k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
        for k, c in _EDGE_COLOURS.items()) + "</defs>")
    for n in nodes:
        if n["kind"] == "container":
            out.append(_node(n, states.get(n["id"])))
    for e in topology.get("edges") or []:
        a, b = by_id.get(e["from"]), by_id.get(e["to"])
        if not a or not b:
            continue
        x1, y1 = a["x"] + a["width"], a["y"] + a["height"] / 2
        x2, y2 = b["x"], b["y"] + b["height"] / 2
        dx = max(16, (x2 - x1) / 2)
        colour = _EDGE_COLOURS.get(e["kind"], "#94a3b8")
        dash = ' stroke-dasharray="4 3"' if e["kind"] == "error" else ""
        out.append(f'<path d="M{x1},{y1} C{x1 + dx},{y1} {x2 - dx},{y2} {x2},{y2}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.5"{dash} marker-end="url(#lanner-static-{escape(e["kind"])})"/>')
    for n in nodes:
        if n["kind"] != "container":
            out.append(_node(n, states.get(n["id"])))
    out.append("</svg>")
    return "".join(out)


def _node(n: dict[str, Any], st: dict[str, Any] | None) -> str:
    colour = st["colour"] if st else PENDING_COLOUR
    state = escape(st["state"]) if st else ""
    head = (f'<g class="lanner-node" data-node-id="{escape(n["id"])}" data-kind="{escape(n["kind"])}" '
            f'data-state="{state}" transform="translate({n["x"]},{n["y"]})">')
    w, h = n["width"], n["height"]
    if n["kind"] == "branch-label":
        return (head + f'<rect width="{w}" height="{h}" rx="{h / 2}" fill="#f1f5f9" stroke="#94a3b8"/>'
                f'<text x="{w / 2}" y="{h / 2 + 4}" text-anchor="middle" font-size="11" fill="#475569" '
                f'font-style="italic">{escape(_clip(n["label"], 14))}</text></g>')
    title = f'<title>{escape(n["label"])} ({escape(n["type"])}){" — " + state if state else ""}</title>'
    label = escape(_clip(f'{n.get("icon") or ""} {n["label"]}', 21 if n["kind"] == "task" else max(8, w // 16)))
    info = [state, format_duration(st.get("duration"))] if st else []
    counts = ", ".join(f"{c} {s.lower()}" for s, c in ((st or {}).get("iterations") or {}).items())
    if n["kind"] == "container":
        meta = " · ".join(x for x in [*info, counts] if x)
        return (head + title + f'<rect width="{w}" height="{h}" rx="8" fill="#f8fafc" fill-opacity="0.6" '
                f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="5 3"/>'
                f'<rect width="{w}" height="26" rx="8" fill="{colour}" fill-opacity="{0.22 if st else 0.6}"/>'
                f'<text x="10" y="18" font-weight="600" fill="#0f172a">{label}</text>'
                f'<text x="{w - 10}" y="18" text-anchor="end" font-size="11" fill="#475569">{escape(meta)}</text></g>')
    parts = [n["type"], format_duration(st.get("duration")) if st else ""]
    if st and st.get("attempts", 0) > 1:
        parts.append(f'{st["attempts"]} attempts')
    if counts:
        parts.append(counts)
    meta = escape(_clip(" · ".join(p for p in parts if p), 30))
    return (head + title + f'<rect width="{w}" height="{h}" rx="8" fill="{colour}" fill-opacity="0.14" '
            f'stroke="{colour}" stroke-width="1.5"/><rect width="6" height="{h}" rx="3" fill="{colour}"/>'
            f'<text x="14" y="22" font-weight="600" fill="#0f172a">{label}</text>'
            f'<text x="14" y="42" font-size="11" fill="#475569">{meta}</text></g>')


def static_html(topology: dict[str, Any], states: dict[str, dict[str, Any]] | None = None,
                execution: dict[str, Any] | None = None) -> str:
    """The ``text/html`` fallback: a title line, the SVG, and the execution state if any."""
    flow = topology.get("flow") or {}
    title = escape(f'{flow.get("namespace") or ""}.{flow.get("id") or ""}')
    line = f"<strong>{title}</strong>"
    if execution and execution.get("state"):
        colour = execution.get("colour") or PENDING_COLOUR
        line += (f' <span style="background:{colour};color:#fff;border-radius:10px;padding:0 8px;font-size:11px">'
                 f'{escape(execution["state"])}</span> <span style="color:#64748b">execution '
                 f'{escape(str(execution.get("id") or ""))} {escape(format_duration(execution.get("duration")))}</span>')
    svg = base64.b64encode(topology_svg(topology, states).encode()).decode()
    alt = f"Topology of {flow.get('namespace') or ''}.{flow.get('id') or ''}"
    if execution and execution.get("state"):
        alt += f", execution {execution.get('id') or ''} {execution['state']}"
    return (f'<div class="lanner-topology-static" style="font-family:system-ui,sans-serif;overflow:auto">'
            f'<div style="margin:4px 0">{line}</div>'
            f'<img class="lanner-topology-image" alt="{escape(alt)}" width="{int(topology.get("width") or 0)}" '
            f'height="{int(topology.get("height") or 0)}" style="max-width:none" '
            f'src="data:image/svg+xml;base64,{svg}"></div>')


def svg_from_html(html: str) -> str:
    """The SVG inside :func:`static_html` output (for tests and tools that inspect it)."""
    marker = "data:image/svg+xml;base64,"
    start = html.index(marker) + len(marker)
    return base64.b64decode(html[start:html.index('"', start)]).decode()
