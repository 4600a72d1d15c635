// Lanner flow canvas: the ES module of builder.canvas.FlowCanvas (Panel JSComponent).
//
// One file on purpose: Panel loads `_esm` as a single module, with no bundler and no
// network. The first half is a pure mirror of builder/canvas/flow_edit.py (same names,
// same rules, same paths); the second half draws the flow and turns drags and clicks
// into those edits. Every edit assigns a new object to `model.flow`, which Panel syncs
// to Python. Which properties of a task type hold child tasks, and in which shape, comes
// from the registry through `model.container_spec` (engine.model.registry.child_list_spec):
// this file has no table of task types of its own.

// ------------------------------------------------------------------ tree edits

class EditError extends Error {}

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v)
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)))
const fmt = (path) => "/" + path.join("/")
const samePath = (a, b) => a.length === b.length && a.every((v, i) => v === b[i])
const startsWith = (path, prefix) => prefix.length <= path.length && prefix.every((v, i) => v === path[i])
const ID_OK = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/

export function makeEdits(spec) {
  const names = spec.names || {}
  const lists = spec.lists || {}
  const common = spec.common || []
  const flowLists = (spec.flow || []).map((c) => c.name)
  const optional = new Set(spec.optional || [])

  // The canonical name of a container type (any of its names), null for a leaf task.
  function kindOf(type) {
    if (typeof type !== "string") return null
    return Object.prototype.hasOwnProperty.call(names, type) ? names[type] : null
  }

  // The child lists ({name, shape, label, optional, parallel}) of a task: branches, then errors/finally.
  function listsOf(task) {
    const kind = isObj(task) ? kindOf(task.type) : null
    return kind ? [...(lists[kind] || []), ...common] : common
  }

  // The name of the first branch list of this shape ("graph": a dag's tasks, "map": a switch's cases).
  function listOfShape(task, shape) {
    const kind = isObj(task) ? kindOf(task.type) : null
    const found = kind ? (lists[kind] || []).find((c) => c.shape === shape) : null
    return found ? found.name : null
  }

  function childListKeys(task) {
    const kind = kindOf(task.type)
    const out = []
    for (const list of kind ? lists[kind] || [] : []) {
      if (list.shape === "map") {
        for (const k of Object.keys(isObj(task[list.name]) ? task[list.name] : {})) out.push([list.name, k])
      } else {
        out.push([list.name])
      }
    }
    for (const list of common) if (kind || Array.isArray(task[list.name])) out.push([list.name])
    return out
  }

  function getAt(flow, path) {
    let node = flow
    for (let i = 0; i < path.length; i++) {
      const key = path[i]
      if (node === null || typeof node !== "object" || !(key in node)) {
        const shown = typeof key === "number" ? key : `'${key}'`
        throw new EditError(`Path ${fmt(path)} does not exist in the flow (no ${shown} at ${fmt(path.slice(0, i))}).`)
      }
      node = node[key]
    }
    return node
  }

  const getKeys = (task, keys) => keys.reduce((n, k) => (isObj(n) ? n[k] : undefined), task)
  const isDagItem = (item) => isObj(item) && "task" in item && !("type" in item) && isObj(item.task)
  const unwrap = (item) => (isDagItem(item) ? item.task : item)

  function* taskItems(list, base) {
    if (!Array.isArray(list)) return
    for (let i = 0; i < list.length; i++) {
      const item = list[i]
      if (isDagItem(item)) yield [[...base, i, "task"], item.task]
      else if (isObj(item)) yield [[...base, i], item]
    }
  }

  function* walkTask(task, base) {
    for (const keys of childListKeys(task)) {
      for (const [path, child] of taskItems(getKeys(task, keys), [...base, ...keys])) {
        yield [path, child]
        yield* walkTask(child, path)
      }
    }
  }

  function* iterTasks(flow) {
    for (const name of flowLists) {
      for (const [path, task] of taskItems(flow[name], [name])) {
        yield [path, task]
        yield* walkTask(task, path)
      }
    }
  }

  const allIds = (flow) => [...iterTasks(flow)].filter(([, t]) => t.id != null).map(([, t]) => String(t.id))
  const triggerIds = (flow) =>
    (Array.isArray(flow.triggers) ? flow.triggers : []).filter((t) => isObj(t) && t.id != null).map((t) => String(t.id))

  function findTask(flow, id) {
    for (const [path, task] of iterTasks(flow)) if (task.id === id) return path
    const triggers = Array.isArray(flow.triggers) ? flow.triggers : []
    for (let i = 0; i < triggers.length; i++) if (isObj(triggers[i]) && triggers[i].id === id) return ["triggers", i]
    return null
  }

  function newId(base, existing) {
    base = String(base).replace(/[^a-zA-Z0-9_-]/g, "_") || "task"
    base = base.replace(/_\d+$/, "") || "task"
    if (!ID_OK.test(base)) base = `task_${base}`
    const taken = new Set(existing)
    let n = 1
    while (taken.has(`${base}_${n}`)) n++
    return `${base}_${n}`
  }

  function slot(path, what) {
    if (path.length && path[path.length - 1] === "task") path = path.slice(0, -1)
    const last = path[path.length - 1]
    if (path.length < 2 || !Number.isInteger(last)) throw new EditError(`The ${what} path ${fmt(path)} must end with a list index.`)
    return [path.slice(0, -1), last]
  }

  function isDagList(flow, listPath) {
    const key = listPath[listPath.length - 1]
    if (listPath.length < 2 || typeof key !== "string") return false
    return listOfShape(getAt(flow, listPath.slice(0, -1)), "graph") === key
  }

  function ensureList(flow, listPath) {
    const parent = getAt(flow, listPath.slice(0, -1))
    const key = listPath[listPath.length - 1]
    if (!isObj(parent)) throw new EditError(`Cannot hold a task list at ${fmt(listPath)}: its parent is not a mapping.`)
    if (parent[key] == null) parent[key] = []
    if (!Array.isArray(parent[key])) throw new EditError(`${fmt(listPath)} is not a list of tasks.`)
    return parent[key]
  }

  function dropDependency(list, id) {
    for (const item of list) {
      const deps = isObj(item) ? item.dependsOn : null
      if (Array.isArray(deps) && deps.includes(id)) {
        const kept = deps.filter((d) => d !== id)
        if (kept.length) item.dependsOn = kept
        else delete item.dependsOn
      }
    }
  }

  function removeAt(flow, path) {
    const [listPath, index] = slot(path, "task")
    const list = getAt(flow, listPath)
    if (!Array.isArray(list) || index < 0 || index >= list.length) throw new EditError(`There is no task at ${fmt(path)}.`)
    const [item] = list.splice(index, 1)
    const dag = isDagList(flow, listPath)
    if (dag) dropDependency(list, unwrap(item).id)
    if (!list.length && optional.has(listPath[listPath.length - 1])) delete getAt(flow, listPath.slice(0, -1))[listPath[listPath.length - 1]]
    return [item, dag]
  }

  function insertAt(flow, path, task, keepItem) {
    const [listPath, index] = slot(path, "insertion")
    const dag = isDagList(flow, listPath)
    const list = ensureList(flow, listPath)
    if (index < 0 || index > list.length) {
      throw new EditError(`Position ${index} is outside the list ${fmt(listPath)} of ${list.length} task(s).`)
    }
    if (dag) {
      list.splice(index, 0, keepItem !== undefined ? keepItem : {task})
      return [...listPath, index, "task"]
    }
    list.splice(index, 0, task)
    return [...listPath, index]
  }

  function insertTask(flow, path, task) {
    if (!isObj(task) || !task.id) throw new EditError("The task to insert must be a mapping with an id.")
    if (new Set([...allIds(flow), ...triggerIds(flow)]).has(task.id)) {
      throw new EditError(`A task with id '${task.id}' already exists in the flow; pick another id.`)
    }
    const out = clone(flow)
    insertAt(out, path, clone(unwrap(task)))
    return out
  }

  function deleteTask(flow, path) {
    const out = clone(flow)
    removeAt(out, path)
    return out
  }

  function moveTask(flow, src, dst) {
    const [srcList, srcIdx] = slot(src, "task")
    let [dstList, dstIdx] = slot(dst, "insertion")
    getAt(flow, [...srcList, srcIdx])
    if (startsWith(dstList, [...srcList, srcIdx])) throw new EditError(`Cannot move task at ${fmt(src)} into itself.`)
    if (samePath(dstList, srcList) && (dstIdx === srcIdx || dstIdx === srcIdx + 1)) return clone(flow)
    const n = srcList.length
    if (samePath(dstList, srcList)) {
      if (dstIdx > srcIdx) dstIdx -= 1
    } else if (startsWith(dstList, srcList) && Number.isInteger(dstList[n]) && dstList[n] > srcIdx) {
      dstList = [...dstList.slice(0, n), dstList[n] - 1, ...dstList.slice(n + 1)]
    }
    const out = clone(flow)
    const [item, fromDag] = removeAt(out, [...srcList, srcIdx])
    const sameDag = fromDag && samePath(dstList, srcList)
    insertAt(out, [...dstList, dstIdx], unwrap(item), sameDag ? item : undefined)
    return out
  }

  function renameSubtree(task, taken) {
    const mapping = {}
    const nested = [[[], task], ...walkTask(task, [])]
    for (const [, t] of nested) {
      const old = String(t.id || t.type || "task")
      const fresh = newId(old, taken)
      taken.add(fresh)
      mapping[old] = fresh
      t.id = fresh
    }
    for (const [, t] of nested) {
      for (const keys of childListKeys(t)) {
        const list = getKeys(t, keys)
        for (const item of Array.isArray(list) ? list : []) {
          if (isObj(item) && "task" in item && Array.isArray(item.dependsOn)) {
            item.dependsOn = item.dependsOn.map((d) => mapping[d] ?? d)
          }
        }
      }
    }
  }

  function duplicateTask(flow, path) {
    const [listPath, index] = slot(path, "task")
    const list = getAt(flow, listPath)
    if (!Array.isArray(list) || index < 0 || index >= list.length) throw new EditError(`There is no task at ${fmt(path)}.`)
    const item = clone(list[index])
    renameSubtree(unwrap(item), new Set([...allIds(flow), ...triggerIds(flow)]))
    const out = clone(flow)
    const dag = isDagList(out, listPath)
    getAt(out, listPath).splice(index + 1, 0, item)
    return [out, [...listPath, index + 1, ...(dag ? ["task"] : [])]]
  }

  function toggleDisabled(flow, path) {
    const out = clone(flow)
    const task = getAt(out, path)
    if (!isObj(task)) throw new EditError(`There is no task at ${fmt(path)}.`)
    if (task.disabled === true) delete task.disabled
    else task.disabled = true
    return out
  }

  function dagItems(flow, dagPath) {
    const dag = getAt(flow, dagPath)
    const name = listOfShape(dag, "graph")
    if (name === null) throw new EditError(`The task at ${fmt(dagPath)} is not a dag.`)
    return Array.isArray(dag[name]) ? dag[name] : []
  }

  function dependsMap(items) {
    const deps = new Map()
    for (const it of items) if (isObj(it) && isObj(unwrap(it))) deps.set(String(unwrap(it).id), [...(it.dependsOn || [])])
    return deps
  }

  function connect(flow, dagPath, fromId, toId) {
    const out = clone(flow)
    const items = dagItems(out, dagPath)
    const deps = dependsMap(items)
    for (const id of [fromId, toId]) if (!deps.has(id)) throw new EditError(`Task '${id}' is not in the dag at ${fmt(dagPath)}.`)
    if (fromId === toId) throw new EditError(`Task '${fromId}' cannot depend on itself.`)
    if (deps.get(toId).includes(fromId)) return out
    const seen = new Set()
    const stack = [fromId]
    while (stack.length) {
      const cur = stack.pop()
      if (cur === toId) throw new EditError(`Making '${toId}' depend on '${fromId}' would create a cycle in the dag.`)
      if (!seen.has(cur)) {
        seen.add(cur)
        stack.push(...(deps.get(cur) || []))
      }
    }
    for (const it of items) {
      if (unwrap(it).id === toId) {
        if (it.dependsOn == null) it.dependsOn = []
        if (!Array.isArray(it.dependsOn)) it.dependsOn = [it.dependsOn]
        it.dependsOn.push(fromId)
      }
    }
    return out
  }

  function disconnect(flow, dagPath, fromId, toId) {
    const out = clone(flow)
    dropDependency(dagItems(out, dagPath).filter((it) => unwrap(it).id === toId), fromId)
    return out
  }

  function addCase(flow, switchPath, key) {
    key = String(key).trim()
    const out = clone(flow)
    const sw = getAt(out, switchPath)
    const name = listOfShape(sw, "map")
    if (name === null) throw new EditError(`The task at ${fmt(switchPath)} is not a switch.`)
    if (!key) throw new EditError("A switch case needs a non-empty value.")
    if (!isObj(sw[name])) sw[name] = {}
    if (key in sw[name]) throw new EditError(`The switch '${sw.id}' already has a case '${key}'.`)
    sw[name][key] = []
    return out
  }

  return {
    kindOf, listsOf, listOfShape, childListKeys, getAt, getKeys, isDagItem, unwrap, iterTasks, allIds, triggerIds, findTask, newId,
    insertTask, deleteTask, moveTask, duplicateTask, toggleDisabled, connect, disconnect, addCase,
  }
}

