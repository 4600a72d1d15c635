// The ES module every notebook FlowWidget carries: a few lines that load the real one (widget.js).
//
// widget.js and widget.css travel once per kernel, in a shared model (traits `code` and `css`)
// that each widget references in its `module` trait, instead of once per widget: a notebook
// with ten flows saves them once. The code is imported once per page and module version.
const loaded = (globalThis.__lannerFlowWidget ??= new Map());

async function load(model) {
  const ref = String(model.get("module") || "");
  const shared = await model.widget_manager.get_model(ref.replace(/^IPY_MODEL_/, ""));
  const code = shared.get("code");
  const key = shared.get("version") + ":" + code.length;
  if (!loaded.has(key)) {
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    loaded.set(key, import(url).finally(() => URL.revokeObjectURL(url)));
  }
  const style = document.getElementById("lanner-flow-widget-css") ||
    document.head.appendChild(Object.assign(document.createElement("style"), { id: "lanner-flow-widget-css" }));
  if (style.textContent !== shared.get("css")) style.textContent = shared.get("css");
  return (await loaded.get(key)).default;
}

export default {
  async render({ model, el }) {
    const widget = await load(model);
    return widget.render({ model, el });
  },
};
