// The ES module each notebook widget of Lanner carries: a few lines that load the real one.
//
// The drawing code (widget.js for flows, the builder's canvas for `%flow edit`) travels once per
// kernel, in a shared model (traits name, code, css, shadow, version) that each widget names in
// its `module` trait, instead of once per widget: a notebook with ten flows saves it once. The
// code is imported once per page and version.
const loaded = (globalThis.__lannerWidgets ??= new Map());

async function load(model) {
  const ref = String(model.get("module") || "");
  const shared = await model.widget_manager.get_model(ref.replace(/^IPY_MODEL_/, ""));
  const name = shared.get("name") || "flow";
  const key = `${name}:${shared.get("version")}`;
  if (!loaded.has(key)) {
    const url = URL.createObjectURL(new Blob([shared.get("code")], { type: "text/javascript" }));
    loaded.set(key, import(url).finally(() => URL.revokeObjectURL(url)));
  }
  const css = shared.get("css") || "";
  if (!shared.get("shadow")) {
    const id = `lanner-${name}-css`;
    const style = document.getElementById(id) ||
      document.head.appendChild(Object.assign(document.createElement("style"), { id }));
    if (style.textContent !== css) style.textContent = css;
  }
  return { module: (await loaded.get(key)).default, css };
}

export default {
  async render({ model, el }) {
    const { module, css } = await load(model);
    return module.render({ model, el, css });
  },
};
