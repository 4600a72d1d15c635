// `%flow edit`: the builder's canvas (canvas-entry.jsx, the very module Panel runs) inside a notebook
// cell, through anywidget. The canvas bundle exports it as `notebook`; builder/jupyter/loader.js
// imports the bundle once per kernel (from a Blob URL: the bundle is one ES module with no imports)
// and calls `notebook.render({model, el, css})`.
//
// The canvas is written for Panel's JSComponent model (`model.flow` to read, `model.flow = x`
// to write, `model.on("flow" | ["errors", ...] | "msg:custom" | "after_layout" | "resize" |
// "remove", cb)`); nbCanvasModel gives it that over anywidget's get/set/save_changes/on. Its
// stylesheet is scoped with `:host` and carries React Flow's, so it is drawn in a shadow root, as
// Panel does. Above it, a bar says where the flow is saved and whether it is, with a Save button:
// the kernel validates and writes.

import {render} from "./canvas-mount.jsx"

function nbCanvasModel(model, lifecycle) {
  const subscriptions = [];
  const on = (names, callback) => {
    for (const name of [].concat(names)) {
      if (name in lifecycle) {
        lifecycle[name].push(callback);
        continue;
      }
      const event = name === "msg:custom" ? name : `change:${name}`;
      model.on(event, callback);
      subscriptions.push([event, callback]);
    }
  };
  const proxy = new Proxy({}, {
    get: (_target, key) => (key === "on" ? on : model.get(key)),
    set: (_target, key, value) => {
      model.set(key, value);
      model.save_changes();
      return true;
    },
  });
  return { proxy, subscriptions };
}

function nbBar(model) {
  const bar = document.createElement("div");
  bar.className = "lanner-edit-bar";
  bar.style.cssText = "display:flex;gap:8px;align-items:center;padding:4px 0;font:13px system-ui,sans-serif";
  const target = document.createElement("code");
  const status = document.createElement("span");
  status.className = "lanner-edit-status";
  const save = document.createElement("button");
  save.type = "button";
  save.className = "lanner-edit-save";
  save.textContent = "Save";
  save.addEventListener("click", () => model.send({ kind: "save" }));
  const colours = { saved: "#15803d", unsaved: "#b45309", invalid: "#b91c1c", error: "#b91c1c" };
  const show = () => {
    const st = model.get("status") || {};
    target.textContent = model.get("target") || "";
    status.textContent = st.message || "";
    status.dataset.state = st.state || "";
    status.style.color = colours[st.state] || "#475569";
    save.disabled = st.state === "saved" || st.state === "invalid";
  };
  bar.append(save, target, status);
  show();
  return { bar, show };
}

export const notebook = {
  render({ model, el, css }) {
    const lifecycle = { after_layout: [], resize: [], remove: [] };
    const { proxy, subscriptions } = nbCanvasModel(model, lifecycle);
    const { bar, show } = nbBar(model);
    const host = document.createElement("div");
    host.className = "lanner-edit-canvas";
    host.style.cssText = "height:640px;position:relative";
    const shadow = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = `${css || ""}\n.nb-canvas-root { height: 100%; }`;
    const root = document.createElement("div");
    root.className = "nb-canvas-root";
    shadow.append(style, root);
    el.append(bar, host);
    render({ model: proxy, el: root });
    for (const event of ["change:status", "change:target"]) {
      model.on(event, show);
      subscriptions.push([event, show]);
    }
    const resized = new ResizeObserver(() => lifecycle.resize.forEach((f) => f()));
    resized.observe(host);
    requestAnimationFrame(() => lifecycle.after_layout.forEach((f) => f()));
    return () => {
      resized.disconnect();
      lifecycle.remove.forEach((f) => f());
      for (const [event, callback] of subscriptions) model.off(event, callback);
    };
  },
};
