// The flow canvas of the web builder (Panel JSComponent builder.canvas.FlowCanvas), on React Flow.
//
// The flow lives in the Panel model (`model.flow`, Kestra YAML data). Every edit is one of the
// pure tree edits of edits.js (mirrors of builder/canvas/flow_edit.py); the result is assigned
// to `model.flow`, which Panel syncs to Python, and laid out again with elkjs (layout.js).
// Dragging uses the browser's own drag and drop (palette items, nodes, the dag port), so drop
// targets are ordinary elements: the slots between tasks and the "+ errors" chips. React Flow
// gives zoom, pan, fit, the minimap and the viewport a 500-task flow needs.

import {memo, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore} from "react"
import {
  Background, BaseEdge, Controls, Handle, MiniMap, Position, ReactFlow, ReactFlowProvider, getBezierPath, useReactFlow,
  useStore,
} from "@xyflow/react"

import {EditError, clone, isObj, makeEdits, startsWith} from "./edits.js"
import {layoutFlow, nodeId, toReactFlow} from "./layout.js"

const HISTORY_LIMIT = 200
// The flow Python sends carries its revision under this key, and each edit sent back the revision it was made on,
// so that the server can merge an edit made before a form change reached the canvas (component.py REVISION_KEY).
const REVISION_KEY = "__lanner_revision__"
// Each edit is numbered; Python's flows say the last edit it had taken in. A flow sent before Python saw the
// canvas's latest edit is passed over: the merged answer to that edit follows, and the edit never blinks out.
const EDIT_KEY = "__lanner_edit__"
const SEEN_KEY = "__lanner_seen__"
const FALLBACK_ICON = "🔧"

// ------------------------------------------------------------------ controller (model <-> React)

let canvases = 0

export class Controller {
  constructor(model) {
    this.model = model
    this.edits = makeEdits(model.container_spec || {})
    // React Flow names its SVG markers after this id; two canvases on a page must not share them.
    this.uid = `lc-${++canvases}-${Math.random().toString(36).slice(2, 8)}`
    this.revision = null  // null: the model is not versioned (e.g. the notebook's), edits go out as plain flows
    this.edits_sent = 0
    this.flow = this.readModel() || {}
    this.flowJson = JSON.stringify(this.flow)
    this.undoStack = []
    this.redoStack = []
    this.hint = ""
    this.version = 0
    this.listeners = new Set()
    this.snapshot = {}
    this.bump()
  }

  subscribe = (fn) => { this.listeners.add(fn); return () => this.listeners.delete(fn) }
  getSnapshot = () => this.snapshot
  bump() {
    this.version += 1
    this.snapshot = {version: this.version}
    for (const fn of this.listeners) fn()
  }

  get readonly() { return Boolean(this.model.readonly) }
  get selected() { return this.model.selected || "" }
  set selected(id) { this.model.selected = id || "" }

  say(text) {
    this.hint = text
    clearTimeout(this.hintTimer)
    this.hintTimer = setTimeout(() => { this.hint = ""; this.bump() }, 6000)
    this.bump()
  }

  // The model's flow without the exchange's keys; null when it answers an edit older than the latest one.
  readModel() {
    const raw = isObj(this.model.flow) ? this.model.flow : {}
    if (!(REVISION_KEY in raw)) return raw
    const {[REVISION_KEY]: revision, [SEEN_KEY]: seen, [EDIT_KEY]: _mine, ...flow} = raw
    if (typeof seen === "number" && seen < this.edits_sent) return null
    this.revision = revision
    return flow
  }

  apply(next) {
    this.flow = next
    this.flowJson = JSON.stringify(next)
    if (this.revision === null) {
      this.model.flow = next
    } else {
      this.edits_sent += 1
      this.model.flow = {...next, [REVISION_KEY]: this.revision, [EDIT_KEY]: this.edits_sent}
    }
    this.bump()
  }

  commit(next, select) {
    const json = JSON.stringify(next)
    if (json === this.flowJson) return
    this.undoStack.push(this.flowJson)
    if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift()
    this.redoStack.length = 0
    this.apply(next)
    if (select !== undefined) this.selected = select
  }

  attempt(fn) {
    try {
      fn()
    } catch (err) {
      if (err instanceof EditError) this.say(err.message)
      else throw err
    }
  }

