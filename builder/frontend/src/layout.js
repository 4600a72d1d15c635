// Lay a flow out as nested boxes for React Flow, with elkjs's layered algorithm.
//
// The flow is a tree of lists (tasks, then, cases.x, errors...) holding tasks, some of which
// are containers holding more lists. Boxes are computed bottom-up: a leaf task has a fixed
// size; a list is a row of tasks joined by sequence edges (wrapped onto several rows when
// long), a dag laid out by ELK's layered algorithm from its dependsOn edges, or a stack (the
// branches of a parallel); a container is a header above its branch boxes. Drop slots (where a dragged
// task can go) sit in the gaps ELK leaves between items. Every box's position is relative to
// its parent box, which is what React Flow wants for child nodes.
//
// Nothing here knows a task type: which lists a task holds comes from `edits.childListKeys`,
// fed by the container spec the Python side sends (builder/canvas/flow_edit.py).

import ELK from "elkjs/lib/elk.bundled.js"

export const SIZES = {
  taskW: 210, taskH: 64,
  gap: 48, slotW: 26, rowPadX: 40, rowPadY: 12,
  colGap: 26, colSlotH: 16, colPad: 24,
  emptyW: 170, emptyH: 52,
  header: 46, pad: 10, branchLabel: 22, branchGap: 8, chips: 30,
  laneLabel: 128, laneGap: 14,
  slotH: 44, rowGap: 40, maxRowWidth: 2600,
}

const LANES = [
  ["triggers", "Triggers", "What starts the flow"],
  ["tasks", "Tasks", "Run from left to right"],
  ["errors", "On failure", "Run when a task fails"],
  ["finally", "Always at the end", "Run whatever happened"],
  ["afterExecution", "After the execution", "Run once the execution has ended"],
]
// The canvas's own wording for the lists every container has (other lists show their declared label).
const COMMON_WORDING = {errors: "on failure", finally: "finally"}

let elk = null
const engine = () => (elk ||= new ELK())

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v)
export const nodeId = (path) => "n" + JSON.stringify(path)
export const listId = (listPath) => "l" + JSON.stringify(listPath)

// ------------------------------------------------------------------ boxes

// A box: {id, kind, x, y, w, h, data, children: [box], edges: [[from, to, kind, extra]]}

async function layoutTask(edits, task, path, ctx) {
  const keys = ctx.trigger ? [] : edits.childListKeys(task)
  const id = nodeId(path)
  if (!keys.length) return {id, kind: "task", x: 0, y: 0, w: SIZES.taskW, h: SIZES.taskH, children: [], edges: [],
    data: {path, task, trigger: !!ctx.trigger, dagPath: ctx.dagPath || null}}
  const kind = edits.kindOf(task.type)
  // The declared child lists of the type ({name, shape, label, parallel}): shapes, not type names, decide the drawing.
  const decls = new Map(edits.listsOf(task).map((c) => [c.name, c]))
  const hasMap = edits.listOfShape(task, "map") !== null
  const main = keys.filter((k) => !(k[0] in COMMON_WORDING))
  const single = main.length === 1 && !hasMap
  const chips = []
  const branchKeys = []
  for (const k of keys) {
    const name = k[0]
    if (name in COMMON_WORDING && !Array.isArray(edits.getKeys(task, k))) chips.push(name)
    else branchKeys.push(k)
  }
  const branches = await Promise.all(branchKeys.map(async (k) => {
    const listPath = [...path, ...k]
    const name = k[0]
    const decl = decls.get(name) || {name, shape: "list", label: name, parallel: false}
    const label = decl.shape === "map" ? `${decl.label || name} ${k[1]}`
      : single && decl.label == null ? null : COMMON_WORDING[name] || decl.label || name
    const mode = decl.shape === "graph" ? "dag" : decl.parallel ? "col" : "row"
    const list = await layoutList(edits, edits.getKeys(task, k), listPath, mode, {dagPath: mode === "dag" ? path : null})
    const top = label ? SIZES.branchLabel : 0
    for (const c of list.children) c.y += top
    return {id: listId(listPath), kind: "branch", x: SIZES.pad, y: 0, w: list.w, h: list.h + top, children: list.children,
      edges: list.edges, data: {listPath, label, branch: k.join(".")}}
  }))
  let y = SIZES.header
  let w = SIZES.taskW
  for (const b of branches) {
    b.y = y
    y += b.h + SIZES.branchGap
    w = Math.max(w, b.w + 2 * SIZES.pad)
  }
  for (const b of branches) b.w = w - 2 * SIZES.pad
  const hasChips = chips.length > 0 || hasMap
  const h = y - (branches.length ? SIZES.branchGap : 0) + SIZES.pad + (hasChips ? SIZES.chips : 0)
  return {id, kind: "container", x: 0, y: 0, w, h, children: branches, edges: [],
    data: {path, task, containerKind: kind, hasCases: hasMap, chips, dagPath: ctx.dagPath || null}}
}