// ------------------------------------------------------------------ drawing

const HISTORY_LIMIT = 200
const FALLBACK_ICON = "🔧"
const LANES = [
  ["triggers", "Triggers", "What starts the flow"],
  ["tasks", "Tasks", "Run from left to right"],
  ["errors", "On failure", "Run when a task fails"],
  ["finally", "Always at the end", "Run whatever happened"],
  ["afterExecution", "After the execution", "Run once the execution has ended"],
]
// The canvas's own wording for the lists every container has (other lists show their declared label).
const COMMON_WORDING = {errors: "on failure", finally: "finally"}

function h(tag, attrs, ...children) {
  const e = document.createElement(tag)
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue
      if (k === "class") e.className = v
      else if (k === "text") e.textContent = v
      else e.setAttribute(k, v === true ? "" : v)
    }
  }
  for (const c of children) if (c != null) e.append(c)
  return e
}

export function render({ model, el }) {
  let edits = makeEdits(model.container_spec || {})
  let flow = isObj(model.flow) ? model.flow : {}
  let flowJson = JSON.stringify(flow)
  const undoStack = []
  const redoStack = []
  let drag = null
  let version = 0
  const uid = Math.random().toString(36).slice(2, 10)
  let taskTypes = new Map()
  let triggerTypes = new Map()

  const undoBtn = h("button", {"data-action": "undo", title: "Undo (Ctrl+Z)", type: "button"}, "↶ Undo")
  const redoBtn = h("button", {"data-action": "redo", title: "Redo (Ctrl+Shift+Z)", type: "button"}, "↷ Redo")
  const title = h("span", {class: "lc-title"})
  const hint = h("span", {class: "lc-hint", role: "status"})
  const toolbar = h("div", {class: "lc-toolbar"}, undoBtn, redoBtn, title, hint)
  const banner = h("div", {class: "lc-banner", role: "alert"})
  const search = h("input", {class: "lc-search", type: "search", placeholder: "Search tasks…", "aria-label": "Search tasks"})
  const groups = h("div", {class: "lc-groups"})
  const noMatch = h("div", {class: "lc-nomatch", text: "No task matches your search."})
  const palette = h("aside", {class: "lc-palette"}, search, groups, noMatch)
  const board = h("div", {class: "lc-board"})
  const root = h("div", {class: "lc-root", tabindex: "0"}, toolbar, banner, h("div", {class: "lc-body"}, palette, board))

  // -------------------------------------------------------------- palette

  function renderPalette() {
    taskTypes = new Map()
    triggerTypes = new Map()
    const byGroup = new Map()
    for (const item of model.palette || []) {
      const index = item.kind === "trigger" ? triggerTypes : taskTypes
      for (const name of [item.type, ...(item.aliases || [])]) if (!index.has(name)) index.set(name, item)
      // Lanner's own types by group; a plugin's types under the plugin's name (item.section).
      const key = item.section || item.group
      if (!byGroup.has(key)) byGroup.set(key, [])
      byGroup.get(key).push(item)
    }
    const frag = document.createDocumentFragment()
    for (const [group, items] of byGroup) {
      const plugin = items[0].section && items[0].section !== items[0].group ? items[0].plugin : null
      const heading = h("h4", {text: group})
      if (plugin) heading.title = `Plugin ${plugin}${items[0].pluginVersion ? " " + items[0].pluginVersion : ""}`
      const section = h("section", {class: "lc-group", "data-group": group}, heading)
      if (plugin) section.dataset.plugin = plugin
      for (const item of items) {
        const haystack = [item.title, item.summary, item.type, group, item.group, item.plugin || "", ...(item.aliases || [])].join(" ").toLowerCase()
        section.append(h("div", {
          class: "lc-item", draggable: "true", "data-type": item.type, "data-kind": item.kind,
          "data-search": haystack, title: `${item.summary}\nDrag onto the canvas, or double-click to add at the end.`,
        }, h("span", {class: "lc-icon", text: item.icon || FALLBACK_ICON}),
        h("span", {class: "lc-item-text"}, h("b", {text: item.title}), h("small", {text: item.summary}))))
      }
      frag.append(section)
    }
    groups.replaceChildren(frag)
    filterPalette()
  }

  function filterPalette() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean)
    let any = false
    for (const section of groups.children) {
      let visible = 0
      for (const item of section.querySelectorAll(".lc-item")) {
        const show = words.every((w) => item.dataset.search.includes(w))
        item.hidden = !show
        if (show) visible++
      }
      section.hidden = visible === 0
      any = any || visible > 0
    }
    noMatch.hidden = any
  }

  function paletteItem(kind, type) {
    return (kind === "trigger" ? triggerTypes : taskTypes).get(type)
  }

  function typeInfo(type, trigger) {
    const item = (trigger ? triggerTypes : taskTypes).get(type)
    return item ? item : {icon: FALLBACK_ICON, title: String(type ?? "unknown type"), summary: ""}
  }

  // -------------------------------------------------------------- board

  const readonly = () => Boolean(model.readonly)

  function slotEl(listPath, index, opts, empty) {
    const attrs = {
      class: `lc-slot${empty ? " lc-slot-empty" : ""}${opts.vertical ? " lc-slot-v" : ""}${opts.dag ? " lc-slot-dag" : ""}`,
      "data-list": JSON.stringify(listPath), "data-index": String(index),
      "data-trigger": opts.trigger ? "1" : null,
      title: readonly() ? null : "Drop a task here",
    }
    return h("div", attrs, empty ? (opts.emptyText || "Drop a task here") : null)
  }

  function renderList(listPath, list, opts = {}) {
    const row = h("div", {class: opts.vertical ? "lc-list lc-col" : "lc-list lc-row"})
    const items = Array.isArray(list) ? list : []
    if (!items.length) {
      row.append(slotEl(listPath, 0, opts, true))
      return row
    }
    items.forEach((item, i) => {
      row.append(slotEl(listPath, i, opts, false))
      row.append(isObj(item) ? renderNode(item, [...listPath, i], opts) : h("div", {class: "lc-bad", text: String(item)}))
    })
    row.append(slotEl(listPath, items.length, opts, false))
    return row
  }

  function renderNode(task, path, opts = {}) {
    const kind = edits.kindOf(task.type)
    const info = typeInfo(task.type, opts.trigger)
    const id = task.id == null ? "" : String(task.id)
    const errors = model.errors || {}
    const msgs = id && Object.prototype.hasOwnProperty.call(errors, id) ? errors[id] : null
    const keys = opts.trigger ? [] : edits.childListKeys(task)
    const isContainer = keys.length > 0
    const cls = ["lc-node"]
    if (isContainer) cls.push("lc-container", `lc-kind-${kind || "other"}`)
    if (task.disabled === true) cls.push("lc-disabled")
    if (id && id === model.selected) cls.push("lc-selected")
    if (Array.isArray(msgs) && msgs.length) cls.push("lc-invalid")
    const node = h("div", {
      class: cls.join(" "), "data-id": id, "data-path": JSON.stringify(path), "data-trigger": opts.trigger ? "1" : null,
      "data-dag": opts.dagPath ? JSON.stringify(opts.dagPath) : null, draggable: readonly() ? null : "true",
      title: info.summary || null,
    })
    const labels = h("div", {class: "lc-labels"}, h("div", {class: "lc-id", text: id || "(no id)"}), h("div", {class: "lc-type", text: info.title}))
    const head = h("div", {class: "lc-head"}, h("span", {class: "lc-icon", text: info.icon || FALLBACK_ICON}), labels)
    if (task.disabled === true) labels.append(h("span", {class: "lc-tag", text: "disabled"}))
    if (Array.isArray(msgs) && msgs.length) {
      head.append(h("span", {class: "lc-badge", title: msgs.join("\n"), "aria-label": `${msgs.length} problem(s)`}, String(msgs.length)))
    }
    if (!readonly()) {
      const button = (action, label, text) => h("button", {type: "button", "data-action": action, title: label, "aria-label": `${label} ${id}`}, text)
      head.append(h("span", {class: "lc-actions"},
        button("duplicate", "Duplicate", "❐"),
        button("disable", task.disabled === true ? "Enable" : "Disable", "⊘"),
        button("delete", "Delete", "✕")))
    }
    if (opts.dagPath && !readonly()) {
      head.append(h("span", {class: "lc-port", draggable: "true", title: "Drag onto another task of this graph to make it wait for this one"}))
    }
    node.append(head)
    if (isContainer) node.append(renderBranches(task, path, kind, keys))
    return node
  }

  function renderBranches(task, path, kind, keys) {
    const body = h("div", {class: "lc-branches"})
    const chips = h("div", {class: "lc-chips"})
    const decls = new Map(edits.listsOf(task).map((c) => [c.name, c]))
    const hasMap = edits.listOfShape(task, "map") !== null
    const single = keys.filter((k) => !(k[0] in COMMON_WORDING)).length === 1 && !hasMap
    for (const keys1 of keys) {
      const name = keys1[0]
      const decl = decls.get(name) || {name, shape: "list", label: name, parallel: false}
      const listPath = [...path, ...keys1]
      const list = edits.getKeys(task, keys1)
      if (name in COMMON_WORDING && !Array.isArray(list)) {
        if (!readonly()) chips.append(h("div", {class: "lc-slot lc-chip", "data-list": JSON.stringify(listPath), "data-index": "0",
          title: `Drop a task here to add a '${name}' branch`}, `+ ${COMMON_WORDING[name]}`))
        continue
      }
      const label = decl.shape === "map" ? `${decl.label || name} ${keys1[1]}`
        : single && decl.label == null ? null : COMMON_WORDING[name] || decl.label || name
      const content = decl.shape === "graph" ? renderDag(task, path, name) : renderList(listPath, list, {vertical: Boolean(decl.parallel)})
      body.append(h("div", {class: "lc-branch", "data-branch": keys1.join(".")}, label ? h("div", {class: "lc-branch-label", text: label}) : null, content))
    }
    if (hasMap && !readonly()) {
      chips.prepend(h("button", {type: "button", class: "lc-chip", "data-action": "add-case", title: "Add a case to this switch"}, "+ case"))
    }
    if (chips.childNodes.length) body.append(chips)
    return body
  }

  function dagDepths(items) {
    const deps = new Map()
    items.forEach((it) => { if (edits.isDagItem(it)) deps.set(String(it.task.id), Array.isArray(it.dependsOn) ? it.dependsOn.map(String) : []) })
    const depth = new Map()
    const visit = (id, stack) => {
      if (depth.has(id)) return depth.get(id)
      if (stack.has(id)) return 0
      stack.add(id)
      let d = 0
      for (const dep of deps.get(id) || []) if (deps.has(dep)) d = Math.max(d, visit(dep, stack) + 1)
      stack.delete(id)
      depth.set(id, d)
      return d
    }
    for (const id of deps.keys()) visit(id, new Set())
    return depth
  }

  function renderDag(task, path, name) {
    const items = Array.isArray(task[name]) ? task[name] : []
    const listPath = [...path, name]
    const depth = dagDepths(items)
    const cols = []
    items.forEach((it, i) => {
      if (!edits.isDagItem(it)) return
      const d = depth.get(String(it.task.id)) || 0
      while (cols.length <= d) cols.push(h("div", {class: "lc-dag-col"}))
      cols[d].append(renderNode(it.task, [...listPath, i, "task"], {dagPath: path}))
    })
    const colsEl = h("div", {class: "lc-dag-cols"}, ...cols, slotEl(listPath, items.length, {emptyText: items.length ? "+ task" : "Drop a task here", dag: items.length > 0}, true))
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg")
    svg.setAttribute("class", "lc-edges")
    const box = h("div", {class: "lc-dag", "data-dag": JSON.stringify(path)}, svg, colsEl)
    const edges = []
    for (const it of items) {
      if (!edits.isDagItem(it) || !Array.isArray(it.dependsOn)) continue
      for (const from of it.dependsOn) edges.push([String(from), String(it.task.id)])
    }
    dagEdges.push({box, svg, edges, path})
    return box
  }

  // Dag edges need the laid-out boxes, so they are drawn once the boxes have their size, and
  // again whenever a dag box changes size (stylesheets arriving, Panel resizing the page).
  let dagEdges = []
  let edgeFrame = 0
  const scheduleEdges = () => {
    if (!edgeFrame) edgeFrame = requestAnimationFrame(() => { edgeFrame = 0; drawEdges() })
  }
  const resizes = typeof ResizeObserver === "function" ? new ResizeObserver(scheduleEdges) : null

  function drawEdges() {
    const SVG = "http://www.w3.org/2000/svg"
    for (const {box, svg, edges, path} of dagEdges) {
      if (!box.isConnected) continue
      svg.replaceChildren()
      const marker = document.createElementNS(SVG, "marker")
      for (const [k, v] of Object.entries({id: `lc-arrow-${uid}`, viewBox: "0 0 8 8", refX: "7", refY: "4",
        markerWidth: "7", markerHeight: "7", orient: "auto"})) marker.setAttribute(k, v)
      const tip0 = document.createElementNS(SVG, "path")
      tip0.setAttribute("d", "M0,0 L8,4 L0,8 z")
      tip0.setAttribute("class", "lc-edge-arrow")
      marker.append(tip0)
      const defs = document.createElementNS(SVG, "defs")
      defs.append(marker)
      svg.append(defs)
      const origin = box.getBoundingClientRect()
      svg.setAttribute("width", String(Math.ceil(box.scrollWidth)))
      svg.setAttribute("height", String(Math.ceil(box.scrollHeight)))
      const find = (id) => box.querySelector(`.lc-node[data-id="${CSS.escape(id)}"]`)
      for (const [from, to] of edges) {
        const a = find(from)
        const b = find(to)
        if (!a || !b) continue
        const ra = a.getBoundingClientRect()
        const rb = b.getBoundingClientRect()
        const x1 = ra.right - origin.left
        const y1 = ra.top + Math.min(ra.height / 2, 28) - origin.top
        const x2 = rb.left - origin.left - 2
        const y2 = rb.top + Math.min(rb.height / 2, 28) - origin.top
        const mx = (x1 + x2) / 2
        const d = `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`
        const g = document.createElementNS(SVG, "g")
        g.setAttribute("class", "lc-edge")
        g.setAttribute("data-from", from)
        g.setAttribute("data-to", to)
        g.setAttribute("data-dag", JSON.stringify(path))
        const tip = document.createElementNS(SVG, "title")
        tip.textContent = readonly() ? `${to} waits for ${from}` : `${to} waits for ${from} (click to remove)`
        const hit = document.createElementNS(SVG, "path")
        hit.setAttribute("d", d)
        hit.setAttribute("class", "lc-edge-hit")
        const line = document.createElementNS(SVG, "path")
        line.setAttribute("d", d)
        line.setAttribute("class", "lc-edge-line")
        line.setAttribute("marker-end", `url(#lc-arrow-${uid})`)
        g.append(tip, hit, line)
        svg.append(g)
      }
    }
  }

  function renderBoard() {
    const t0 = performance.now()
    dagEdges = []
    const frag = document.createDocumentFragment()
    for (const [name, label, sub] of LANES) {
      const trigger = name === "triggers"
      if (trigger && readonly() && !Array.isArray(flow.triggers)) continue
      if (trigger && !triggerTypes.size && !Array.isArray(flow.triggers)) continue
      if (readonly() && name !== "tasks" && !(Array.isArray(flow[name]) && flow[name].length)) continue
      const list = renderList([name], flow[name], {trigger, emptyText: trigger ? "Drop a trigger here" : "Drop a task here"})
      frag.append(h("section", {class: `lc-lane lc-lane-${name}`, "data-lane": name},
        h("div", {class: "lc-lane-label"}, h("b", {text: label}), h("small", {text: sub})), list))
    }
    board.replaceChildren(frag)
    title.textContent = [flow.namespace, flow.id].filter(Boolean).join(" / ")
    renderBanner()
    updateToolbar()
    if (resizes) resizes.disconnect()
    if (dagEdges.length) {
      if (root.isConnected) drawEdges()
      else scheduleEdges()
      if (resizes) for (const {box} of dagEdges) resizes.observe(box)
    }
    version += 1
    root.dataset.version = String(version)
    root.dataset.renderMs = (performance.now() - t0).toFixed(1)
  }

  function renderBanner() {
    const errors = model.errors || {}
    const known = new Set([...edits.allIds(flow), ...edits.triggerIds(flow)])
    const lines = []
    for (const [key, msgs] of Object.entries(errors)) {
      if (known.has(key) || !Array.isArray(msgs)) continue
      for (const m of msgs) lines.push(key ? `${key}: ${m}` : String(m))
    }
    banner.replaceChildren(...lines.map((l) => h("div", {text: l})))
    banner.hidden = lines.length === 0
  }

  function updateToolbar() {
    undoBtn.disabled = undoStack.length === 0
    redoBtn.disabled = redoStack.length === 0
    root.classList.toggle("lc-readonly", readonly())
    palette.hidden = readonly()
    undoBtn.hidden = redoBtn.hidden = readonly()
  }

  function updateSelection() {
    for (const n of board.querySelectorAll(".lc-node.lc-selected")) n.classList.remove("lc-selected")
    const id = model.selected
    if (id) for (const n of board.querySelectorAll(`.lc-node[data-id="${CSS.escape(id)}"]`)) n.classList.add("lc-selected")
  }

  // -------------------------------------------------------------- edits and history

  let hintTimer = null
  function say(text) {
    hint.textContent = text
    clearTimeout(hintTimer)
    hintTimer = setTimeout(() => { hint.textContent = "" }, 6000)
  }

  function apply(next) {
    flow = next
    flowJson = JSON.stringify(next)
    renderBoard()
    model.flow = next
  }

  function commit(next, select) {
    const json = JSON.stringify(next)
    if (json === flowJson) return
    undoStack.push(flowJson)
    if (undoStack.length > HISTORY_LIMIT) undoStack.shift()
    redoStack.length = 0
    apply(next)
    if (select !== undefined) model.selected = select
  }

  function attempt(fn) {
    try {
      fn()
    } catch (err) {
      if (err instanceof EditError) say(err.message)
      else throw err
    }
  }

  function undo() {
    if (!undoStack.length) return
    redoStack.push(flowJson)
    apply(JSON.parse(undoStack.pop()))
    dropStaleSelection()
  }

  function redo() {
    if (!redoStack.length) return
    undoStack.push(flowJson)
    apply(JSON.parse(redoStack.pop()))
    dropStaleSelection()
  }

  function dropStaleSelection() {
    if (model.selected && !edits.findTask(flow, model.selected)) model.selected = ""
  }

  function newTaskFrom(item) {
    const task = {id: edits.newId(item.type, [...edits.allIds(flow), ...edits.triggerIds(flow)])}
    for (const [k, v] of Object.entries(clone(item.template || {type: item.type}))) task[k] = v
    task.type = task.type || item.type
    return task
  }

  function appendFromPalette(item) {
    const lane = item.kind === "trigger" ? "triggers" : "tasks"
    const len = Array.isArray(flow[lane]) ? flow[lane].length : 0
    attempt(() => {
      const task = newTaskFrom(item)
      commit(edits.insertTask(flow, [lane, len], task), task.id)
    })
  }

  function nodeAction(node, action) {
    const path = JSON.parse(node.dataset.path)
    attempt(() => {
      if (action === "delete") {
        commit(edits.deleteTask(flow, path))
        dropStaleSelection()
      } else if (action === "duplicate") {
        const [next, newPath] = edits.duplicateTask(flow, path)
        commit(next, String(edits.getAt(next, newPath).id))
      } else if (action === "disable") {
        commit(edits.toggleDisabled(flow, path))
      }
    })
  }

  function askCase(button, node) {
    const input = h("input", {class: "lc-case-input", type: "text", placeholder: "case value, then Enter", "aria-label": "New case value"})
    button.replaceWith(input)
    input.focus()
    let done = false
    const finish = (ok) => {
      if (done) return
      done = true
      if (ok && input.value.trim()) attempt(() => commit(edits.addCase(flow, JSON.parse(node.dataset.path), input.value)))
      else renderBoard()
    }
    input.addEventListener("keydown", (e) => {
      e.stopPropagation()
      if (e.key === "Enter") finish(true)
      else if (e.key === "Escape") finish(false)
    })
    input.addEventListener("blur", () => finish(true))
  }

  // -------------------------------------------------------------- drag and drop

  function dropTarget(target) {
    if (!drag || readonly() || !(target instanceof Element)) return null
    if (drag.kind === "edge") {
      const node = target.closest(".lc-node[data-dag]")
      if (!node || node.dataset.dag !== JSON.stringify(drag.dagPath) || node.dataset.id === drag.from) return null
      return {el: node, kind: "edge", to: node.dataset.id}
    }
    const slot = target.closest(".lc-slot")
    if (!slot) return null
    const listPath = JSON.parse(slot.dataset.list)
    const triggerSlot = slot.dataset.trigger === "1"
    if (drag.kind === "new" && (drag.item.kind === "trigger") !== triggerSlot) return null
    if (drag.kind === "move") {
      if (drag.trigger !== triggerSlot) return null
      const src = drag.path[drag.path.length - 1] === "task" ? drag.path.slice(0, -1) : drag.path
      if (startsWith(listPath, src)) return null
    }
    return {el: slot, kind: "slot", path: [...listPath, Number(slot.dataset.index)]}
  }

  let overEl = null
  function markOver(elm) {
    if (overEl === elm) return
    if (overEl) overEl.classList.remove("lc-over")
    overEl = elm
    if (overEl) overEl.classList.add("lc-over")
  }

  function endDrag() {
    drag = null
    markOver(null)
    root.classList.remove("lc-dragging", "lc-dragging-edge")
  }

  root.addEventListener("dragstart", (e) => {
    if (readonly()) return e.preventDefault()
    const t = e.target instanceof Element ? e.target : null
    const port = t && t.closest(".lc-port")
    const item = t && t.closest(".lc-item")
    const node = t && t.closest(".lc-node")
    if (port && node) {
      drag = {kind: "edge", dagPath: JSON.parse(node.dataset.dag), from: node.dataset.id}
    } else if (item) {
      drag = {kind: "new", item: paletteItem(item.dataset.kind, item.dataset.type)}
      if (!drag.item) return endDrag()
    } else if (node) {
      drag = {kind: "move", path: JSON.parse(node.dataset.path), trigger: node.dataset.trigger === "1"}
    } else {
      return
    }
    e.stopPropagation()
    e.dataTransfer.setData("text/plain", drag.kind === "new" ? drag.item.type : drag.from || node.dataset.id)
    e.dataTransfer.effectAllowed = drag.kind === "new" ? "copy" : drag.kind === "edge" ? "link" : "move"
    root.classList.add(drag.kind === "edge" ? "lc-dragging-edge" : "lc-dragging")
  })

  root.addEventListener("dragover", (e) => {
    const target = dropTarget(e.target)
    markOver(target ? target.el : null)
    if (!target) return
    e.preventDefault()
    e.dataTransfer.dropEffect = drag.kind === "new" ? "copy" : drag.kind === "edge" ? "link" : "move"
  })

  root.addEventListener("dragleave", (e) => {
    if (overEl && e.target === overEl && !overEl.contains(e.relatedTarget)) markOver(null)
  })

  root.addEventListener("drop", (e) => {
    const target = dropTarget(e.target)
    const current = drag
    endDrag()
    if (!target) return
    e.preventDefault()
    attempt(() => {
      if (current.kind === "new") {
        const task = newTaskFrom(current.item)
        commit(edits.insertTask(flow, target.path, task), task.id)
      } else if (current.kind === "move") {
        commit(edits.moveTask(flow, current.path, target.path))
      } else if (current.kind === "edge") {
        commit(edits.connect(flow, current.dagPath, current.from, target.to))
      }
    })
  })

  root.addEventListener("dragend", endDrag)

  // -------------------------------------------------------------- clicks and keys

  root.addEventListener("mousedown", (e) => {
    if (!(e.target instanceof Element) || !e.target.closest("input")) root.focus({preventScroll: true})
  })

  root.addEventListener("click", (e) => {
    const t = e.target instanceof Element ? e.target : null
    if (!t) return
    const button = t.closest("button[data-action]")
    const node = t.closest(".lc-node")
    if (button) {
      const action = button.dataset.action
      if (action === "undo") undo()
      else if (action === "redo") redo()
      else if (action === "add-case" && node) askCase(button, node)
      else if (node && !readonly()) nodeAction(node, action)
      return
    }
    const edge = t.closest(".lc-edge")
    if (edge) {
      if (!readonly()) attempt(() => commit(edits.disconnect(flow, JSON.parse(edge.dataset.dag), edge.dataset.from, edge.dataset.to)))
      return
    }
    if (node) {
      model.selected = node.dataset.id
    } else if (t.closest(".lc-board")) {
      model.selected = ""
    }
  })

  root.addEventListener("dblclick", (e) => {
    const item = e.target instanceof Element ? e.target.closest(".lc-item") : null
    if (item && !readonly()) {
      const entry = paletteItem(item.dataset.kind, item.dataset.type)
      if (entry) appendFromPalette(entry)
    }
  })

  root.addEventListener("keydown", (e) => {
    if (e.target instanceof Element && e.target.closest("input, textarea")) return
    const mod = e.ctrlKey || e.metaKey
    const key = e.key.toLowerCase()
    if (mod && key === "z") {
      e.preventDefault()
      if (e.shiftKey) redo()
      else undo()
    } else if (mod && key === "y") {
      e.preventDefault()
      redo()
    } else if ((e.key === "Delete" || e.key === "Backspace") && model.selected && !readonly()) {
      const path = edits.findTask(flow, model.selected)
      if (path) {
        e.preventDefault()
        attempt(() => { commit(edits.deleteTask(flow, path)); dropStaleSelection() })
      }
    } else if (e.key === "Escape") {
      model.selected = ""
    }
  })

  search.addEventListener("input", filterPalette)

  // -------------------------------------------------------------- Python -> browser

  model.on("flow", () => {
    const next = isObj(model.flow) ? model.flow : {}
    const json = JSON.stringify(next)
    if (json === flowJson) return
    if (next.id !== flow.id || next.namespace !== flow.namespace) {
      undoStack.length = 0
      redoStack.length = 0
    } else {
      undoStack.push(flowJson)
      redoStack.length = 0
    }
    flow = next
    flowJson = json
    renderBoard()
  })
  model.on("selected", updateSelection)
  model.on(["errors", "readonly"], renderBoard)
  model.on("palette", () => { renderPalette(); renderBoard() })
  model.on("container_spec", () => { edits = makeEdits(model.container_spec || {}); renderBoard() })
  model.on("msg:custom", (msg) => {
    if (msg && msg.action === "reset_history") {
      undoStack.length = 0
      redoStack.length = 0
      updateToolbar()
    }
  })
  model.on(["after_layout", "resize"], () => { if (dagEdges.length) scheduleEdges() })
  model.on("remove", () => { if (resizes) resizes.disconnect() })

  el.append(root)
  renderPalette()
  renderBoard()
}