  undo() {
    if (!this.undoStack.length) return
    this.redoStack.push(this.flowJson)
    this.apply(JSON.parse(this.undoStack.pop()))
    this.dropStaleSelection()
  }

  redo() {
    if (!this.redoStack.length) return
    this.undoStack.push(this.flowJson)
    this.apply(JSON.parse(this.redoStack.pop()))
    this.dropStaleSelection()
  }

  // The one task of the board in the Tab order (the selected one, else the first): arrows walk the others, so
  // Tab goes from the palette to the board to the side panel in a few presses, whatever the flow's size.
  tabStop() {
    const sel = this.selected
    if (sel && this.edits.findTask(this.flow, sel)) return sel
    if (this._stopFor !== this.flowJson) {
      this._stopFor = this.flowJson
      const first = this.edits.iterTasks(this.flow).next()
      this._stop = first.done ? "" : String(first.value[1].id)
    }
    return this._stop
  }

  dropStaleSelection() {
    if (this.selected && !this.edits.findTask(this.flow, this.selected)) this.selected = ""
  }

  // Python changed the flow (a form edit, the YAML editor, another flow loaded).
  fromModel() {
    const next = this.readModel()
    if (next === null) return
    const json = JSON.stringify(next)
    if (json === this.flowJson) return
    if (next.id !== this.flow.id || next.namespace !== this.flow.namespace) {
      this.undoStack.length = 0
      this.redoStack.length = 0
    } else {
      this.undoStack.push(this.flowJson)
      this.redoStack.length = 0
    }
    this.flow = next
    this.flowJson = json
    this.bump()
  }

  paletteIndex() {
    const tasks = new Map(), triggers = new Map()
    for (const item of this.model.palette || []) {
      const index = item.kind === "trigger" ? triggers : tasks
      for (const name of [item.type, ...(item.aliases || [])]) if (!index.has(name)) index.set(name, item)
    }
    return {tasks, triggers}
  }

  typeInfo(type, trigger) {
    const item = (trigger ? this.paletteIndex().triggers : this.index().tasks).get(type)
    return item || {icon: FALLBACK_ICON, title: String(type ?? "unknown type"), summary: ""}
  }

  index() {
    if (this._indexFor !== this.model.palette) {
      this._index = this.paletteIndex()
      this._indexFor = this.model.palette
    }
    return this._index
  }

  newTaskFrom(item) {
    const e = this.edits
    const task = {id: e.newId(item.type, [...e.allIds(this.flow), ...e.triggerIds(this.flow)])}
    for (const [k, v] of Object.entries(clone(item.template || {type: item.type}))) task[k] = v
    task.type = task.type || item.type
    return task
  }

  // Where a task added without dragging goes: after the selected task of the same kind, else at the end.
  addFromPalette(item) {
    const e = this.edits
    const lane = item.kind === "trigger" ? "triggers" : "tasks"
    let at = [lane, Array.isArray(this.flow[lane]) ? this.flow[lane].length : 0]
    const sel = this.selected ? e.findTask(this.flow, this.selected) : null
    if (sel && (sel[0] === "triggers") === (item.kind === "trigger")) {
      const path = sel[sel.length - 1] === "task" ? sel.slice(0, -1) : sel
      at = [...path.slice(0, -1), path[path.length - 1] + 1]
    }
    this.attempt(() => {
      const task = this.newTaskFrom(item)
      this.commit(e.insertTask(this.flow, at, task), task.id)
    })
  }

  nodeAction(path, action) {
    const e = this.edits
    this.attempt(() => {
      if (action === "delete") {
        this.commit(e.deleteTask(this.flow, path))
        this.dropStaleSelection()
      } else if (action === "duplicate") {
        const [next, newPath] = e.duplicateTask(this.flow, path)
        this.commit(next, String(e.getAt(next, newPath).id))
      } else if (action === "disable") {
        this.commit(e.toggleDisabled(this.flow, path))
      }
    })
  }
}

const useController = (ctl) => useSyncExternalStore(ctl.subscribe, ctl.getSnapshot)

// ------------------------------------------------------------------ nodes

function Actions({ctl, path, task}) {
  if (ctl.readonly) return null
  const id = String(task.id ?? "")
  const button = (action, label, text) => (
    <button type="button" className="nodrag nopan" data-action={action} title={label} aria-label={`${label} ${id}`}
      onClick={(e) => { e.stopPropagation(); ctl.nodeAction(path, action) }}>{text}</button>
  )
  return (
    <span className="lc-actions">
      {button("duplicate", "Duplicate", "❐")}
      {button("disable", task.disabled === true ? "Enable" : "Disable", "⊘")}
      {button("delete", "Delete", "✕")}
    </span>
  )
}

