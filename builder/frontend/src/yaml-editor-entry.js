// Entry of builder/canvas/bundle/yaml-editor.js: the flow's YAML editor (Panel JSComponent
// builder.canvas.yaml_editor.YamlEditor) on CodeMirror 6.
//
// Completion, hover documentation and validation come from the flow's JSON Schema (the one
// `lanner flow schema` prints, sent by Python) through codemirror-json-schema; inside `{{ }}`
// the completion offers the flow's own inputs, variables and `outputs.<task>.<key>` of every
// task of the text being edited, re-read at each keystroke.
import {EditorState} from "@codemirror/state"
import {
  EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers, showPanel,
} from "@codemirror/view"
import {defaultKeymap, history, historyKeymap, indentWithTab} from "@codemirror/commands"
import {autocompletion, closeBrackets, completionKeymap} from "@codemirror/autocomplete"
import {
  bracketMatching, defaultHighlightStyle, foldGutter, foldKeymap, indentOnInput, syntaxHighlighting,
} from "@codemirror/language"
import {lintGutter, lintKeymap} from "@codemirror/lint"
import {yamlLanguage} from "@codemirror/lang-yaml"
import {updateSchema} from "codemirror-json-schema"
import {yamlSchema} from "codemirror-json-schema/yaml"
import {isMap, isScalar, parse as parseYaml, parseDocument} from "yaml"

import "./yaml-editor.css"

const CONTEXT = ["execution.id", "execution.startDate", "flow.id", "flow.namespace", "taskrun.value", "trigger.date",
  "labels"]
const TASK_LISTS = ["tasks", "then", "else", "defaults", "errors", "finally", "afterExecution"]

// Every task of the flow (id, type), whatever container it sits in.
function tasksOf(flow) {
  const out = []
  const walk = (node, inTriggers) => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n, inTriggers))
    if (!node || typeof node !== "object") return
    if (!inTriggers && typeof node.id === "string" && typeof node.type === "string") out.push(node)
    for (const [key, value] of Object.entries(node)) {
      if (key === "triggers" || key === "inputs") continue
      if (TASK_LISTS.includes(key) || key === "cases" || key === "task" || (typeof value === "object" && value)) walk(value, false)
    }
  }
  walk(flow, false)
  return out
}

export function expressionsOf(flow, outputKeys) {
  if (!flow || typeof flow !== "object") return CONTEXT
  const out = []
  for (const input of Array.isArray(flow.inputs) ? flow.inputs : []) if (input && input.id) out.push(`inputs.${input.id}`)
  if (flow.variables && typeof flow.variables === "object") for (const k of Object.keys(flow.variables)) out.push(`vars.${k}`)
  for (const task of tasksOf(flow)) {
    const keys = outputKeys[task.type] || []
    out.push(`outputs.${task.id}`)
    for (const k of keys) out.push(`outputs.${task.id}.${k}`)
  }
  return [...out, ...CONTEXT]
}

