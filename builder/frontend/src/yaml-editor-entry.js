// Entry of builder/canvas/bundle/yaml-editor.js: the flow's YAML editor (Panel JSComponent
// builder.canvas.yaml_editor.YamlEditor) on CodeMirror 6.
//
// Completion, hover documentation and validation come from the flow's JSON Schema (the one
// `lanner flow schema` prints, sent by Python) through codemirror-json-schema; inside `{{ }}`
// the completion offers the flow's own inputs, variables and `outputs.<task>.<key>` of every
// task of the text being edited, re-read at each keystroke.
import {EditorState} from "@codemirror/state"
import {
  EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers,
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
import {parse as parseYaml} from "yaml"

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
  return (ctx) => {
    const before = ctx.matchBefore(/\{\{\s*[\w.[\]'"-]*$/)
    if (!before) return null
    const lead = /^\{\{\s*/.exec(before.text)[0]
    let flow = null
    try {
      flow = parseYaml(ctx.state.doc.toString())
    } catch {
      flow = null
    }
    const options = expressionsOf(flow, model.output_keys || {}).map((label) => ({
      label, type: label.startsWith("outputs.") ? "property" : "variable",
      apply: label, detail: label.startsWith("outputs.") ? "output" : label.split(".")[0],
    }))
    return {from: before.from + lead.length, options, validFor: /^[\w.[\]'"-]*$/}
  }
}

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
        autocompletion({activateOnTyping: true}),
        keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...foldKeymap, ...lintKeymap]),
        EditorState.readOnly.of(Boolean(model.readonly)),
        EditorView.updateListener.of((update) => { if (update.docChanged) push(update.view) }),
        EditorView.domEventHandlers({blur: (_event, view) => { flush(view) }}),
        EditorView.contentAttributes.of({"aria-label": "Flow YAML"}),
      ],
    }),
  })
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
  model.on("remove", () => { clearTimeout(timer); view.destroy() })
}