function nodeProps(ctl, data, extraClass) {
  const {task, path, trigger, dagPath} = data
  const id = task.id == null ? "" : String(task.id)
  const errors = ctl.model.errors || {}
  const msgs = id && Object.prototype.hasOwnProperty.call(errors, id) ? errors[id] : null
  const info = ctl.typeInfo(task.type, trigger)
  const cls = ["lc-node", "nodrag", "nopan", ...extraClass]
  if (task.disabled === true) cls.push("lc-disabled")
  if (id && id === ctl.selected) cls.push("lc-selected")
  if (Array.isArray(msgs) && msgs.length) cls.push("lc-invalid")
  return {id, msgs, info, props: {
    className: cls.join(" "), "data-id": id, "data-path": JSON.stringify(path), "data-trigger": trigger ? "1" : undefined,
    "data-dag": dagPath ? JSON.stringify(dagPath) : undefined, draggable: ctl.readonly ? undefined : "true",
    title: info.summary || undefined, tabIndex: id && id === ctl.tabStop() ? 0 : -1, role: "button",
    "aria-label": `${id || "(no id)"}: ${info.title}${task.disabled === true ? " (disabled)" : ""}`,
  }}
}

function Head({ctl, data, id, info, msgs}) {
  const {task} = data
  return (
    <div className="lc-head">
      <span className="lc-icon">{info.icon || FALLBACK_ICON}</span>
      <div className="lc-labels">
        <div className="lc-id">{id || "(no id)"}</div>
        <div className="lc-type">{info.title}{task.disabled === true ? <span className="lc-tag">disabled</span> : null}</div>
      </div>
      {Array.isArray(msgs) && msgs.length
        ? <span className="lc-badge" title={msgs.join("\n")} aria-label={`${msgs.length} problem(s)`}>{msgs.length}</span>
        : null}
    </div>
  )
}

function TaskNode({data}) {
  const ctl = data.ctl
  const {id, msgs, info, props} = nodeProps(ctl, data, [])
  return (
    <div {...props}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <Head ctl={ctl} data={data} id={id} info={info} msgs={msgs} />
      <Actions ctl={ctl} path={data.path} task={data.task} />
      {data.dagPath && !ctl.readonly
        ? <span className="lc-port nodrag nopan" draggable="true"
          title="Drag onto another task of this graph to make it wait for this one" />
        : null}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  )
}

function CaseAdder({ctl, path}) {
  const [asking, setAsking] = useState(false)
  const done = useRef(false)
  if (!asking) {
    return <button type="button" className="lc-chip nodrag nopan" data-action="add-case" title="Add a case to this switch"
      onClick={(e) => { e.stopPropagation(); done.current = false; setAsking(true) }}>+ case</button>
  }
  const finish = (input, ok) => {
    if (done.current) return
    done.current = true
    setAsking(false)
    if (ok && input.value.trim()) ctl.attempt(() => ctl.commit(ctl.edits.addCase(ctl.flow, path, input.value)))
  }
  return <input className="lc-case-input nodrag nopan" type="text" placeholder="case value, then Enter" autoFocus
    aria-label="New case value" onClick={(e) => e.stopPropagation()}
    onKeyDown={(e) => {
      e.stopPropagation()
      if (e.key === "Enter") finish(e.currentTarget, true)
      else if (e.key === "Escape") finish(e.currentTarget, false)
    }}
    onBlur={(e) => finish(e.currentTarget, true)} />
}

const CHIP_LABELS = {errors: "on failure", finally: "finally"}

function ContainerNode({data}) {
  const ctl = data.ctl
  const {id, msgs, info, props} = nodeProps(ctl, data, ["lc-container", `lc-kind-${data.containerKind || "other"}`])
  const chips = ctl.readonly ? [] : data.chips
  return (
    <div {...props}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <Head ctl={ctl} data={data} id={id} info={info} msgs={msgs} />
      <Actions ctl={ctl} path={data.path} task={data.task} />
      {chips.length || (data.hasCases && !ctl.readonly)
        ? <div className="lc-chips">
          {data.hasCases && !ctl.readonly ? <CaseAdder ctl={ctl} path={data.path} /> : null}
          {chips.map((name) => (
            <div key={name} className="lc-slot lc-chip nodrag nopan" data-list={JSON.stringify([...data.path, name])}
              data-index="0" title={`Drop a task here to add a '${name}' branch`}>+ {CHIP_LABELS[name]}</div>
          ))}
        </div>
        : null}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  )
}

