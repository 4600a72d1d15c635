// Entry point of builder/canvas/bundle/canvas.js: one ES module with no imports, which Panel loads for
// FlowCanvas (`render`) and the notebook's `%flow edit` loads from a Blob URL (`notebook`, an anywidget
// module drawing the same canvas in a shadow root).
import "@xyflow/react/dist/style.css"
import "./canvas.css"

export {render} from "./canvas-mount.jsx"
export {makeEdits} from "./edits.js"
export {notebook} from "./notebook-canvas.js"
