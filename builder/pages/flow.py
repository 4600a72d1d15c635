"""A flow's page (``/ui/flow?namespace=..&id=..``): its executions, triggers, revisions, logs and dependencies.

Kestra's flow view for people who do not edit YAML: what ran and when (the
Executions list of the Executions page, fixed to this flow), what starts it, every
revision (read one, diff two, restore one as a new revision), its log lines, and
the flows it is linked to (subflows it calls, flows that call it, the upstream flows
its Flow triggers listen to and the flows whose Flow triggers listen to it).
"""

from __future__ import annotations

import difflib
from typing import Any

from builder.human import when_html
from builder.pages.common import arg, esc, html_pane, shell, url
from builder.pages.executions import ExecutionList, pn_margin
from builder.pages.logs import LogList
from builder.services import Services


def diff_html(old_text: str, new_text: str, old: int, new: int) -> str:
    """A unified diff of two YAML texts, lines coloured (added, removed, hunk headers)."""
    lines = []
    for line in difflib.unified_diff(old_text.splitlines(), new_text.splitlines(), f"revision {old}",
                                     f"revision {new}", lineterm=""):
        cls = "ln-diff-add" if line.startswith("+") else "ln-diff-del" if line.startswith("-") else \
            "ln-diff-hunk" if line.startswith("@@") else ""
        lines.append(f"<div class='{cls}'>{esc(line) or '&nbsp;'}</div>")
    return f"<pre class='ln-logs'>{''.join(lines) or 'No difference.'}</pre>"


class Revisions:
    """Every revision of the flow: read one, diff two, restore one (saved again as the newest revision)."""

    def __init__(self, services: Services, namespace: str, flow_id: str):
        import panel as pn

        self.services, self.namespace, self.flow_id = services, namespace, flow_id
        self.table = html_pane("", css_classes=["ln-fr-table"])
        self.view_rev = pn.widgets.Select(name="Revision", width=110, css_classes=["ln-fr-view"])
        self.yaml = html_pane("", css_classes=["ln-fr-yaml"])
        self.restore = pn.widgets.Button(name="Restore this revision", button_type="warning", width=180,
                                         css_classes=["ln-fr-restore"],
                                         description="Save this revision's YAML again as the newest revision")
        self.old = pn.widgets.Select(name="Diff from", width=110, css_classes=["ln-fr-from"])
        self.new = pn.widgets.Select(name="to", width=110, css_classes=["ln-fr-to"])
        self.diff = html_pane("", css_classes=["ln-fr-diff"])
        self.message = html_pane("", css_classes=["ln-fr-message"])
        self.view_rev.param.watch(lambda _e: self.show_yaml(), "value")
        self.old.param.watch(lambda _e: self.show_diff(), "value")
        self.new.param.watch(lambda _e: self.show_diff(), "value")
        self.restore.on_click(lambda _e: self.do_restore())
        self.load()

    def load(self) -> None:
        revs = self.services.revisions(self.namespace, self.flow_id)
        rows = "".join(f"<tr class='ln-fr-row' data-revision='{r['revision']}'><td>revision {r['revision']}</td>"
                       f"<td>{when_html(r['updated'])}</td><td>{'deleted' if r['deleted'] else ''}</td></tr>"
                       for r in reversed(revs))
        self.table.object = f"<table class='ln-table'>{rows}</table>"
        numbers = [r["revision"] for r in revs if not r["deleted"]]
        for w in (self.view_rev, self.old, self.new):
            w.options = numbers
        if numbers:
            self.view_rev.value = numbers[-1]
            self.old.value = numbers[max(0, len(numbers) - 2)]
            self.new.value = numbers[-1]
        self.show_yaml()
        self.show_diff()

    def _source(self, revision: int | None) -> str:
        if revision is None:
            return ""
        return self.services.flow_source(self.namespace, self.flow_id, revision) or ""

    def show_yaml(self) -> None:
        self.yaml.object = f"<pre class='ln-logs ln-fr-source'>{esc(self._source(self.view_rev.value))}</pre>"

    def show_diff(self) -> None:
        if self.old.value is None or self.new.value is None:
            self.diff.object = ""
            return
        self.diff.object = diff_html(self._source(self.old.value), self._source(self.new.value),
                                     self.old.value, self.new.value)

    def do_restore(self) -> None:
        chosen = self.view_rev.value
        result = self.services.save_flow(self._source(chosen))
        if not result.ok:
            self.message.object = f"<span class='ln-error'>Revision {chosen} was not restored: " \
                                  f"{esc('; '.join(result.errors))}</span>"
            return
        self.message.object = (f"<span class='ln-ok ln-restored'>Restored revision {chosen} as revision "
                               f"{result.revision}.</span>")
        self.load()

    def view(self) -> Any:
        import panel as pn

        return pn.Column(self.message, self.table, pn.Row(self.view_rev, self.restore), self.yaml,
                         pn.Row(self.old, self.new), self.diff, sizing_mode="stretch_width")