function BranchNode({data}) {
  return (
    <div className="lc-branch" data-branch={data.branch}>
      {data.label ? <div className="lc-branch-label">{data.label}</div> : null}
    </div>
  )
}

function LaneNode({data}) {
  return (
    <div className={`lc-lane lc-lane-${data.name}`} data-lane={data.name}>
      <div className="lc-lane-label"><b>{data.label}</b><small>{data.sub}</small></div>
    </div>
  )
}

function SlotNode({data}) {
  const ctl = data.ctl
  const cls = ["lc-slot", "nodrag", "nopan"]
  if (data.empty) cls.push("lc-slot-empty")
  if (data.vertical) cls.push("lc-slot-v")
  if (data.dag) cls.push("lc-slot-dag")
  return (
    <div className={cls.join(" ")} data-list={JSON.stringify(data.listPath)} data-index={String(data.index)}
      data-trigger={data.trigger ? "1" : undefined} title={ctl.readonly ? undefined : "Drop a task here"}>
      {data.empty ? data.text : null}
    </div>
  )
}

function BadNode({data}) {
  return <div className="lc-bad">{data.text}</div>
}

// Memoized: a node draws again only when its own data changed (its task, the selection, the errors), never
// because the view moved or another node changed.
const NODE_TYPES = Object.fromEntries(Object.entries({
  task: TaskNode, container: ContainerNode, branch: BranchNode, lane: LaneNode, slot: SlotNode, bad: BadNode,
}).map(([name, component]) => [name, memo(component)]))

// ------------------------------------------------------------------ edges

function SeqEdge({sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd}) {
  const [path] = getBezierPath({sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition})
  return <BaseEdge path={path} markerEnd={markerEnd} className="lc-seq" />
}

function DagEdge({sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, data}) {
  const [path] = getBezierPath({sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition})
  const ctl = data.ctl
  const remove = (e) => {
    e.stopPropagation()
    if (!ctl.readonly) ctl.attempt(() => ctl.commit(ctl.edits.disconnect(ctl.flow, data.dagPath, data.from, data.to)))
  }
  return (
    <g className="lc-edge" data-from={data.from} data-to={data.to} data-dag={JSON.stringify(data.dagPath)} onClick={remove}>
      <title>{ctl.readonly ? `${data.to} waits for ${data.from}` : `${data.to} waits for ${data.from} (click to remove)`}</title>
      <path d={path} className="lc-edge-hit" />
      <path d={path} className="lc-edge-line" markerEnd={markerEnd} />
    </g>
  )
}

const EDGE_TYPES = {seq: memo(SeqEdge), dag: memo(DagEdge)}

// ------------------------------------------------------------------ palette

