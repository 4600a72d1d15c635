"""The editor's "Flow" tab: id, namespace, description, labels, variables, inputs and triggers.

Each part edits the top-level keys of the flow's raw YAML data and hands the
new data to the editor (``Editor.set_flow``), like the canvas does. Inputs and
triggers are edited with the same schema-driven :class:`PropertyForm` as tasks;
an input shows only the rules its type accepts (``appliesTo`` in the schema),
and a schedule trigger gets a cron helper listing its next five runs in the
chosen time zone.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from builder.forms import PropertyForm
from builder.pages.common import esc, html_pane
from builder.services import next_runs
from builder.yaml_sync import FLOW_KEY, PlacedErrors

if TYPE_CHECKING:
    from builder.pages.editor import Editor

FLOW_SCHEMA: dict[str, Any] = {
    "required": ["namespace"],
    "properties": {
        "namespace": {"type": "string", "description": "Dotted namespace, e.g. company.team."},
        "description": {"type": "string", "x-code": "markdown", "description": "Markdown shown on the flow's pages."},
        "labels": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "Labels copied to every execution."},
        "variables": {"type": "object", "description": "Constants used as {{ vars.<name> }}."},
        "disabled": {"type": "boolean", "default": False, "description": "A disabled flow cannot start."},
    },
}


def _input_schema() -> dict[str, Any]:
    from engine.model.inputs import Input

    return Input.model_json_schema(by_alias=True)


def _labels_as_map(labels: Any) -> dict[str, str] | None:
    if isinstance(labels, list):
        return {str(i.get("key")): str(i.get("value")) for i in labels if isinstance(i, dict)}
    return labels


class FlowPanel:
    def __init__(self, editor: Editor):
        import panel as pn

        self.editor = editor
        self.settings = pn.Column(sizing_mode="stretch_width")
        self.inputs = pn.Column(sizing_mode="stretch_width", css_classes=["ln-inputs"])
        self.triggers = pn.Column(sizing_mode="stretch_width", css_classes=["ln-triggers"])
        self._input_sel = ""
        self._trigger_sel = ""
        self._inputs_key: str | None = None  # what the inputs/triggers lists were last built from
        self._triggers_key: str | None = None
        self._settings_form: PropertyForm | None = None
        self.panel = pn.Column(
            pn.pane.Markdown("#### Flow"), self.settings,
            pn.pane.Markdown("#### Inputs"), self.inputs,
            pn.pane.Markdown("#### Triggers"), self.triggers,
            sizing_mode="stretch_width", scroll=True, height=680,
        )
        self.reload()

    @property
    def data(self) -> dict[str, Any]:
        return self.editor.sync.data

    def _commit(self, data: dict[str, Any]) -> None:
        self.editor.set_flow(data, origin="flow")

    # --- id, namespace, description, labels, variables ---------------------------------------------------

    def _on_settings(self, values: dict[str, Any]) -> None:
        data = copy.deepcopy(self.data)
        for key in ("id", *FLOW_SCHEMA["properties"]):
            if key in values:
                data[key] = values[key]
            elif key in data and key != "id":
                del data[key]
        self._commit(data)

    def reload(self) -> None:
        data = self.data
        current = {k: data[k] for k in ("id", *FLOW_SCHEMA["properties"]) if k in data}
        if "labels" in current:
            current["labels"] = _labels_as_map(current["labels"])
        if self._settings_form is None or self._settings_form.task != current:
            self._settings_form = PropertyForm(current, FLOW_SCHEMA, self._on_settings, title="")
            self.settings.objects = [self._settings_form.panel]
        self._reload_inputs()
        self._reload_triggers()

    def show_errors(self, placed: PlacedErrors) -> None:
        if self._settings_form is not None:
            self._settings_form.show_errors(placed.by_field.get(FLOW_KEY, {}) and
                                            {k: v for k, v in placed.by_field[FLOW_KEY].items()
                                             if k in FLOW_SCHEMA["properties"] or k == "id"})

    # --- inputs ------------------------------------------------------------------------------------

    def _reload_inputs(self) -> None:
        import panel as pn

        from engine.model.inputs import INPUT_TYPES

        items = [i for i in self.data.get("inputs") or [] if isinstance(i, dict)]
        # Rebuild only on change: new widgets would drop what the user is typing in the old ones.
        key = repr((items, self._input_sel))
        if key == self._inputs_key:
            return
        self._inputs_key = key
        ids = [str(i.get("id")) for i in items]
        rows: list[Any] = []
        for index, item in enumerate(items):
            edit = pn.widgets.Button(name=f"{item.get('id')} ({item.get('type', '?')})", button_type="light",
                                     css_classes=["ln-input-item"], sizing_mode="stretch_width")
            remove = pn.widgets.Button(name="✕", width=40, button_type="light", description="Remove this input")
            edit.on_click(lambda _e, i=str(item.get("id")): self._select_input(i))
            remove.on_click(lambda _e, i=index: self._remove("inputs", i))
            rows.append(pn.Row(edit, remove, sizing_mode="stretch_width"))
        new_id = pn.widgets.TextInput(placeholder="input id", width=150, css_classes=["ln-new-input-id"])
        new_type = pn.widgets.Select(options=list(INPUT_TYPES), value="STRING", width=130,
                                     css_classes=["ln-new-input-type"])
        add = pn.widgets.Button(name="Add input", button_type="primary", width=100, css_classes=["ln-add-input"])

        def do_add(_e: Any) -> None:
            iid = (new_id.value_input or new_id.value or "").strip()
            if not iid or iid in ids:
                return
            data = copy.deepcopy(self.data)
            data.setdefault("inputs", []).append({"id": iid, "type": new_type.value})
            self._input_sel = iid
            self._commit(data)
            self._reload_inputs()

        add.on_click(do_add)
        rows.append(pn.Row(new_id, new_type, add))
        if self._input_sel in ids:
            rows.append(self._input_form(items[ids.index(self._input_sel)]))
        self.inputs.objects = rows

    def _select_input(self, input_id: str) -> None:
        self._input_sel = input_id
        self._reload_inputs()

    def _input_form(self, item: dict[str, Any]) -> Any:
        import panel as pn

        from engine.model.inputs import INPUT_TYPES

        kind = str(item.get("type", "STRING"))
        type_select = pn.widgets.Select(name="type", options=list(INPUT_TYPES), value=kind if kind in INPUT_TYPES
                                        else "STRING", css_classes=["ln-input-type"])
        old_id = str(item.get("id"))

        def changed(new_item: dict[str, Any]) -> None:
            data = copy.deepcopy(self.data)
            inputs = data.get("inputs") or []
            for i, it in enumerate(inputs):
                if isinstance(it, dict) and str(it.get("id")) == old_id:
                    inputs[i] = new_item
            self._input_sel = str(new_item.get("id"))
            self._commit(data)

        def type_changed(event: Any) -> None:
            changed({**item, "type": event.new})
            self._reload_inputs()

        type_select.param.watch(type_changed, "value")
        form = PropertyForm(item, _input_schema(), changed, title=f"Input {old_id}", extra=[type_select],
                            keep=lambda s: not s.applies_to or kind in s.applies_to)
        return pn.Card(form.panel, title=f"Input {old_id}", sizing_mode="stretch_width", css_classes=["ln-input-form"])

    def _remove(self, key: str, index: int) -> None:
        data = copy.deepcopy(self.data)
        items = data.get(key) or []
        if 0 <= index < len(items):
            items.pop(index)
        if not items:
            data.pop(key, None)
        self._commit(data)
        self.reload()

    # --- triggers ------------------------------------------------------------------------------------

    def _reload_triggers(self) -> None:
        import panel as pn

        from engine.model import registry

        items = [t for t in self.data.get("triggers") or [] if isinstance(t, dict)]
        key = repr((items, self._trigger_sel))
        if key == self._triggers_key:
            return
        self._triggers_key = key
        ids = [str(t.get("id")) for t in items]
        rows: list[Any] = []
        for index, item in enumerate(items):
            edit = pn.widgets.Button(name=f"{item.get('id')} ({item.get('type', '?')})", button_type="light",
                                     sizing_mode="stretch_width", css_classes=["ln-trigger-item"])
            remove = pn.widgets.Button(name="✕", width=40, button_type="light", description="Remove this trigger")
            edit.on_click(lambda _e, i=str(item.get("id")): self._select_trigger(i))
            remove.on_click(lambda _e, i=index: self._remove("triggers", i))
            rows.append(pn.Row(edit, remove, sizing_mode="stretch_width"))
        kinds = list(registry.trigger_classes())
        new_type = pn.widgets.Select(options=kinds, value="schedule" if "schedule" in kinds else kinds[0], width=150)
        add = pn.widgets.Button(name="Add trigger", button_type="primary", width=110, css_classes=["ln-add-trigger"])

        def do_add(_e: Any) -> None:
            from builder.canvas.palette import task_template

            base = new_type.value
            n = 1
            while f"{base}_{n}" in ids:
                n += 1
            data = copy.deepcopy(self.data)
            data.setdefault("triggers", []).append({"id": f"{base}_{n}", **task_template(base, "trigger")})
            self._trigger_sel = f"{base}_{n}"
            self._commit(data)
            self._reload_triggers()

        add.on_click(do_add)
        rows.append(pn.Row(new_type, add))
        if self._trigger_sel in ids:
            rows.append(self._trigger_form(items[ids.index(self._trigger_sel)]))
        self.triggers.objects = rows

    def _select_trigger(self, trigger_id: str) -> None:
        self._trigger_sel = trigger_id
        self._reload_triggers()

    def _trigger_form(self, item: dict[str, Any]) -> Any:
        import panel as pn

        from engine.model.schema import task_json_schema

        old_id = str(item.get("id"))
        helper = html_pane("", css_classes=["ln-cron-helper"])

        def show_next(trigger: dict[str, Any]) -> None:
            cron = trigger.get("cron")
            if not cron:
                helper.object = ""
                return
            tz = str(trigger.get("timezone") or "UTC")
            try:
                runs = next_runs(str(cron), tz, 5)
            except Exception as exc:  # noqa: BLE001 - a bad cron or zone is shown, not raised
                helper.object = f"<div class='ln-error'>{esc(exc)}</div>"
                return
            items = "".join(f"<li>{esc(r)}</li>" for r in runs)
            helper.object = f"<div><b>Next 5 runs ({esc(tz)})</b><ol class='ln-next-runs'>{items}</ol></div>"

        def changed(new_item: dict[str, Any]) -> None:
            data = copy.deepcopy(self.data)
            for i, it in enumerate(data.get("triggers") or []):
                if isinstance(it, dict) and str(it.get("id")) == old_id:
                    data["triggers"][i] = new_item
            self._trigger_sel = str(new_item.get("id"))
            show_next(new_item)
            self._commit(data)

        schema = task_json_schema(str(item.get("type", ""))) or {"properties": {}}
        form = PropertyForm(item, schema, changed, title=f"Trigger {old_id}")
        show_next(item)
        return pn.Card(form.panel, helper, title=f"Trigger {old_id}", sizing_mode="stretch_width",
                       css_classes=["ln-trigger-form"])
