"""Flows page: the namespace tree, search, each flow's labels and last state, create, import, delete."""

from __future__ import annotations

from typing import Any

from builder.pages.common import arg, badge, esc, go, html_pane, shell, url
from builder.services import Services

_ID_HINT = "letters, digits, _ and -, starting with a letter or digit"


def namespace_tree(namespaces: list[str], active: str = "") -> str:
    """Nested list of namespaces, each a link that filters the page."""
    def children(prefix: str) -> list[str]:
        depth = prefix.count(".") + 1 if prefix else 0
        return [n for n in namespaces if n.count(".") == depth and (not prefix or n.startswith(prefix + "."))]

    def render(prefix: str) -> str:
        items = []
        for ns in children(prefix):
            cls = " style='font-weight:700'" if ns == active else ""
            items.append(f"<li><a href='{url('flows', namespace=ns)}'{cls}>📁 {esc(ns.rsplit('.', 1)[-1])}</a>"
                         f"{render(ns)}</li>")
        return f"<ul>{''.join(items)}</ul>" if items else ""

    return f"<div class='ln-tree'><a href='{url('flows')}'>All namespaces</a>{render('')}</div>"


class FlowsPage:
    def __init__(self, services: Services):
        import panel as pn

        self.services = services
        self.namespace = arg("namespace")
        self.search = pn.widgets.TextInput(placeholder="Search id, namespace, label…", width=320,
                                           css_classes=["ln-search"])
        self.search.param.watch(lambda _e: self.refresh(), "value_input")
        self.table = pn.Column(sizing_mode="stretch_width", css_classes=["ln-flow-list"])
        self.message = html_pane("", css_classes=["ln-message"])
        self.undo_box = pn.Row(width=100)
        self.pending_delete: tuple[str, str] | None = None
        self.tree = html_pane("")

        self.new_ns = pn.widgets.TextInput(name="Namespace", value=self.namespace or "company.team", width=200,
                                           css_classes=["ln-new-namespace"])
        self.new_id = pn.widgets.TextInput(name="Flow id", placeholder="my_flow", width=200, css_classes=["ln-new-id"])
        create = pn.widgets.Button(name="Create flow", button_type="primary", css_classes=["ln-create"],
                                   align="end")
        create.on_click(self.create)
        self.upload = pn.widgets.FileInput(accept=".yaml,.yml", css_classes=["ln-import-file"])
        self.paste = pn.widgets.TextAreaInput(placeholder="…or paste flow YAML here", height=120,
                                              sizing_mode="stretch_width", css_classes=["ln-import-text"])
        do_import = pn.widgets.Button(name="Import", button_type="success", css_classes=["ln-import"])
        do_import.on_click(self.import_yaml)
        from builder.pages.template_gallery import gallery

        self.actions = pn.Card(
            pn.Row(self.new_ns, self.new_id, create),
            gallery(services, lambda tid: self.create(template=tid)),
            pn.pane.Markdown("**Import YAML**"), self.upload, self.paste, do_import,
            title="New flow", sizing_mode="stretch_width", collapsed=False,
        )
        self.refresh()

    def create(self, _event: Any = None, template: str = "") -> None:
        """Open the editor on a new flow (from ``template`` when given: its id when no id is typed)."""
        import re

        ns, fid = self.new_ns.value_input or self.new_ns.value, self.new_id.value_input or self.new_id.value
        ns, fid = (ns or "").strip(), (fid or "").strip() or template
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]*", fid):
            self.message.object = f"<span class='ln-error'>Flow id {esc(fid)!s} is not valid: use {_ID_HINT}.</span>"
            return
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]*(\.[a-zA-Z0-9][a-zA-Z0-9_-]*)*", ns):
            self.message.object = f"<span class='ln-error'>Namespace {esc(ns)} is not valid: use dotted names " \
                                  f"of {_ID_HINT}.</span>"
            return
        if self.services.flow_source(ns, fid) is not None:
            self.message.object = f"<span class='ln-error'>Flow {esc(ns)}.{esc(fid)} already exists: " \
                                  f"<a href='{url('editor', namespace=ns, id=fid)}'>open it</a>.</span>"
            return
        go("editor", namespace=ns, id=fid, template=template or None)

    def import_yaml(self, _event: Any = None) -> None:
        text = self.paste.value_input or self.paste.value or ""
        if self.upload.value:
            try:
                text = self.upload.value.decode("utf-8")
            except UnicodeDecodeError:
                self.message.object = "<span class='ln-error'>The uploaded file is not UTF-8 text.</span>"
                return
        if not text.strip():
            self.message.object = "<span class='ln-error'>Choose a YAML file or paste a flow first.</span>"
            return
        result = self.services.save_flow(text)
        if not result.ok:
            items = "".join(f"<li>{esc(e)}</li>" for e in result.errors)
            self.message.object = f"<div class='ln-error'>Not imported:<ul>{items}</ul></div>"
            return
        link = url("editor", namespace=result.namespace, id=result.flow_id)
        self.message.object = (f"<span class='ln-ok'>Imported {esc(result.namespace)}.{esc(result.flow_id)} "
                               f"revision {result.revision}: <a href='{link}'>open</a></span>")
        self.refresh()

    def ask_delete(self, namespace: str, flow_id: str) -> None:
        """First click: ask, naming the flow and what happens to its executions."""
        self.pending_delete = (namespace, flow_id)
        self.refresh()

    def delete(self, namespace: str, flow_id: str) -> None:
        import panel as pn

        source = self.services.flow_source(namespace, flow_id)
        self.services.delete_flow(namespace, flow_id)
        self.pending_delete = None
        undo = pn.widgets.Button(name="Undo", button_type="primary", button_style="outline", width=80,
                                 css_classes=["ln-undo-delete"])

        def restore(_e: Any) -> None:
            result = self.services.save_flow(source or "")
            self.message.object = (f"<span class='ln-ok'>Restored {esc(namespace)}.{esc(flow_id)} as revision "
                                   f"{result.revision}.</span>" if result.ok else
                                   f"<span class='ln-error'>Not restored: {esc(result.errors[0])}</span>")
            self.undo_box.objects = []
            self.refresh()

        undo.on_click(restore)
        self.message.object = (f"<span class='ln-ok ln-deleted'>Deleted {esc(namespace)}.{esc(flow_id)}. Its "
                               "executions and revisions are kept.</span>")
        self.undo_box.objects = [undo] if source is not None else []
        self.refresh()

    def refresh(self) -> None:
        import panel as pn

        self.tree.object = namespace_tree(self.services.namespaces(), self.namespace)
        rows = self.services.list_flows(self.search.value_input or "", self.namespace or None)
        header = html_pane("<table class='ln-table'><tr><th style='width:32%'>Flow</th><th style='width:20%'>"
                           "Labels</th><th style='width:14%'>Last execution</th><th>Revision</th></tr></table>")
        out: list[Any] = [header]
        for r in rows:
            labels = "".join(f"<span class='ln-label'>{esc(k)}:{esc(v)}</span>" for k, v in r.labels.items())
            last = badge(r.last_state)
            if r.last_execution:
                last = f"<a href='{url('execution', id=r.last_execution)}'>{last}</a>"
            cells = (f"<table class='ln-table'><tr class='ln-flow-row' data-flow='{esc(r.namespace)}.{esc(r.id)}'>"
                     f"<td style='width:32%'><a class='ln-flow-link' href='{url('editor', namespace=r.namespace, id=r.id)}'>"
                     f"<b>{esc(r.id)}</b></a><br><span class='ln-muted'>{esc(r.namespace)}</span></td>"
                     f"<td style='width:20%'>{labels}</td><td style='width:14%'>{last}</td>"
                     f"<td>rev {r.revision} · <a href='{url('execute', namespace=r.namespace, id=r.id)}'>▶ Execute</a>"
                     f" · <a class='ln-flow-executions' href='{url('flow', namespace=r.namespace, id=r.id)}'>"
                     "Executions</a></td></tr></table>")
            if self.pending_delete == (r.namespace, r.id):
                sure = pn.widgets.Button(name="Delete it", button_type="danger", width=90,
                                         css_classes=["ln-delete-confirm"])
                keep = pn.widgets.Button(name="Keep", button_type="light", width=70, css_classes=["ln-delete-cancel"])
                sure.on_click(lambda _e, ns=r.namespace, fid=r.id: self.delete(ns, fid))
                keep.on_click(lambda _e: self.ask_delete("", ""))
                question = html_pane(f"<span class='ln-error'>Delete {esc(r.namespace)}.{esc(r.id)}? Its triggers "
                                     "stop; its executions stay.</span>", width=220)
                out.append(pn.Row(html_pane(cells), question, sure, keep, sizing_mode="stretch_width"))
                continue
            delete = pn.widgets.Button(name="Delete", button_type="danger", button_style="outline", width=80,
                                       css_classes=["ln-delete"])
            delete.on_click(lambda _e, ns=r.namespace, fid=r.id: self.ask_delete(ns, fid))
            out.append(pn.Row(html_pane(cells), delete, sizing_mode="stretch_width"))
        if not rows:
            out.append(html_pane("<p class='ln-muted'>No flow here yet: create one or import YAML.</p>"))
        self.table.objects = out

    def view(self) -> Any:
        import panel as pn

        title = f"Flows in {self.namespace}" if self.namespace else "Flows"
        return shell("flows", esc(title), pn.Row(
            pn.Column(self.tree, width=220),
            pn.Column(self.search, pn.Row(self.message, self.undo_box), self.table, self.actions,
                      sizing_mode="stretch_width"),
            sizing_mode="stretch_width", margin=(0, 16)))


def page(services: Services) -> Any:
    return FlowsPage(services).view()
