"""Editor page: the canvas and the YAML side by side, property forms, flow settings, save and revisions.

One flow is edited at a time. Its single source of truth is the raw YAML data
held by :class:`builder.yaml_sync.YamlSync`; the canvas, the code editor, the
property form and the flow panel all write through :meth:`Editor.set_flow`, which
updates the other views and re-validates with the CLI's validator. Saving is
refused while the validator reports errors, and those errors are shown inline:
red badges on the canvas and messages under the form fields.
"""

from __future__ import annotations

import copy
import re
import weakref
from typing import Any

from builder import yaml_sync
from builder.canvas.flow_edit import all_ids, find_task, get_at, replace_task, trigger_ids
from builder.forms import PropertyForm, expression_suggestions, set_property
from builder.pages import task_test
from builder.pages.common import arg, esc, html_pane, shell, url
from builder.pages.flow_panel import FlowPanel
from builder.services import Services
from builder.services_assist import Problem

_LINE = re.compile(r" \(line \d+\)$")  # YAML positions mean nothing on the canvas


def starter_flow(namespace: str, flow_id: str) -> dict[str, Any]:
    return {"id": flow_id, "namespace": namespace, "tasks": []}


class Editor:
    """All the widgets of one editor session and the glue between them."""

    def __init__(self, services: Services, namespace: str, flow_id: str, template: str = ""):
        import panel as pn

        from builder.canvas import FlowCanvas
        from builder.canvas.yaml_editor import YamlEditor

        self.services = services
        source = services.flow_source(namespace, flow_id) if namespace and flow_id else None
        self.is_new = source is None
        # What the store held when this page opened: a save checks nobody saved another revision since.
        self.base_revision = services.latest_revision(namespace, flow_id) if source is not None else None
        self.template_problem = ""
        if source is None and template and namespace and flow_id:
            try:  # a new flow from a template: its YAML, unsaved until the user saves it
                self.sync = yaml_sync.YamlSync(text=services.open_template(template, namespace, flow_id))
            except Problem as exc:
                self.template_problem = str(exc)
                self.sync = yaml_sync.YamlSync(starter_flow(namespace, flow_id))
        elif source is not None:
            self.sync = yaml_sync.YamlSync(text=source)
        else:
            self.sync = yaml_sync.YamlSync(starter_flow(namespace or "company.team", flow_id or "new_flow"))
        self._updating = False
        self.saved_text = self.sync.text if source is not None else None
        self._title: Any = None
        self._form: PropertyForm | None = None
        self._form_id = ""
        # The task id each property form edits: a replaced form's late edit still lands
        # on its own task.
        self._form_task_id: weakref.WeakKeyDictionary[PropertyForm, str] = weakref.WeakKeyDictionary()
        self.placed = yaml_sync.PlacedErrors()

        self.canvas = FlowCanvas(flow=copy.deepcopy(self.sync.data), sizing_mode="stretch_width", height=680,
                                 min_width=560)
        self.code = YamlEditor(value=self.sync.text, sizing_mode="stretch_width", height=600, css_classes=["ln-yaml"])
        self.form_box = pn.Column(html_pane("<p class='ln-muted'>Select a task on the canvas to edit it.</p>"),
                                  sizing_mode="stretch_width", css_classes=["ln-form-box"])
        self.flow_panel = FlowPanel(self)
        self.status = html_pane("", css_classes=["ln-status"])
        self.errors_pane = html_pane("", css_classes=["ln-errors"])
        self.save_button = pn.widgets.Button(name="Save", button_type="primary", width=100, css_classes=["ln-save"])
        self.save_button.on_click(lambda _e: self.save())
        self.run_link = html_pane("")
        self.revisions = pn.Column(sizing_mode="stretch_width")
        self.tabs = pn.Tabs(("Task", self.form_box), ("YAML", self.code), ("Flow", self.flow_panel.panel),
                            ("Revisions", self.revisions), dynamic=False, sizing_mode="stretch_width",
                            css_classes=["ln-side-tabs"])

        # Fixed size: a pane that grows would re-lay the toolbar out and swallow a click on Save.
        self.dirty_mark = html_pane("", css_classes=["ln-dirty-mark"], sizing_mode="fixed", width=170, height=32)
        self.canvas.param.watch(self._on_canvas, "flow")
        self.canvas.param.watch(self._on_select, "selected")
        self.code.param.watch(self._on_code, "value")
        self._validate()
        self._refresh_revisions()
        self._refresh_run_link()
        if self.template_problem:
            self.status.object = f"<span class='ln-error'>Template not opened: {esc(self.template_problem)}</span>"

    # --- the one way to change the flow ------------------------------------------------------------

    def set_flow(self, data: dict[str, Any], *, origin: str) -> None:
        """Put new flow data everywhere except where it came from, then re-validate."""
        if self._updating:
            return
        self._updating = True
        try:
            text = self.sync.from_data(data)
            if origin != "canvas":
                self.canvas.push(copy.deepcopy(data))
            if text is not None and origin != "code":
                self.code.value = text
            if origin not in ("form", "flow"):
                self._reload_form()
            if origin != "flow":
                self.flow_panel.reload()
        finally:
            self._updating = False
        self._validate()

    def _on_canvas(self, event: Any) -> None:
        if self._updating:
            return
        # An edit made before a form change reached the canvas is merged onto the flow as it is now.
        flow, canvas_behind = self.canvas.rebase(event.new, self.sync.data)
        self.set_flow(flow, origin="merge" if canvas_behind else "canvas")

    def _on_code(self, event: Any) -> None:
        if self._updating:
            return
        data = self.sync.from_text(event.new or "")
        if self.sync.error:
            self.errors_pane.object = f"<div class='ln-error'>YAML: {esc(self.sync.error)}</div>"
            return
        if data is not None:
            self._updating = True
            try:
                self.canvas.push(copy.deepcopy(data))
                self._reload_form()
                self.flow_panel.reload()
            finally:
                self._updating = False
        self._validate()

    # --- property form ------------------------------------------------------------------------------

    def _on_select(self, event: Any) -> None:
        self._form_id = event.new or ""
        self._reload_form(force=True)
        if self._form_id:
            self.tabs.active = 0

    def _reload_form(self, force: bool = False) -> None:
        """(Re)build the form of the selected task when it changed outside the form."""
        from engine.model.schema import task_json_schema

        task_id = self._form_id
        data = self.sync.data
        path = find_task(data, task_id) if task_id else None
        if path is None:
            self._form = None
            self.form_box.objects = [html_pane("<p class='ln-muted'>Select a task on the canvas to edit it.</p>")]
            return
        task = get_at(data, path)
        if not force and self._form is not None and self._form.task == task:
            return
        schema = task_json_schema(str(task.get("type", ""))) or {"properties": {}}
        meta = schema.get("x-lanner", {})
        title = f"{meta.get('icon', '')} {meta.get('title', task.get('type', ''))}"
        form = PropertyForm(task, schema, lambda _edited: self._on_form(form),
                            expression_suggestions(data, task_id), title=title, preview=self._preview)
        self._form = form
        self._form_task_id[form] = task_id
        self._form.show_errors(self.placed.by_field.get(task_id, {}))
        self.form_box.objects = [task_test.opener(self.services, self._test_target, task_id), self._form.panel]

    def _preview(self, template: str) -> tuple[str | None, str | None]:
        """A form field's expression rendered against the flow's last execution (expression preview)."""
        ns, fid = self._ids()
        found = self.services.preview(ns, fid, template, self._form_id or None)
        return found.value, found.error

    def _test_target(self) -> tuple[str, str, str]:
        """(namespace, flow id, YAML as edited): what "Test this task" runs."""
        ns, fid = self._ids()
        return ns, fid, self.sync.text

    def _on_form(self, form: PropertyForm) -> None:
        """Apply the one property a form edit set to the task as it is now, not the form's whole copy.

        The form's copy may be older than the task: a case added on the canvas while a typed value was on its
        way would be lost if the copy replaced the task. A form replaced meanwhile still has its edit applied.
        """
        data = self.sync.data
        task_id = self._form_task_id.get(form, "")
        path = find_task(data, task_id) if task_id else None
        if path is None or form.last_change is None:
            return
        name, value = form.last_change
        renamed = name == "id" and value != task_id
        if renamed and (str(value) in all_ids(data) or str(value) in trigger_ids(data)):
            # Switching the form to the other task would send the next edit to the wrong task.
            form.show_errors({"": [f"The id {value!r} is already used by another task of this "
                                   "flow; pick another id (nothing was changed)."]})
            return
        task = set_property(get_at(data, path), name, value)
        form.task = copy.deepcopy(task)  # the form now holds the task as it is: no rebuild on the next change
        new_id = str(task.get("id", ""))
        self._form_task_id[form] = new_id
        current = form is self._form
        if current:
            self._form_id = new_id
        # An edit from a replaced form also refreshes the form on show, which does not have it yet.
        self.set_flow(replace_task(data, path, task), origin="form" if current else "merge")
        if renamed and current:
            self.canvas.selected = self._form_id

    # --- validation, save, revisions -----------------------------------------------------------------

    def _validate(self) -> None:
        _report, self.placed = yaml_sync.validate(self.sync.text)
        self._show_dirty()
        if self._just_started():
            # A new flow without tasks is not an error yet: say what to do, in the user's words.
            self.canvas.errors = {}
            self.flow_panel.show_errors(yaml_sync.PlacedErrors())
            self.errors_pane.object = ("<span class='ln-muted ln-start-hint'>Drag a first task from the palette "
                                       "onto the canvas (or press Enter on one) to start the flow.</span>")
            return
        self.canvas.errors = {k: [_LINE.sub("", m) for m in v] for k, v in self.placed.canvas_errors().items()}
        if self._form is not None:
            self._form.show_errors(self.placed.by_field.get(self._form_id, {}))
        self.flow_panel.show_errors(self.placed)
        if self.placed.ok:
            self.errors_pane.object = "<span class='ln-ok'>✓ valid</span>"
        else:
            items = "".join(f"<li>{esc(e)}</li>" for e in self.placed.all)
            self.errors_pane.object = f"<div class='ln-error'><b>{len(self.placed.all)} error(s)</b><ul>{items}</ul></div>"

    def _just_started(self) -> bool:
        data = self.sync.data
        return (self.is_new and not data.get("tasks") and not self.sync.error
                and all("tasks" in e and "empty" in e for e in self.placed.all))

    @property
    def dirty(self) -> bool:
        return self.sync.text != self.saved_text

    def _show_dirty(self) -> None:
        dirty = self.dirty and not (self.is_new and not self.sync.data.get("tasks"))
        self.canvas.dirty = dirty
        self.dirty_mark.object = ("<span class='ln-dirty' title='Save to keep your changes; leaving the page "
                                  "asks first.'>● Unsaved changes</span>") if dirty else ""

    def save(self) -> None:
        self._validate()
        if not self.placed.ok:
            self.status.object = "<span class='ln-error'>Not saved: fix the errors shown first.</span>"
            return
        result = self.services.save_flow(self.sync.text, self.base_revision, check=True)
        if not result.ok:
            message = result.errors[0]
            self.status.object = (f"<span class='ln-error{' ln-conflict' if result.conflict else ''}'>"
                                  f"{esc(message if message.startswith('Not saved') else 'Not saved: ' + message)}"
                                  "</span>")
            return
        self.is_new = False
        self.base_revision = result.revision
        self.saved_text = self.sync.text
        self._show_dirty()
        if self._title is not None:
            self._title.object = f"## {esc(result.namespace)}.{esc(result.flow_id)}"
        self.status.object = f"<span class='ln-ok ln-saved'>Saved revision {result.revision}</span>"
        self._refresh_revisions()
        self._refresh_run_link()

    def _ids(self) -> tuple[str, str]:
        return str(self.sync.data.get("namespace", "")), str(self.sync.data.get("id", ""))

    def _refresh_run_link(self) -> None:
        ns, fid = self._ids()
        if self.is_new:
            self.run_link.object = "<span class='ln-muted'>Save the flow to run it.</span>"
        else:
            self.run_link.object = (f"<a class='ln-execute-link' href='{url('execute', namespace=ns, id=fid)}'>"
                                    "▶ Execute</a>")

    def _refresh_revisions(self) -> None:
        import panel as pn

        ns, fid = self._ids()
        revs = [r["revision"] for r in self.services.revisions(ns, fid) if not r["deleted"]]
        if not revs:
            self.revisions.objects = [html_pane("<p class='ln-muted'>No revision saved yet.</p>")]
            return
        old = pn.widgets.Select(name="From", options=revs, value=revs[max(0, len(revs) - 2)], width=100,
                                css_classes=["ln-rev-from"])
        new = pn.widgets.Select(name="To", options=revs, value=revs[-1], width=100, css_classes=["ln-rev-to"])
        diff = html_pane("", css_classes=["ln-diff"])
        restore = pn.widgets.Button(name="Restore 'From'", button_type="warning", width=140,
                                    css_classes=["ln-restore"],
                                    description="Save the 'From' revision again as a new revision")

        def show(_e: Any = None) -> None:
            text = self.services.diff(ns, fid, old.value, new.value)
            lines = []
            for line in text.splitlines():
                cls = "ln-diff-add" if line.startswith("+") else "ln-diff-del" if line.startswith("-") else \
                    "ln-diff-hunk" if line.startswith("@@") else ""
                lines.append(f"<div class='{cls}'>{esc(line) or '&nbsp;'}</div>")
            diff.object = f"<pre class='ln-logs'>{''.join(lines) or 'No difference.'}</pre>"

        def do_restore(_e: Any) -> None:
            source = self.services.flow_source(ns, fid, old.value)
            if source is not None:
                self.code.value = source
                self.save()

        old.param.watch(show, "value")
        new.param.watch(show, "value")
        restore.on_click(do_restore)
        show()
        self.revisions.objects = [pn.Row(old, new, restore), diff]

    def view(self) -> Any:
        import panel as pn

        ns, fid = self._ids()
        toolbar = pn.Row(self.save_button, self.dirty_mark, self.status, self.run_link, sizing_mode="stretch_width")
        side = pn.Column(self.tabs, width=520)
        layout = shell("flows", f"{esc(ns)}.{esc(fid)}" + (" (new)" if self.is_new else ""),
                       pn.Column(toolbar, self.errors_pane, pn.Row(self.canvas, side, sizing_mode="stretch_width"),
                                 sizing_mode="stretch_width", margin=(0, 16)))
        self._title = layout[1]  # the shell's title pane: drops "(new)" once saved
        return layout


def page(services: Services) -> Any:
    return Editor(services, arg("namespace"), arg("id"), arg("template")).view()
