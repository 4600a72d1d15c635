// Bundle the builder's browser code with esbuild: one self-contained ES module per entry (no
// shared chunks, so a bundle can also be inlined, as anywidget does in Jupyter), minified,
// with its CSS beside it. Output: builder/canvas/bundle/, which the Python package ships.
import {build} from "esbuild"
import {fileURLToPath} from "node:url"
import path from "node:path"

const here = path.dirname(fileURLToPath(import.meta.url))
const out = path.resolve(here, "..", "canvas", "bundle")

await build({
  entryPoints: {
    canvas: path.join(here, "src", "canvas-entry.jsx"),
    topology: path.join(here, "src", "topology-widget.js"),
    "yaml-editor": path.join(here, "src", "yaml-editor-entry.js"),
  },
  outdir: out,
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020"],
  jsx: "automatic",
  loader: {".js": "jsx"},
  define: {"process.env.NODE_ENV": '"production"'},
  legalComments: "none",
  logLevel: "warning",
})
console.log(`built ${out}`)