function slot(listPath, index, x, y, w, h, extra = {}) {
  return {id: `s${JSON.stringify(listPath)}#${index}`, kind: "slot", x, y, w, h, children: [], edges: [],
    data: {listPath, index, ...extra}}
}

async function layoutList(edits, list, listPath, mode, ctx) {
  const items = Array.isArray(list) ? list : []
  const trigger = !!ctx.trigger
  if (!items.length) {
    const w = SIZES.emptyW + 2 * SIZES.pad, h = SIZES.emptyH + 2 * SIZES.rowPadY
    return {w, h, children: [slot(listPath, 0, SIZES.pad, SIZES.rowPadY, SIZES.emptyW, SIZES.emptyH,
      {empty: true, trigger, text: trigger ? "Drop a trigger here" : "Drop a task here"})], edges: []}
  }
  const boxes = await Promise.all(items.map((item, i) => {
    if (mode === "dag") {
      if (!edits.isDagItem(item)) return null
      return layoutTask(edits, item.task, [...listPath, i, "task"], ctx)
    }
    if (!isObj(item)) return {id: nodeId([...listPath, i]), kind: "bad", x: 0, y: 0, w: SIZES.taskW, h: SIZES.taskH,
      children: [], edges: [], data: {text: String(item)}}
    return layoutTask(edits, item, [...listPath, i], ctx)
  }))
  if (mode === "col") return stackColumn(boxes, listPath, trigger)
  if (mode === "dag") return layoutDag(edits, items, boxes, listPath)
  return layoutRow(boxes, listPath, trigger, ctx.maxRowWidth || SIZES.maxRowWidth)
}

function stackColumn(boxes, listPath, trigger) {
  const w = Math.max(...boxes.map((b) => b.w))
  const children = []
  let y = SIZES.colPad
  boxes.forEach((b, i) => {
    children.push(slot(listPath, i, SIZES.pad, y - SIZES.colSlotH - (SIZES.colGap - SIZES.colSlotH) / 2, w, SIZES.colSlotH,
      {vertical: true, trigger}))
    b.x = SIZES.pad
    b.y = y
    children.push(b)
    y += b.h + SIZES.colGap
  })
  children.push(slot(listPath, boxes.length, SIZES.pad, y - SIZES.colSlotH - (SIZES.colGap - SIZES.colSlotH) / 2, w,
    SIZES.colSlotH, {vertical: true, trigger}))
  return {w: w + 2 * SIZES.pad, h: y - SIZES.colGap + SIZES.colPad, children, edges: []}
}

// A dag's columns come from ELK's layered algorithm (layers by dependsOn, crossings minimised).
// Edges are drawn by React Flow, so ELK is not asked to route them.
const DAG_OPTIONS = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.edgeRouting": "POLYLINE",
  "elk.layered.spacing.nodeNodeBetweenLayers": String(SIZES.gap),
  "elk.spacing.nodeNode": "24",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  "elk.padding": `[top=${SIZES.rowPadY},left=${SIZES.rowPadX / 2},bottom=${SIZES.rowPadY},right=${SIZES.rowPadX / 2}]`,
}

async function runElk(boxes, edges) {
  const graph = {
    id: "root", layoutOptions: DAG_OPTIONS,
    children: boxes.map((b) => ({id: b.id, width: b.w, height: b.h})),
    edges: edges.map(([s, t], i) => ({id: `e${i}`, sources: [s], targets: [t]})),
  }
  const out = await engine().layout(graph)
  const pos = new Map(out.children.map((c) => [c.id, c]))
  for (const b of boxes) {
    const p = pos.get(b.id)
    b.x = p.x
    b.y = p.y
  }
  return {w: out.width, h: out.height}
}

