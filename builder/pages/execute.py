"""Execute page: a form generated from the flow's typed inputs, then off to the execution page.

Each input type gets its widget (number inputs, a checkbox, selects, a file
upload for FILE...), prefilled with its default. The values go to the engine's
own input coercion (``start_execution``), so the rules and messages are the
CLI's and the API's; each refused input shows its message under its field.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from builder.pages.common import arg, esc, go, html_pane, shell, url
from builder.services import Services

_PLACEHOLDERS = {
    "DATETIME": "2024-01-31T08:00:00Z", "DATE": "2024-01-31", "TIME": "08:00:00", "DURATION": "PT5M",
    "URI": "https://example.com/data.csv", "JSON": '{"key": "value"}', "ARRAY": '["a", "b"]',
}


def input_widget(definition: Any) -> Any:
    """The widget of one input definition (engine.model.inputs.Input), prefilled with its default."""
    import panel as pn

    kind = definition.type
    label = (definition.display_name or definition.id) + (" *" if definition.required else "")
    common = {"name": label, "description": definition.description or None, "sizing_mode": "stretch_width",
              "css_classes": [f"ln-input-{definition.id}"]}
    default = definition.defaults
    if kind == "INT":
        return pn.widgets.IntInput(value=default if isinstance(default, int) else None, **common)
    if kind == "FLOAT":
        return pn.widgets.FloatInput(value=float(default) if isinstance(default, (int, float)) else None, **common)
    if kind == "BOOLEAN":
        return pn.widgets.Checkbox(value=bool(default), **{**common, "description": None})
    if kind == "SELECT":
        options = ([""] if not definition.required else []) + list(definition.values or [])
        return pn.widgets.Select(options=options, value=default if default in options else options[0]
                                 if options else None, **common)
    if kind == "MULTISELECT":
        return pn.widgets.MultiChoice(options=list(definition.values or []), value=list(default or []), **common)
    if kind == "FILE":
        return pn.widgets.FileInput(**{k: v for k, v in common.items() if k != "description"})
    if kind in ("JSON", "YAML"):
        from engine.model.yaml_loader import dump_yaml

        text = "" if default is None else default if isinstance(default, str) else dump_yaml(default)
        return pn.widgets.TextAreaInput(value=text, height=100, placeholder=_PLACEHOLDERS.get(kind, ""), **common)
    if kind == "SECRET":
        return pn.widgets.PasswordInput(value=str(default or ""), **common)
    text = "" if default is None else default if isinstance(default, str) else str(default)
    return pn.widgets.TextInput(value=text, placeholder=_PLACEHOLDERS.get(kind, ""), **common)


def widget_value(definition: Any, widget: Any, scratch: Path) -> Any:
    """What to hand to the engine for one input (None = not given, so its default or 'required' applies)."""
    import panel as pn

    if isinstance(widget, pn.widgets.FileInput):
        if widget.value is None:
            return None
        path = scratch / (widget.filename or f"{definition.id}.bin")
        path.write_bytes(widget.value)
        return str(path)
    if isinstance(widget, pn.widgets.Checkbox):
        return widget.value
    value = widget.value
    if isinstance(widget, (pn.widgets.TextInput, pn.widgets.TextAreaInput)) and widget.value_input is not None:
        value = widget.value_input
    return None if value in ("", None, []) else value


class ExecutePage:
    def __init__(self, services: Services, namespace: str, flow_id: str):
        import panel as pn

        self.services = services
        self.namespace, self.flow_id = namespace, flow_id
        self.message = html_pane("", css_classes=["ln-message"])
        try:
            self.inputs = services.flow_inputs(namespace, flow_id)
        except LookupError as exc:
            self.inputs = None
            self.message.object = f"<span class='ln-error'>{esc(exc)}</span>"
        self.widgets: dict[str, Any] = {}
        self.errors: dict[str, Any] = {}
        rows: list[Any] = []
        for d in self.inputs or []:
            widget = self.widgets[d.id] = input_widget(d)
            self.errors[d.id] = html_pane("", css_classes=[f"ln-input-error-{d.id}"], margin=(0, 10))
            extra: list[Any] = []
            if isinstance(widget, pn.widgets.FileInput):
                # The browser reads the file, then sends it: say when it has arrived.
                info = html_pane("", css_classes=[f"ln-input-file-{d.id}"], margin=(0, 10))
                widget.param.watch(lambda e, w=widget, pane=info: setattr(
                    pane, "object", "" if e.new is None else
                    f"<span class='ln-muted ln-file-ready'>📎 {esc(w.filename or '')} · {len(e.new)} bytes</span>"),
                    "value")
                extra.append(info)
            rows.append(pn.Column(widget, *extra, self.errors[d.id], sizing_mode="stretch_width", margin=0))
        if self.inputs == []:
            rows.append(html_pane("<p class='ln-muted'>This flow has no inputs.</p>"))
        self.run = pn.widgets.Button(name="Execute", button_type="primary", width=140, css_classes=["ln-run"],
                                     disabled=self.inputs is None)
        self.run.on_click(self.execute)
        self.form = pn.Column(*rows, self.run, self.message, width=560)

    def execute(self, _event: Any = None) -> None:
        from engine.model.inputs import InputError

        for pane in self.errors.values():
            pane.object = ""
        with tempfile.TemporaryDirectory(prefix="lanner-upload-") as tmp:
            values = {}
            for d in self.inputs or []:
                value = widget_value(d, self.widgets[d.id], Path(tmp))
                if value is not None:
                    values[d.id] = value
            try:
                execution_id = self.services.start(self.namespace, self.flow_id, values)
            except InputError as exc:
                general = []
                for err in exc.errors:
                    pane = self.errors.get(err.input_id or "")
                    if pane is not None:
                        pane.object = f"<span class='ln-error'>{esc(err)}</span>"
                    else:
                        general.append(str(err))
                self.message.object = "<span class='ln-error'>Not started: " + esc("; ".join(general) or
                                                                                  "check the fields above") + "</span>"
                return
            except (ValueError, LookupError) as exc:
                self.message.object = f"<span class='ln-error'>Not started: {esc(exc)}</span>"
                return
        self.message.object = (f"<span class='ln-ok'>Started <a href='{url('execution', id=execution_id)}'>"
                               f"{esc(execution_id)}</a></span>")
        go("execution", id=execution_id)

    def view(self) -> Any:
        import panel as pn

        edit = html_pane(f"<a href='{url('editor', namespace=self.namespace, id=self.flow_id)}'>✎ Edit the flow</a>")
        return shell("flows", f"Execute {esc(self.namespace)}.{esc(self.flow_id)}",
                     pn.Column(edit, self.form, margin=(0, 16)))


def page(services: Services) -> Any:
    return ExecutePage(services, arg("namespace"), arg("id")).view()