function Palette({ctl}) {
  const [query, setQuery] = useState("")
  const groups = useMemo(() => {
    const byGroup = new Map()
    for (const item of ctl.model.palette || []) {
      // Lanner's own types by group; a plugin's types under the plugin's name (item.section).
      const key = item.section || item.group
      if (!byGroup.has(key)) byGroup.set(key, [])
      byGroup.get(key).push(item)
    }
    return [...byGroup]
  }, [ctl.model.palette])
  const words = query.toLowerCase().split(/\s+/).filter(Boolean)
  // One tab stop for the whole palette (the item last focused, else the first shown): Tab goes past it in
  // one press, arrows move inside it.
  const [current, setCurrent] = useState("")
  const keyOf = (item) => `${item.kind}:${item.type}`
  const shownKeys = new Set()
  for (const [group, items] of groups) {
    for (const item of items) {
      const haystack = [item.title, item.summary, item.type, group, item.group, item.plugin || "", ...(item.aliases || [])]
        .join(" ").toLowerCase()
      if (words.every((w) => haystack.includes(w))) shownKeys.add(keyOf(item))
    }
  }
  const stop = shownKeys.has(current) ? current : shownKeys.values().next().value
  let any = false
  const move = (el, step) => {
    const items = [...el.closest(".lc-palette").querySelectorAll(".lc-item:not([hidden])")]
    const next = items[items.indexOf(el) + step]
    if (next) next.focus()
  }
  const sections = groups.map(([group, items]) => {
    const plugin = items[0].section && items[0].section !== items[0].group ? items[0].plugin : null
    const shown = items.map((item) => {
      const haystack = [item.title, item.summary, item.type, group, item.group, item.plugin || "",
        ...(item.aliases || [])].join(" ").toLowerCase()
      const show = words.every((w) => haystack.includes(w))
      return [item, haystack, show]
    })
    const visible = shown.filter(([, , s]) => s).length
    any = any || visible > 0
    return (
      <section key={group} className="lc-group" data-group={group} data-plugin={plugin || undefined} hidden={visible === 0}>
        <h4 title={plugin ? `Plugin ${plugin}${items[0].pluginVersion ? " " + items[0].pluginVersion : ""}` : undefined}>{group}</h4>
        {shown.map(([item, haystack, show]) => (
          <div key={keyOf(item)} className="lc-item" draggable="true" tabIndex={keyOf(item) === stop ? 0 : -1} role="button"
            onFocus={() => setCurrent(keyOf(item))}
            data-type={item.type} data-kind={item.kind} data-search={haystack} hidden={!show}
            aria-label={`Add ${item.title}: ${item.summary}`}
            title={`${item.summary}\nDrag onto the canvas, or press Enter (or double-click) to add it after the selected task.`}
            onDoubleClick={() => { if (!ctl.readonly) ctl.addFromPalette(item) }}
            onKeyDown={(e) => {
              if (e.key === "Enter" || e.key === " ") { e.preventDefault(); ctl.addFromPalette(item) }
              else if (e.key === "ArrowDown") { e.preventDefault(); move(e.currentTarget, 1) }
              else if (e.key === "ArrowUp") { e.preventDefault(); move(e.currentTarget, -1) }
            }}>
            <span className="lc-icon">{item.icon || FALLBACK_ICON}</span>
            <span className="lc-item-text"><b>{item.title}</b><small>{item.summary}</small></span>
          </div>
        ))}
      </section>
    )
  })
  return (
    <aside className="lc-palette" hidden={ctl.readonly} aria-label="Task palette">
      <input className="lc-search" type="search" placeholder="Search tasks…" aria-label="Search tasks" value={query}
        onChange={(e) => setQuery(e.target.value)} />
      <div className="lc-groups">{sections}</div>
      <div className="lc-nomatch" hidden={any}>No task matches your search.</div>
    </aside>
  )
}

// ------------------------------------------------------------------ the board

function Banner({ctl}) {
  const errors = ctl.model.errors || {}
  const known = new Set([...ctl.edits.allIds(ctl.flow), ...ctl.edits.triggerIds(ctl.flow)])
  const lines = []
  for (const [key, msgs] of Object.entries(errors)) {
    if (known.has(key) || !Array.isArray(msgs)) continue
    for (const m of msgs) lines.push(key && key !== "__flow__" ? `${key}: ${m}` : String(m))
  }
  return <div className="lc-banner" role="alert" hidden={!lines.length}>{lines.map((l, i) => <div key={i}>{l}</div>)}</div>
}

// The minimap draws tasks and containers only (slots, lanes and branch boxes would triple its elements).
function MiniNode({x, y, width, height, color}) {
  if (!color) return null
  return <rect x={x} y={y} width={width} height={height} rx={6} fill={color} />
}
const MINI_COLOURS = {task: "#94a3b8", container: "#c7d2fe", bad: "#fca5a5"}

// Below this zoom, text is unreadable anyway: nodes are drawn as plain boxes, which keeps fit, zoom
// and pan on a 500-task flow fast (painting text is most of a frame's cost).
const FAR_ZOOM = 0.45