// A sequence is a row, wrapped onto several rows when it gets wider than `maxRowWidth`. Placed by
// hand: ELK's layered algorithm gives the same picture for a chain but takes 0.4-1.5 s for 200
// tasks in a browser, where this takes well under a millisecond (bench/b7_canvas.py).
function layoutRow(boxes, listPath, trigger, maxRowWidth) {
  const rows = [[]]
  let x = SIZES.rowPadX
  for (const b of boxes) {
    if (rows[rows.length - 1].length && x + b.w > maxRowWidth) {
      rows.push([])
      x = SIZES.rowPadX
    }
    rows[rows.length - 1].push(b)
    b.x = x
    x += b.w + SIZES.gap
  }
  let y = SIZES.rowPadY
  let w = 0
  for (const row of rows) {
    const h = Math.max(...row.map((b) => b.h))
    for (const b of row) b.y = y + (h - b.h) / 2
    const last = row[row.length - 1]
    w = Math.max(w, last.x + last.w + SIZES.rowPadX)
    y += h + SIZES.rowGap
  }
  const seq = []
  for (let i = 1; i < boxes.length; i++) seq.push([boxes[i - 1].id, boxes[i].id, "seq"])
  const children = []
  const slotAt = (i, b, left) => {
    const cy = b.y + b.h / 2
    children.push(slot(listPath, i, left, cy - SIZES.slotH / 2, SIZES.slotW, SIZES.slotH, {trigger}))
  }
  boxes.forEach((b, i) => {
    const prev = boxes[i - 1]
    const sameRow = prev && prev.x < b.x
    slotAt(i, b, sameRow ? (prev.x + prev.w + b.x) / 2 - SIZES.slotW / 2 : b.x - SIZES.gap / 2 - SIZES.slotW / 2)
    children.push(b)
  })
  const last = boxes[boxes.length - 1]
  slotAt(boxes.length, last, last.x + last.w + (SIZES.rowPadX - SIZES.slotW) / 2)
  return {w, h: y - SIZES.rowGap + SIZES.rowPadY, children, edges: seq}
}

async function layoutDag(edits, items, boxes, listPath) {
  const dagPath = listPath.slice(0, -1)
  const present = boxes.filter(Boolean)
  const idOf = new Map()
  items.forEach((it, i) => { if (boxes[i]) idOf.set(String(it.task.id), boxes[i].id) })
  const deps = []
  items.forEach((it, i) => {
    if (!boxes[i] || !Array.isArray(it.dependsOn)) return
    for (const from of it.dependsOn) {
      if (idOf.has(String(from))) {
        deps.push([idOf.get(String(from)), boxes[i].id, "dag", {from: String(from), to: String(it.task.id), dagPath}])
      }
    }
  })
  const end = {id: `${listId(listPath)}#end`, w: SIZES.emptyW * 0.6, h: SIZES.taskH}
  const sinks = present.filter((b) => !deps.some(([s]) => s === b.id))
  const size = await runElk([...present, end], [...deps, ...sinks.map((b) => [b.id, end.id])])
  const children = [...present,
    slot(listPath, items.length, end.x, end.y, end.w, end.h, {empty: true, dag: true, text: "+ task"})]
  return {w: size.w, h: size.h, children, edges: deps}
}

// ------------------------------------------------------------------ the flow

// Boxes of the whole flow: one lane per flow-level list, stacked.
export async function layoutFlow(edits, flow, {readonly = false, triggers = true} = {}) {
  const lanes = []
  for (const [name, label, sub] of LANES) {
    const trigger = name === "triggers"
    const present = Array.isArray(flow[name])
    if (trigger && readonly && !present) continue
    if (trigger && !triggers && !present) continue
    if (readonly && name !== "tasks" && !(present && flow[name].length)) continue
    lanes.push([name, label, sub, trigger])
  }
  const lists = await Promise.all(lanes.map(([name, , , trigger]) => layoutList(edits, flow[name], [name], "row", {trigger})))
  const out = []
  let y = 0
  let width = 0
  lanes.forEach(([name, label, sub], i) => {
    const list = lists[i]
    for (const c of list.children) c.x += SIZES.laneLabel
    const h = Math.max(list.h, 56)
    out.push({id: `lane:${name}`, kind: "lane", x: 0, y, w: SIZES.laneLabel + list.w, h, children: list.children,
      edges: list.edges, data: {name, label, sub}})
    width = Math.max(width, SIZES.laneLabel + list.w)
    y += h + SIZES.laneGap
  })
  for (const lane of out) lane.w = width
  return {lanes: out, width, height: y - SIZES.laneGap}
}

// Flatten boxes into React Flow nodes (parents first) and edges.
export function toReactFlow(layout) {
  const nodes = []
  const edges = []
  const walk = (box, parentId) => {
    nodes.push({
      id: box.id, type: box.kind, position: {x: box.x, y: box.y}, parentId: parentId || undefined,
      data: box.data, width: box.w, height: box.h, style: {width: box.w, height: box.h},
      draggable: false, selectable: false, connectable: false, focusable: false,
    })
    for (const [source, target, kind, extra] of box.edges) {
      edges.push({id: `${kind}:${source}->${target}`, source, target, type: kind, data: extra || {},
        focusable: false, selectable: false})
    }
    for (const c of box.children) walk(c, box.id)
  }
  for (const lane of layout.lanes) walk(lane, null)
  return {nodes, edges}
}
