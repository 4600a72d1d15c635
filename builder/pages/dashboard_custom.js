// The custom dashboard page's script (builder/pages/dashboard_custom.py): draw the charts the page carries,
// then keep them live: filters, a refresh every few seconds, the list of executions behind a tapped point.
(() => {
  "use strict";
  performance.mark("ln-script");  // Bokeh is loaded: the page's timeline (tests and bench B12 read these marks)
  const state = JSON.parse(document.getElementById("ln-dashboard-state").textContent);
  const form = document.querySelector(".ln-dash-filters");
  const shown = {};  // chart id -> {sig, names, views}
  const NUMERIC = new Set(["y", "n", "row", "start", "end"]);

  function section(id) {
    return document.querySelector(`section[data-chart="${CSS.escape(id)}"]`);
  }

  function query(extra) {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (value !== "") { params.set(key, value); }
    }
    for (const [key, value] of Object.entries(extra || {})) { params.set(key, value); }
    return params;
  }

  function column(name, values, current) {
    // JSON has no NaN: a missing number comes as null. Numbers go back into a typed array, as Bokeh sent them.
    const numeric = NUMERIC.has(name) || (name === "x" && current instanceof Float64Array);
    return numeric ? Float64Array.from(values, v => (v === null ? NaN : v)) : values;
  }

  function sources(id) {
    const found = {};
    for (const view of shown[id].views) {
      const doc = view.model.document;
      for (const name of shown[id].names) {
        const model = doc.get_model_by_name(name);
        if (model) { found[name] = model; }
      }
    }
    return found;
  }

  async function embed(id, chart) {
    const old = shown[id];
    const box = document.getElementById(`ln-plot-${id}`);
    if (old) {
      for (const view of old.views) {
        const i = Bokeh.documents.indexOf(view.model.document);
        if (i >= 0) { Bokeh.documents.splice(i, 1); }
        Bokeh.index.remove(view);
      }
    }
    box.replaceChildren();
    const manager = await Bokeh.embed.embed_item(chart.item, box);
    shown[id] = {sig: chart.sig, names: Object.keys(chart.series), views: [...manager.roots]};
  }

  function setBody(id, html) {
    const body = section(id).querySelector(".ln-dash-chart-body");
    body.innerHTML = html;
    delete shown[id];
  }

  async function apply(id, chart) {
    const now = shown[id];
    if (now && now.sig === chart.sig) { return; }
    if (chart.kind === "html") {
      if (!now || now.html !== chart.html) { setBody(id, chart.html); shown[id] = {sig: chart.sig, html: chart.html}; }
      return;
    }
    if (!document.getElementById(`ln-plot-${id}`)) {
      setBody(id, `<div class="ln-dash-plot" id="ln-plot-${id}"></div><div class="ln-dash-notes"></div>`);
    }
    const names = Object.keys(chart.series);
    const same = now && now.views && !chart.pie && names.join("\n") === now.names.join("\n");
    if (same) {
      const found = sources(id);
      for (const name of names) {
        const source = found[name];
        const data = {};
        for (const [key, values] of Object.entries(chart.series[name])) {
          data[key] = column(key, values, source.data[key]);
        }
        source.data = data;
      }
      now.sig = chart.sig;
    } else {
      if (!chart.item) {  // the series changed: this chart's figure is rebuilt on the server
        const more = await get(query({item: id}));
        if (!more || !more.charts[id] || !more.charts[id].item) { return; }
        chart = more.charts[id];
      }
      await embed(id, chart);
    }
    section(id).querySelector(".ln-dash-notes").innerHTML = chart.notes;
  }

  async function get(params) {
    const response = await fetch(`dashboard-data?${params}`, {headers: {Accept: "application/json"}});
    return response.ok ? response.json() : null;
  }

  let timer = null;
  let running = null;
  async function refresh() {
    clearTimeout(timer);
    if (running) { await running; }
    running = (async () => {
      try {
        const data = await get(query({item: ""}));
        if (data && !data.missing) {
          for (const [id, chart] of Object.entries(data.charts)) { await apply(id, chart); }
        }
      } catch (err) {
        console.warn("dashboard refresh failed", err);  // the server is away: try again at the next tick
      }
    })();
    await running;
    running = null;
    timer = setTimeout(refresh, state.refreshMs);
  }

  window.lnDrill = async (id, point) => {
    const box = section(id).querySelector(".ln-drill");
    const response = await fetch(`dashboard-drill?${query({chart: id, point: point})}`);
    box.innerHTML = response.ok ? await response.text() : "<p class='ln-error'>The executions could not be listed.</p>";
  };

  function filtered(event) {
    if (event) { event.preventDefault(); }
    history.replaceState(null, "", `?${query()}`);
    for (const box of document.querySelectorAll(".ln-drill")) { box.replaceChildren(); }
    refresh();
  }

  form.addEventListener("change", filtered);
  form.addEventListener("submit", filtered);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) { refresh(); } });

  (async () => {
    await Promise.all(Object.entries(state.charts).map(([id, chart]) => (
      chart.kind === "plot" ? embed(id, chart) : (shown[id] = {sig: chart.sig, html: chart.html}))));
    performance.mark("ln-embedded");
    timer = setTimeout(refresh, state.refreshMs);
  })();
})();