function Board({ctl, rootRef, layoutState}) {
  const rf = useReactFlow()
  const far = useStore((s) => s.transform[2] < FAR_ZOOM)
  const {graph, fitKey} = layoutState
  const fitted = useRef(null)
  const selected = ctl.selected
  const errors = ctl.model.errors
  const nodes = useMemo(() => graph.nodes.map((n) => ({...n, data: {...n.data, ctl, selected, errors}})),
    [graph, ctl, selected, errors])
  const edges = useMemo(() => graph.edges.map((e) => ({...e, data: {...e.data, ctl},
    markerEnd: {type: "arrowclosed", color: e.type === "dag" ? "#6366f1" : "#94a3b8", width: 16, height: 16}})),
  [graph, ctl])

  // A new flow is fitted on screen, and fitted again when the board changes size (the page settling its
  // layout, a window resize) until the user moves the view himself.
  const userMoved = useRef(false)
  const fit = useCallback(() => rf.fitView({padding: 0.06, maxZoom: 1, duration: 0}), [rf])
  useEffect(() => {
    if (!graph.nodes.length || fitted.current === fitKey) return
    fitted.current = fitKey
    userMoved.current = false
    requestAnimationFrame(fit)
  }, [graph, fitKey, fit])
  useEffect(() => {
    const board = rootRef.current && rootRef.current.querySelector(".lc-board")
    if (!board || typeof ResizeObserver !== "function") return
    let last = ""
    const watch = new ResizeObserver(([entry]) => {
      const size = `${Math.round(entry.contentRect.width)}x${Math.round(entry.contentRect.height)}`
      if (size !== last && last && !userMoved.current) requestAnimationFrame(fit)
      last = size
    })
    watch.observe(board)
    return () => watch.disconnect()
  }, [rootRef, fit])

  // The selected task (just dropped, added by keyboard, picked by arrows) is brought on screen if it is not.
  useEffect(() => {
    const root = rootRef.current
    if (!root || !selected || !graph.nodes.length) return
    const frame = requestAnimationFrame(() => {
      const el = root.querySelector(`.lc-node[data-id="${CSS.escape(selected)}"]`)
      const board = root.querySelector(".lc-board")
      if (!el || !board) return
      const a = el.getBoundingClientRect(), b = board.getBoundingClientRect()
      if (a.left >= b.left && a.right <= b.right && a.top >= b.top && a.bottom <= b.bottom) return
      const internal = rf.getInternalNode(nodeId(JSON.parse(el.dataset.path)))
      if (!internal) return
      const p = internal.internals.positionAbsolute
      rf.setCenter(p.x + (internal.measured?.width || 0) / 2, p.y + (internal.measured?.height || 0) / 2,
        {zoom: rf.getZoom(), duration: 0})
    })
    return () => cancelAnimationFrame(frame)
  }, [graph, selected, rf, rootRef])

  useEffect(() => {
    const root = rootRef.current
    if (!root) return
    // For the benchmark and the tests: the viewport actions a user has, timed by the caller.
    root.lannerViewport = {
      fit: () => rf.fitView({padding: 0.06, maxZoom: 1, duration: 0}),
      zoomIn: () => rf.zoomIn({duration: 0}),
      zoomOut: () => rf.zoomOut({duration: 0}),
      pan: (dx, dy) => { const v = rf.getViewport(); rf.setViewport({x: v.x + dx, y: v.y + dy, zoom: v.zoom}) },
      viewport: () => rf.getViewport(),
    }
  }, [rf, rootRef])

  return (
    <ReactFlow id={ctl.uid} nodes={nodes} edges={edges} nodeTypes={NODE_TYPES} edgeTypes={EDGE_TYPES}
      nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} nodesFocusable={false}
      edgesFocusable={false} disableKeyboardA11y deleteKeyCode={null} selectionKeyCode={null}
      multiSelectionKeyCode={null} zoomOnDoubleClick={false} minZoom={0.05} maxZoom={2}
      onMoveStart={(event) => { if (event) userMoved.current = true }}
      onPaneClick={() => { ctl.selected = "" }} proOptions={{hideAttribution: true}} className={far ? "lc-far" : ""}>
      <Background gap={24} size={1} color="#e2e8f0" />
      <Controls showInteractive={false} position="bottom-left" />
      <MiniMap pannable zoomable position="bottom-right" className="lc-minimap" nodeComponent={MiniNode}
        nodeColor={(n) => MINI_COLOURS[n.type] || ""} />
    </ReactFlow>
  )
}

