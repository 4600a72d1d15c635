// The ES module each notebook widget of Lanner carries: a few lines that load the real one.
//
// The drawing code (the topology bundle for flows, the builder's canvas bundle for `%flow edit`, both
// built from builder/frontend) travels once per kernel, in a shared model (traits name, code, css,
// shadow, version, encoding) that each widget names in its `module` trait, instead of once per
// widget: a notebook with ten flows saves it once. Code and CSS come gzip-compressed and base64
// encoded (encoding "gzip"), so the saved notebook stays small; the code is one ES module with no
// imports, imported from a Blob URL once per page and version. Its anywidget module is its
// `notebook` export, or its default one.
const loaded = (globalThis.__lannerWidgets ??= new Map());

async function text(shared, trait) {
  const value = shared.get(trait) || "";
  if (shared.get("encoding") !== "gzip" || !value) return value;
  const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
}

async function importCode(shared) {
  const url = URL.createObjectURL(new Blob([await text(shared, "code")], { type: "text/javascript" }));
  try {
    return await import(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function load(model) {
  const ref = String(model.get("module") || "");
  const shared = await model.widget_manager.get_model(ref.replace(/^IPY_MODEL_/, ""));
  const name = shared.get("name") || "flow";
  const key = `${name}:${shared.get("version")}`;
  if (!loaded.has(key)) loaded.set(key, importCode(shared));
  const css = await text(shared, "css");
  if (!shared.get("shadow")) {
    const id = `lanner-${name}-css`;
    const style = document.getElementById(id) ||
      document.head.appendChild(Object.assign(document.createElement("style"), { id }));
    if (style.textContent !== css) style.textContent = css;
  }
  const mod = await loaded.get(key);
  return { module: mod.notebook || mod.default, css };
}

export default {
  async render({ model, el }) {
    const { module, css } = await load(model);
    return module.render({ model, el, css });
  },
};
