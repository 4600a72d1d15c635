"""Logs page (``/ui/logs``): log lines of every execution, newest first, a page at a time.

Filters: namespace (and its children), flow, minimum level (INFO unless told otherwise,
as in Kestra), time range and free text over the message and the task id. Each line
names its flow and task and links to its execution. :class:`LogList` is also the Logs
tab of a flow's page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from builder.history import LogFilter
from builder.human import when_html
from builder.pages.common import arg, esc, html_pane, shell, url
from builder.pages.executions import RANGES, pn_margin
from builder.services import LEVELS, Services
from engine.service import LogLevel

SIZE = 50


class LogList:
    """Filters, one page of log lines, pagination."""

    def __init__(self, services: Services, namespace: str = "", flow_id: str = "", *, fixed: bool = False,
                 level: str = "INFO", q: str = ""):
        import panel as pn

        self.services = services
        self.fixed = fixed
        self.namespace = pn.widgets.TextInput(name="Namespace", value=namespace, width=170,
                                              css_classes=["ln-lf-namespace"])
        self.flow = pn.widgets.TextInput(name="Flow", value=flow_id, width=150, css_classes=["ln-lf-flow"])
        self.level = pn.widgets.Select(name="Minimum level", options=list(LEVELS),
                                       value=level if level in LEVELS else "INFO", width=130, css_classes=["ln-lf-level"])
        self.range = pn.widgets.Select(name="Written", options=list(RANGES), value="Any time", width=140,
                                       css_classes=["ln-lf-range"])
        self.q = pn.widgets.TextInput(name="Search", value=q, placeholder="text in the message", width=200,
                                      css_classes=["ln-lf-q"])
        self.page = 1
        self.info = html_pane("", css_classes=["ln-log-page-info"], width=260)
        self.prev = pn.widgets.Button(name="‹ Newer", width=90, css_classes=["ln-log-prev"])
        self.next = pn.widgets.Button(name="Older ›", width=90, css_classes=["ln-log-next"])
        self.lines = html_pane("", css_classes=["ln-log-list"])
        for w in (self.namespace, self.flow, self.level, self.range, self.q):
            w.param.watch(self._filter_changed, "value")
        self.prev.on_click(lambda _e: self.go_to(self.page - 1))
        self.next.on_click(lambda _e: self.go_to(self.page + 1))
        self.refresh()

    def filters(self) -> LogFilter:
        span = RANGES[self.range.value]
        return LogFilter(namespace=self.namespace.value.strip(), flow_id=self.flow.value.strip(),
                         min_level=cast("LogLevel", self.level.value),
                         since=datetime.now(UTC) - span if span else None, q=self.q.value.strip())

    def _filter_changed(self, _event: Any = None) -> None:
        self.page = 1
        self.refresh()

    def go_to(self, page: int) -> None:
        self.page = max(1, page)
        self.refresh()

    def refresh(self) -> None:
        rows, total = self.services.search_logs(self.filters(), self.page, SIZE)
        pages = max(1, -(-total // SIZE))
        self.info.object = (f"<span class='ln-muted'>Page <b class='ln-log-page'>{self.page}</b> of {pages} · "
                            f"<b class='ln-log-total'>{total}</b> line{'s' if total != 1 else ''}</span>")
        self.prev.disabled = self.page <= 1
        self.next.disabled = self.page >= pages
        out = []
        for r in rows:
            flow = "" if self.fixed else f"{esc(r.get('namespace') or '')}.{esc(r.get('flowId') or '')} "
            out.append(
                f"<div class='ln-log-line ln-log-{esc(r['level'])}' data-execution='{esc(r['executionId'])}'>"
                f"{when_html(r['timestamp'])} <b>{esc(r['level'])}</b> {flow}[{esc(r.get('taskId') or 'execution')}] "
                f"{esc(r['message'])} <a class='ln-log-open' href='{url('execution', id=r['executionId'])}'>"
                f"execution {esc(r['executionId'][:10])}</a></div>")
        body = "".join(out) or "<span class='ln-muted ln-no-logs'>No log line matches these filters.</span>"
        self.lines.object = f"<div class='ln-logs'>{body}</div>"

    def view(self) -> Any:
        import panel as pn

        filters = [self.level, self.range, self.q]
        if not self.fixed:
            filters = [self.namespace, self.flow, *filters]
        return pn.Column(pn.Row(*filters, self.info, self.prev, self.next, sizing_mode="stretch_width"),
                         self.lines, sizing_mode="stretch_width")


def page(services: Services) -> Any:
    listing = LogList(services, arg("namespace"), arg("flowId"), level=arg("level", "INFO"), q=arg("q"))
    return shell("logs", "Logs", pn_margin(listing.view()))