function expressionCompletion(model) {
  let lastFlow = null
  return (ctx) => {
    const before = ctx.matchBefore(/\{\{\s*[\w.[\]'"-]*$/)
    if (!before) return null
    const lead = /^\{\{\s*/.exec(before.text)[0]
    // Half-typed YAML does not parse: the last text that did still names the flow's tasks and inputs.
    let flow = lastFlow
    try {
      flow = lastFlow = parseYaml(ctx.state.doc.toString())
    } catch {
      flow = lastFlow
    }
    const options = expressionsOf(flow, model.output_keys || {}).map((label) => ({
      label, type: label.startsWith("outputs.") ? "property" : "variable",
      apply: label, detail: label.startsWith("outputs.") ? "output" : label.split(".")[0],
    }))
    return {from: before.from + lead.length, options, validFor: /^[\w.[\]'"-]*$/}
  }
}

// After `type:`, every type name the schema knows (codemirror-json-schema cannot pick the enum of a `oneOf`
// branch before the branch is chosen, which is what the type decides): Lanner's names first, Kestra's after.
function typeCompletion(model) {
  let options = null
  let madeFor = null
  return (ctx) => {
    const line = ctx.state.doc.lineAt(ctx.pos)
    const m = /^(\s*(?:-\s+)?type:\s*)([\w.-]*)$/.exec(line.text.slice(0, ctx.pos - line.from))
    if (!m) return null
    if (madeFor !== model.schema) {
      madeFor = model.schema
      options = []
      for (const [name, def] of typeIndex(model.schema)) {
        const meta = def["x-lanner"] || {}
        const canonical = name === meta.canonical
        options.push({label: name, type: "type", detail: `${meta.icon || ""} ${meta.title || def.title || ""}`.trim(),
          info: (def.properties.type.description || "").split(": ").slice(1).join(": ") || undefined,
          boost: canonical ? 1 : -1})
      }
    }
    return {from: line.from + m[1].length, options, validFor: /^[\w.-]*$/}
  }
}

// ------------------------------------------------------------------ documentation of the task under the cursor

// Type name (canonical or alias) -> its definition in the flow schema (the enum of its `type` property names them).
function typeIndex(schema) {
  const index = new Map()
  for (const def of Object.values((schema && schema.$defs) || {})) {
    const names = def && def.properties && def.properties.type && def.properties.type.enum
    if (Array.isArray(names)) for (const name of names) if (!index.has(name)) index.set(name, def)
  }
  return index
}

// The innermost mapping around `pos` that has a `type` key: the task (or trigger) the cursor is in.
export function typeAt(text, pos) {
  let doc
  try {
    doc = parseDocument(text)
  } catch {
    return null
  }
  let best = null
  const visit = (node) => {
    if (!node || typeof node !== "object" || !node.range) return
    if (pos < node.range[0] || pos > node.range[2]) return
    if (isMap(node)) {
      const type = node.get("type", true)
      if (isScalar(type) && typeof type.value === "string") best = {type: type.value, id: String(node.get("id") ?? "")}
      for (const pair of node.items) visit(pair.value)
    } else if (Array.isArray(node.items)) {
      for (const item of node.items) visit(item)
    }
  }
  visit(doc.contents)
  return best
}

const plain = (text) => String(text || "").replace(/:(mod|class|func|meth|attr):`([^`]*)`/g, "$2").replace(/``/g, "`")

function describe(found, def, outputs) {
  const el = document.createElement("div")
  const add = (tag, cls, text) => {
    const node = document.createElement(tag)
    if (cls) node.className = cls
    node.textContent = text
    el.append(node)
    return node
  }
  if (!found) {
    add("span", "ln-doc-muted", "Put the cursor in a task to see what its type does and which properties it takes.")
    return el
  }
  if (!def) {
    add("b", "", found.type)
    add("span", "ln-doc-muted", " is not a known task type: check its spelling, or the plugin that provides it.")
    return el
  }
  const meta = def["x-lanner"] || {}
  const about = (def.properties.type.description || "").split(": ").slice(1).join(": ")
  add("div", "ln-doc-title", `${meta.icon || ""} ${meta.title || def.title} (${meta.canonical || found.type})`.trim())
  if (about) add("div", "ln-doc-about", about)
  const required = new Set((def.required || []).filter((k) => k !== "id" && k !== "type"))
  const props = Object.entries(def.properties || {}).filter(([k]) => k !== "id" && k !== "type")
  const list = add("dl", "ln-doc-props", "")
  for (const [name, prop] of [...props.filter(([k]) => required.has(k)), ...props.filter(([k]) => !required.has(k))]) {
    const dt = document.createElement("dt")
    dt.textContent = required.has(name) ? `${name} (required)` : name
    const dd = document.createElement("dd")
    dd.textContent = plain(prop.description || prop.title || "")
    list.append(dt, dd)
  }
  if (outputs && outputs.length) add("div", "ln-doc-outputs", `Outputs: ${outputs.map((k) => `outputs.${found.id || "<id>"}.${k}`).join(", ")}`)
  return el
}

// A panel under the editor documenting the type of the task the cursor is in (re-read after the cursor rests).
function docPanel(model) {
  return showPanel.of((view) => {
    const dom = document.createElement("div")
    dom.className = "ln-doc"
    dom.setAttribute("aria-live", "polite")
    let index = typeIndex(model.schema)
    let shown = undefined
    let timer = null
    const refresh = () => {
      const found = typeAt(view.state.doc.toString(), view.state.selection.main.head)
      const key = found ? `${found.type}\u0000${found.id}` : ""
      if (key === shown) return
      shown = key
      dom.dataset.type = found ? found.type : ""
      dom.replaceChildren(describe(found, found && index.get(found.type), found && (model.output_keys || {})[found.type]))
    }
    refresh()
    model.on("schema", () => { index = typeIndex(model.schema); shown = undefined; refresh() })
    return {
      dom, top: false,
      update(update) {
        if (!update.docChanged && !update.selectionSet) return
        clearTimeout(timer)
        timer = setTimeout(refresh, 120)
      },
      destroy() { clearTimeout(timer) },
    }
  })
}

// ------------------------------------------------------------------ the editor

export function render({model, el}) {
  let pushing = false
  let timer = null
  const flush = (view) => {
    clearTimeout(timer)
    const text = view.state.doc.toString()
    if (text !== model.value) {
      pushing = true
      model.value = text
      pushing = false
    }
  }
  // Every change is sent at once (as the previous editor did on each key): when the user clicks Save,
  // the server already has the text, and nothing on the page changes under the pointer during the click.
  const push = (view) => flush(view)
  const view = new EditorView({
    parent: el,
    state: EditorState.create({
      doc: model.value || "",
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), foldGutter(), drawSelection(), history(), indentOnInput(),
        bracketMatching(), closeBrackets(), highlightActiveLine(), lintGutter(),
        syntaxHighlighting(defaultHighlightStyle, {fallback: true}),
        yamlSchema(model.schema || {}),
        yamlLanguage.data.of({autocomplete: expressionCompletion(model)}),
        yamlLanguage.data.of({autocomplete: typeCompletion(model)}),
        autocompletion({activateOnTyping: true}),
        keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...foldKeymap, ...lintKeymap]),
        EditorState.readOnly.of(Boolean(model.readonly)),
        EditorView.updateListener.of((update) => { if (update.docChanged) push(update.view) }),
        EditorView.domEventHandlers({blur: (_event, view) => { flush(view) }}),
        EditorView.contentAttributes.of({"aria-label": "Flow YAML"}),
        docPanel(model),
      ],
    }),
  })
  // Belt and braces for Save: whatever is pressed next (a button, a tab, a link), the editor's text is sent
  // before that press's own event, so the server never acts on an older text.
  const before = (event) => { if (event.type !== "keydown" || event.key === "Enter" || event.key === " ") flush(view) }
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, before, true)
  el.classList.add("ln-cm")
  el.cmView = view // the tests and the page's own scripts read the text through the view
  model.on("value", () => {
    if (pushing) return
    const text = model.value || ""
    if (text === view.state.doc.toString()) return
    clearTimeout(timer)
    const head = Math.min(view.state.selection.main.head, text.length)
    view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}, selection: {anchor: head}})
  })
  model.on("schema", () => updateSchema(view, model.schema || {}))
  model.on("remove", () => {
    clearTimeout(timer)
    for (const type of ["pointerdown", "keydown"]) document.removeEventListener(type, before, true)
    view.destroy()
  })
}