def _flow_links(pairs: list[tuple[str, str]], css: str, empty: str) -> str:
    if not pairs:
        return f"<p class='ln-muted {css}'>{esc(empty)}</p>"
    items = "".join(f"<li><a href='{url('flow', namespace=ns, id=fid)}'>{esc(ns)}.{esc(fid)}</a></li>"
                    for ns, fid in pairs)
    return f"<ul class='{css}'>{items}</ul>"


def dependencies_html(services: Services, namespace: str, flow_id: str) -> str:
    deps = services.dependencies(namespace, flow_id)
    return (
        "<h4>Subflows it runs</h4>" + _flow_links(deps.calls, "ln-dep-calls", "None.")
        + "<h4>Flows that run it as a subflow</h4>" + _flow_links(deps.called_by, "ln-dep-called-by", "None.")
        + "<h4>Flows its Flow triggers wait for</h4>" + _flow_links(deps.triggered_by, "ln-dep-triggered-by", "None.")
        + "<h4>Flows whose Flow trigger waits for it</h4>" + _flow_links(deps.triggers, "ln-dep-triggers", "None."))


def triggers_html(services: Services, namespace: str, flow_id: str) -> str:
    found = [t for t in services.triggers(namespace) if t["namespace"] == namespace and t["flowId"] == flow_id]
    if not found:
        return "<p class='ln-muted ln-no-triggers'>This flow has no trigger.</p>"
    rows = "".join(
        f"<tr class='ln-ft-row' data-trigger='{esc(t['triggerId'])}'><td>{esc(t['triggerId'])}</td>"
        f"<td class='ln-muted'>{esc(t['type'])}</td><td>{esc(t['cron'] or '')} {esc(t['timezone'] if t['cron'] else '')}"
        f"</td><td>{'disabled' if t['disabled'] else 'next ' + when_html(t['next']) if t['next'] else ''}</td></tr>"
        for t in found)
    return (f"<table class='ln-table'>{rows}</table><p><a href='{url('triggers')}'>Enable, disable or backfill "
            "on the Triggers page</a></p>")


def page(services: Services) -> Any:
    import panel as pn

    namespace, flow_id = arg("namespace"), arg("id")
    if services.flow_source(namespace, flow_id) is None:
        return shell("flows", "Flow not found", html_pane(
            f"<p class='ln-error' style='margin:16px'>There is no flow {esc(namespace)}.{esc(flow_id)}.</p>"))
    links = (f"<a class='ln-edit-link' href='{url('editor', namespace=namespace, id=flow_id)}'>✏️ Edit</a> · "
             f"<a href='{url('execute', namespace=namespace, id=flow_id)}'>▶ Execute</a>")
    tabs = pn.Tabs(
        ("Executions", ExecutionList(services, namespace, flow_id, fixed=True).view()),
        ("Triggers", html_pane(triggers_html(services, namespace, flow_id), css_classes=["ln-flow-triggers"])),
        ("Revisions", Revisions(services, namespace, flow_id).view()),
        ("Logs", LogList(services, namespace, flow_id, fixed=True).view()),
        ("Dependencies", html_pane(dependencies_html(services, namespace, flow_id), css_classes=["ln-deps"])),
        dynamic=True, sizing_mode="stretch_width", css_classes=["ln-flow-tabs"])
    if arg("tab").isdigit():
        tabs.active = min(int(arg("tab")), len(tabs) - 1)
    return shell("flows", f"{esc(namespace)}.{esc(flow_id)}", pn_margin(pn.Column(html_pane(links), tabs,
                                                                                  sizing_mode="stretch_width")))
