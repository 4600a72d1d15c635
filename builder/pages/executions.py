"""Executions page (``/ui/executions``): every execution, filtered, a page at a time, with bulk restart/kill.

Filters (namespace, flow, state, labels, time range, free text) and the page go to
the engine, which cuts the page in the store; rows show the state, the flow (linked
to its page), labels, when it started ("2 min ago") and how long it took, each
linked to its execution page. Tick rows (or the whole page) to restart or kill
them together; each refusal is named. The list refreshes itself while you watch.
:class:`ExecutionList` is also the Executions tab of a flow's page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from builder.history import ExecutionFilter, parse_labels
from builder.human import took, when_html
from builder.pages.common import Poller, arg, badge, esc, html_pane, shell, url
from builder.services import Services
from engine.model.state import State

RANGES = {"Any time": None, "Last hour": timedelta(hours=1), "Last 24 hours": timedelta(days=1),
          "Last 7 days": timedelta(days=7), "Last 30 days": timedelta(days=30)}
SIZES = [10, 25, 50, 100]
REFRESH_MS = 2000


class ExecutionList:
    """Filters, one page of executions with checkboxes, pagination and bulk actions."""

    def __init__(self, services: Services, namespace: str = "", flow_id: str = "", *, fixed: bool = False,
                 states: list[str] | None = None, labels: str = "", q: str = "", size: int = 25):
        import panel as pn

        self.services = services
        self.fixed = fixed  # a flow's page: namespace and flow are not filters
        self.namespace = pn.widgets.TextInput(name="Namespace", value=namespace, placeholder="company.team",
                                              width=170, css_classes=["ln-f-namespace"])
        self.flow = pn.widgets.TextInput(name="Flow", value=flow_id, placeholder="flow id", width=150,
                                         css_classes=["ln-f-flow"])
        self.states = pn.widgets.MultiChoice(name="State", options=[s.value for s in State],
                                             value=[s for s in states or [] if s in State.__members__], width=230,
                                             css_classes=["ln-f-state"])
        self.labels = pn.widgets.TextInput(name="Labels", value=labels, placeholder="team:data", width=150,
                                           css_classes=["ln-f-labels"])
        self.range = pn.widgets.Select(name="Started", options=list(RANGES), value="Any time", width=140,
                                       css_classes=["ln-f-range"])
        self.q = pn.widgets.TextInput(name="Search", value=q, placeholder="id, flow, label...", width=170,
                                      css_classes=["ln-f-q"])
        self.sort = pn.widgets.Select(name="Order", options=["Newest first", "Oldest first"], width=130,
                                      css_classes=["ln-sort"])
        self.size = pn.widgets.Select(name="Per page", options=SIZES, value=size if size in SIZES else 25, width=90,
                                      css_classes=["ln-page-size"])
        self.page = 1
        self.total = 0
        self.selected: set[str] = set()
        self.shown: list[dict[str, Any]] = []
        self.message = html_pane("", css_classes=["ln-bulk-message"])
        self.info = html_pane("", css_classes=["ln-page-info"], width=260)
        self.rows = pn.Column(sizing_mode="stretch_width", css_classes=["ln-executions"])
        self.all = pn.widgets.Checkbox(name="Select the page", width=140, css_classes=["ln-select-all"])
        self.prev = pn.widgets.Button(name="‹ Previous", width=100, css_classes=["ln-prev-page"])
        self.next = pn.widgets.Button(name="Next ›", width=90, css_classes=["ln-next-page"])
        self.restart = pn.widgets.Button(name="Restart selected", button_type="warning", width=140,
                                         css_classes=["ln-bulk-restart"], disabled=True)
        self.kill = pn.widgets.Button(name="Kill selected", button_type="danger", width=120,
                                      css_classes=["ln-bulk-kill"], disabled=True)
        for w in (self.namespace, self.flow, self.labels, self.q):
            w.param.watch(self._filter_changed, "value")
        for w in (self.states, self.range, self.sort, self.size):
            w.param.watch(self._filter_changed, "value")
        self.all.param.watch(self._select_page, "value")
        self.prev.on_click(lambda _e: self.go_to(self.page - 1))
        self.next.on_click(lambda _e: self.go_to(self.page + 1))
        self.restart.on_click(lambda _e: self.bulk("restart"))
        self.kill.on_click(lambda _e: self.bulk("kill"))
        self._signature: Any = None
        self.refresh()

    # --- querying -------------------------------------------------------------------------------------

    def filters(self) -> ExecutionFilter:
        """The filters as the widgets hold them (ValueError for a malformed label filter)."""
        span = RANGES[self.range.value]
        return ExecutionFilter(
            namespace=self.namespace.value.strip(), flow_id=self.flow.value.strip(), states=tuple(self.states.value),
            labels=parse_labels(self.labels.value), since=datetime.now(UTC) - span if span else None,
            q=self.q.value.strip(), oldest_first=self.sort.value == "Oldest first")

    def _filter_changed(self, _event: Any = None) -> None:
        self.page = 1
        self.selected.clear()
        self.refresh(force=True)

    def go_to(self, page: int) -> None:
        self.page = max(1, page)
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Query the current page; redraw only when something changed (the periodic refresh calls it)."""
        try:
            flt = self.filters()
        except ValueError as exc:
            self.message.object = f"<span class='ln-error'>{esc(exc)}</span>"
            return
        size = int(self.size.value)
        rows, total = self.services.search_executions(flt, self.page, size)
        pages = max(1, -(-total // size))
        if self.page > pages:  # the list shrank under us: show its last page
            self.page = pages
            rows, total = self.services.search_executions(flt, self.page, size)
        # The range's name, not its moving start: an unchanged page is not redrawn (ticks and scroll stay).
        signature = (replace(flt, since=None), self.range.value, self.page, size, total,
                     [(r["id"], r["state"], r.get("labels")) for r in rows])
        if signature == self._signature and not force:
            return
        self._signature = signature
        self.total, self.shown = total, rows
        self.info.object = (f"<span class='ln-muted'>Page <b class='ln-page'>{self.page}</b> of {pages} · "
                            f"<b class='ln-total'>{total}</b> execution{'s' if total != 1 else ''}</span>")
        self.prev.disabled = self.page <= 1
        self.next.disabled = self.page >= pages
        self._draw()

    def _draw(self) -> None:
        import panel as pn

        head = ("<table class='ln-table'><tr><th style='width:14%'>State</th><th style='width:26%'>Execution</th>"
                "<th style='width:20%'>Labels</th><th style='width:16%'>Started</th><th>Took</th></tr></table>")
        out: list[Any] = [html_pane(head, margin=(0, 0, 0, 40))]
        for r in self.shown:
            box = pn.widgets.Checkbox(value=r["id"] in self.selected, width=24, css_classes=["ln-select", f"ln-select-{r['id']}"])
            box.param.watch(lambda e, ex_id=r["id"]: self._toggle(ex_id, e.new), "value")
            labels = "".join(f"<span class='ln-label'>{esc(k)}:{esc(v)}</span>"
                             for k, v in (r.get("labels") or {}).items() if not k.startswith("system."))
            flow = ("" if self.fixed else
                    f"<br><a class='ln-flow-page' href='{url('flow', namespace=r['namespace'], id=r['flowId'])}'>"
                    f"{esc(r['namespace'])}.{esc(r['flowId'])}</a>")
            cells = (f"<table class='ln-table'><tr class='ln-execution-row' data-id='{esc(r['id'])}' "
                     f"data-state='{esc(r['state'])}'><td style='width:14%'>{badge(r['state'])}</td>"
                     f"<td style='width:26%'><a class='ln-open' href='{url('execution', id=r['id'])}'>"
                     f"<code>{esc(r['id'][:10])}</code></a>{flow}</td><td style='width:20%'>{labels}</td>"
                     f"<td style='width:16%'>{when_html(r.get('startDate'))}</td>"
                     f"<td>{esc(took(r.get('startDate'), r.get('endDate')))}</td></tr></table>")
            out.append(pn.Row(box, html_pane(cells), sizing_mode="stretch_width", margin=0))
        if not self.shown:
            out.append(html_pane("<p class='ln-muted ln-no-executions'>No execution matches these filters.</p>"))
        self.rows.objects = out
        self._update_bulk()

    # --- selection and bulk actions ----------------------------------------------------------------------

    def _toggle(self, execution_id: str, on: bool) -> None:
        (self.selected.add if on else self.selected.discard)(execution_id)
        self._update_bulk()

    def _select_page(self, event: Any) -> None:
        ids = {r["id"] for r in self.shown}
        self.selected = self.selected | ids if event.new else self.selected - ids
        self._draw()

    def _update_bulk(self) -> None:
        n = len(self.selected)
        self.restart.disabled = self.kill.disabled = n == 0
        self.restart.name = f"Restart selected ({n})" if n else "Restart selected"
        self.kill.name = f"Kill selected ({n})" if n else "Kill selected"

    def bulk(self, action: str) -> None:
        """Restart or kill every ticked execution; say how many it was done to and why others were refused."""
        ids = sorted(self.selected)
        done, refused = self.services.bulk("restart" if action == "restart" else "kill", ids)
        verb = "Restarted" if action == "restart" else "Kill requested for"
        text = f"<span class='ln-ok'>{verb} {len(done)} execution{'s' if len(done) != 1 else ''}.</span>"
        if refused:
            items = "".join(f"<li><code>{esc(ex_id[:10])}</code>: {esc(why)}</li>" for ex_id, why in refused.items())
            text += f"<div class='ln-error'>{len(refused)} refused:<ul>{items}</ul></div>"
        self.message.object = text
        self.selected.clear()
        self.all.value = False
        self.refresh(force=True)

    def view(self) -> Any:
        import panel as pn

        filters = [self.states, self.labels, self.range, self.q, self.sort, self.size]
        if not self.fixed:
            filters = [self.namespace, self.flow, *filters]
        Poller(self.refresh, REFRESH_MS).start()
        return pn.Column(pn.Row(*filters, sizing_mode="stretch_width"),
                         pn.Row(self.all, self.restart, self.kill, self.info, self.prev, self.next,
                                sizing_mode="stretch_width"),
                         self.message, self.rows, sizing_mode="stretch_width")


def page(services: Services) -> Any:
    states = [s for s in arg("state").split(",") if s]
    size = int(arg("size")) if arg("size").isdigit() else 25
    listing = ExecutionList(services, arg("namespace"), arg("flowId"), states=states, labels=arg("labels"),
                            q=arg("q"), size=size)
    return shell("executions", "Executions", pn_margin(listing.view()))


def pn_margin(body: Any) -> Any:
    """The page body with the shell's side margins."""
    import panel as pn

    return pn.Column(body, sizing_mode="stretch_width", margin=(0, 16))
