// Tree edits of a flow held as Kestra YAML data: a mirror of builder/canvas/flow_edit.py
// (same names, same rules, same paths, same error sentences). The canvas applies them in
// the browser so that dragging stays instant; tests/browser/test_canvas.py checks the two
// implementations give identical results.
// Which properties of a task type hold child tasks, and in which shape, comes from the
// registry through the container spec (engine.model.registry.child_list_spec).

// ------------------------------------------------------------------ tree edits

export class EditError extends Error {}

export const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v)
export const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)))
const fmt = (path) => "/" + path.join("/")
const samePath = (a, b) => a.length === b.length && a.every((v, i) => v === b[i])
export const startsWith = (path, prefix) => prefix.length <= path.length && prefix.every((v, i) => v === path[i])
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