function useLayout(ctl, snap) {
  const [state, setState] = useState({graph: {nodes: [], edges: []}, fitKey: ""})
  const seq = useRef(0)
  const started = useRef(0)
  const flow = ctl.flow
  const readonly = ctl.readonly
  const palette = ctl.model.palette
  useEffect(() => {
    const mine = ++seq.current
    started.current = performance.now()
    const triggers = (palette || []).some((p) => p.kind === "trigger")
    layoutFlow(ctl.edits, flow, {readonly, triggers}).then((layout) => {
      if (mine !== seq.current) return
      setState({graph: toReactFlow(layout), fitKey: `${flow.namespace}/${flow.id}/${readonly}`, started: started.current,
        version: mine})
    })
  }, [ctl, flow, readonly, palette, ctl.edits, snap.layoutKey])
  return state
}

function Canvas({ctl}) {
  const snap = useController(ctl)
  const rootRef = useRef(null)
  const layoutState = useLayout(ctl, snap)
  const [dragClass, setDragClass] = useState("")
  const drag = useRef(null)
  const over = useRef(null)
  const flow = ctl.flow

  useEffect(() => {
    const root = rootRef.current
    if (!root || !layoutState.version) return
    root.dataset.version = String(layoutState.version)
    root.dataset.renderMs = (performance.now() - layoutState.started).toFixed(1)
  }, [layoutState])

  // -------------------------------------------------------------- drag and drop

  const dropTarget = useCallback((target) => {
    const d = drag.current
    if (!d || ctl.readonly || !(target instanceof Element)) return null
    if (d.kind === "edge") {
      const node = target.closest(".lc-node[data-dag]")
      if (!node || node.dataset.dag !== JSON.stringify(d.dagPath) || node.dataset.id === d.from) return null
      return {el: node, kind: "edge", to: node.dataset.id}
    }
    const slot = target.closest(".lc-slot")
    if (!slot) return null
    const listPath = JSON.parse(slot.dataset.list)
    const triggerSlot = slot.dataset.trigger === "1"
    if (d.kind === "new" && (d.item.kind === "trigger") !== triggerSlot) return null
    if (d.kind === "move") {
      if (d.trigger !== triggerSlot) return null
      const src = d.path[d.path.length - 1] === "task" ? d.path.slice(0, -1) : d.path
      if (startsWith(listPath, src)) return null
    }
    return {el: slot, kind: "slot", path: [...listPath, Number(slot.dataset.index)]}
  }, [ctl])

  const markOver = (el) => {
    if (over.current === el) return
    if (over.current) over.current.classList.remove("lc-over")
    over.current = el
    if (el) el.classList.add("lc-over")
  }
  const endDrag = () => {
    drag.current = null
    markOver(null)
    setDragClass("")
  }

  const onDragStart = (e) => {
    if (ctl.readonly) return e.preventDefault()
    const t = e.target instanceof Element ? e.target : null
    const port = t && t.closest(".lc-port")
    const item = t && t.closest(".lc-item")
    const node = t && t.closest(".lc-node")
    if (port && node) {
      drag.current = {kind: "edge", dagPath: JSON.parse(node.dataset.dag), from: node.dataset.id}
    } else if (item) {
      const entry = ctl.index()[item.dataset.kind === "trigger" ? "triggers" : "tasks"].get(item.dataset.type)
      if (!entry) return endDrag()
      drag.current = {kind: "new", item: entry}
    } else if (node) {
      drag.current = {kind: "move", path: JSON.parse(node.dataset.path), trigger: node.dataset.trigger === "1"}
    } else {
      return
    }
    e.stopPropagation()
    const d = drag.current
    e.dataTransfer.setData("text/plain", d.kind === "new" ? d.item.type : d.from || node.dataset.id)
    e.dataTransfer.effectAllowed = d.kind === "new" ? "copy" : d.kind === "edge" ? "link" : "move"
    setDragClass(d.kind === "edge" ? "lc-dragging-edge" : "lc-dragging")
  }

  const onDragOver = (e) => {
    const target = dropTarget(e.target)
    markOver(target ? target.el : null)
    if (!target) return
    e.preventDefault()
    const d = drag.current
    e.dataTransfer.dropEffect = d.kind === "new" ? "copy" : d.kind === "edge" ? "link" : "move"
  }

  const onDrop = (e) => {
    const target = dropTarget(e.target)
    const current = drag.current
    endDrag()
    if (!target) return
    e.preventDefault()
    const ed = ctl.edits
    ctl.attempt(() => {
      if (current.kind === "new") {
        const task = ctl.newTaskFrom(current.item)
        ctl.commit(ed.insertTask(ctl.flow, target.path, task), task.id)
      } else if (current.kind === "move") {
        ctl.commit(ed.moveTask(ctl.flow, current.path, target.path))
      } else if (current.kind === "edge") {
        ctl.commit(ed.connect(ctl.flow, current.dagPath, current.from, target.to))
      }
    })
  }

  // -------------------------------------------------------------- clicks and keys

  const focusTask = (id) => {
    ctl.selected = id
    requestAnimationFrame(() => {
      const el = rootRef.current && rootRef.current.querySelector(`.lc-node[data-id="${CSS.escape(id)}"]`)
      if (el) el.focus({preventScroll: true})
    })
  }

  const onClick = (e) => {
    const t = e.target instanceof Element ? e.target : null
    if (!t) return
    const button = t.closest("button[data-action]")
    if (button) {
      const action = button.dataset.action
      if (action === "undo") ctl.undo()
      else if (action === "redo") ctl.redo()
      else if (action === "fit" && rootRef.current?.lannerViewport) rootRef.current.lannerViewport.fit()
      return
    }
    const node = t.closest(".lc-node")
    if (node) ctl.selected = node.dataset.id
  }

  const onKeyDown = (e) => {
    const t = e.target instanceof Element ? e.target : null
    if (t && t.closest("input, textarea")) return
    const mod = e.ctrlKey || e.metaKey
    const key = e.key.toLowerCase()
    const node = t && t.closest(".lc-node")
    if (mod && key === "z") {
      e.preventDefault()
      if (e.shiftKey) ctl.redo()
      else ctl.undo()
    } else if (mod && key === "y") {
      e.preventDefault()
      ctl.redo()
    } else if ((e.key === "Delete" || e.key === "Backspace") && ctl.selected && !ctl.readonly) {
      const path = ctl.edits.findTask(ctl.flow, ctl.selected)
      if (path) {
        e.preventDefault()
        ctl.attempt(() => { ctl.commit(ctl.edits.deleteTask(ctl.flow, path)); ctl.dropStaleSelection() })
      }
    } else if (e.key === "Escape") {
      ctl.selected = ""
    } else if (node && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault()
      ctl.selected = node.dataset.id
    } else if (node && e.key.startsWith("Arrow")) {
      // Arrows walk the tasks in document order (the order they run in, branches included).
      e.preventDefault()
      const ids = [...ctl.edits.iterTasks(ctl.flow)].map(([, task]) => String(task.id))
      const i = ids.indexOf(node.dataset.id)
      const step = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : -1
      const next = ids[i + step]
      if (next !== undefined) focusTask(next)
    }
  }

  const ro = ctl.readonly
  return (
    <div ref={rootRef} className={`lc-root${ro ? " lc-readonly" : ""}${dragClass ? " " + dragClass : ""}`} tabIndex={0}
      onDragStart={onDragStart} onDragOver={onDragOver} onDrop={onDrop} onDragEnd={endDrag}
      onDragLeave={(e) => { if (over.current && e.target === over.current && !over.current.contains(e.relatedTarget)) markOver(null) }}
      onClick={onClick} onKeyDown={onKeyDown}
      onMouseDown={(e) => { if (!(e.target instanceof Element) || !e.target.closest("input, button, .lc-node, .lc-item")) rootRef.current.focus({preventScroll: true}) }}>
      <div className="lc-toolbar">
        <button type="button" data-action="undo" title="Undo (Ctrl+Z)" disabled={!ctl.undoStack.length} hidden={ro}>↶ Undo</button>
        <button type="button" data-action="redo" title="Redo (Ctrl+Shift+Z)" disabled={!ctl.redoStack.length} hidden={ro}>↷ Redo</button>
        <button type="button" data-action="fit" title="Fit the whole flow on screen">⤢ Fit</button>
        <span className="lc-title">{[flow.namespace, flow.id].filter(Boolean).join(" / ")}</span>
        <span className="lc-hint" role="status">{ctl.hint}</span>
      </div>
      <div className="lc-body">
        <Palette ctl={ctl} />
        <div className="lc-board">
          <Board ctl={ctl} rootRef={rootRef} layoutState={layoutState} />
          <Banner ctl={ctl} />
        </div>
      </div>
    </div>
  )
}

export function CanvasApp({ctl}) {
  return <ReactFlowProvider><Canvas ctl={ctl} /></ReactFlowProvider>
}

export {nodeId}
