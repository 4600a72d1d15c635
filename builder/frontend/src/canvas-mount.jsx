// Mount the canvas in a page element: `render({model, el})` over a Panel-style model (JSComponent's,
// or the notebook's imitation of it in notebook-canvas.js).

import {createRoot} from "react-dom/client"

import {CanvasApp, Controller} from "./canvas.jsx"
import {makeEdits} from "./edits.js"

export function render({model, el}) {
  const ctl = new Controller(model)
  model.on("flow", () => ctl.fromModel())
  model.on(["selected", "errors", "readonly", "palette"], () => ctl.bump())
  model.on("container_spec", () => { ctl.edits = makeEdits(model.container_spec || {}); ctl.bump() })
  model.on("msg:custom", (msg) => {
    if (msg && msg.action === "reset_history") {
      ctl.undoStack.length = 0
      ctl.redoStack.length = 0
      ctl.bump()
    }
  })
  // Unsaved changes: the browser asks before the page is left or reloaded.
  const guard = (e) => {
    if (!model.dirty) return
    e.preventDefault()
    e.returnValue = ""
  }
  window.addEventListener("beforeunload", guard)
  const host = document.createElement("div")
  host.className = "lc-host"
  el.append(host)
  const root = createRoot(host)
  root.render(<CanvasApp ctl={ctl} />)
  model.on("remove", () => { window.removeEventListener("beforeunload", guard); root.unmount() })
}
