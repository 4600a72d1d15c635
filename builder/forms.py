"""Property forms generated from JSON Schema: one typed widget per property of a task or trigger.

The pure half (:func:`field_specs`, :func:`to_yaml_value`, :func:`set_property`,
:func:`expression_suggestions`) decides, from the registry's JSON Schema, which
kind of widget a property gets and how a widget value goes back into the raw
YAML data; it needs no browser and is unit-tested. :class:`PropertyForm` is the
Panel half: it lays the widgets out (required first and marked, defaults shown
as placeholders, the common task properties in a collapsed "Advanced" card),
shows inline errors next to each field, and reports every edit as a new task
dict so the editor can put it back on the canvas and in the YAML.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from builder.expression_preview import Previewer, preview_pane
from engine.model import tree
from engine.model.yaml_loader import YamlError, dump_yaml, load_any_yaml

#: Properties every task has (engine/model/task.py): shown in the "Advanced" card.
COMMON = ("description", "retry", "timeout", "disabled", "allowFailure", "runIf", "logLevel", "workerGroup")
#: Properties the form never shows as fields: id has its own input, type is fixed (and the properties
#: holding child tasks, drawn on the canvas: see :func:`hidden_properties`).
HIDDEN = frozenset({"id", "type"})
_CODE_NAMES = {"script": None, "commands": None, "beforeCommands": "sh", "sql": "sql", "query": "sql"}
_LANGUAGE_BY_TYPE = {"python": "python", "shell": "sh"}
#: What a task of a given canonical type exposes under ``outputs.<id>`` (for autocompletion).
OUTPUT_KEYS: dict[str, tuple[str, ...]] = {
    "return": ("value",), "output_values": ("values",), "python": ("vars", "exitCode", "outputFiles"),
    "shell": ("vars", "exitCode", "outputFiles"), "notebook": ("vars", "notebook", "report", "outputFiles"),
    "http": ("code", "body", "headers"), "http_download": ("uri", "code", "length"), "subflow": ("executionId", "outputs"),
    "for_each": (), "log": (), "sleep": (), "fail": (), "pause": ("onResume",),
}


@dataclass
class FieldSpec:
    """How one property is edited: its widget kind and what the schema says about it."""

    name: str
    kind: str  # text | code | integer | number | boolean | select | duration | map | yaml
    label: str
    required: bool = False
    default: Any = None
    description: str = ""
    options: list[str] = field(default_factory=list)
    examples: list[Any] = field(default_factory=list)
    language: str = "yaml"
    advanced: bool = False
    deprecated: bool = False
    applies_to: list[str] = field(default_factory=list)  # input rules: the input types a rule applies to


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    for _ in range(20):
        ref = schema.get("$ref")
        if not ref:
            break
        schema = {**defs.get(ref.rsplit("/", 1)[-1], {}), **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _options(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a property (anyOf/oneOf flattened, refs resolved)."""
    schema = _resolve(schema, defs)
    alts = schema.get("anyOf") or schema.get("oneOf")
    if not alts:
        return [schema]
    out = []
    for alt in alts:
        alt = _resolve(alt, defs)
        if alt.get("type") != "null":
            out.append(alt)
    return out


def _kind(name: str, schema: dict[str, Any], defs: dict[str, Any], task_type: str) -> tuple[str, list[str], str]:
    """(kind, enum options, code language) of a property."""
    alts = _options(schema, defs)
    types = [a.get("type") for a in alts]
    hinted = _resolve(schema, defs).get("x-code")
    if hinted:
        return "code", [], str(hinted)
    if name in _CODE_NAMES and "string" in types or name in ("script",):
        return "code", [], _CODE_NAMES.get(name) or _LANGUAGE_BY_TYPE.get(task_type, "sh")
    if name in ("commands", "beforeCommands") and types == ["array"]:
        return "code", [], _CODE_NAMES.get(name) or _LANGUAGE_BY_TYPE.get(task_type, "sh")
    if len(alts) == 1:
        a = alts[0]
        if a.get("enum"):
            return "select", [str(v) for v in a["enum"]], ""
        if "const" in a:
            return "select", [str(a["const"])], ""
        t = a.get("type")
        if t == "string":
            return ("duration" if a.get("format") == "duration" else "text"), [], ""
        if t == "boolean":
            return "boolean", [], ""
        if t == "integer":
            return "integer", [], ""
        if t == "number":
            return "number", [], ""
        if t == "object" and isinstance(a.get("additionalProperties"), dict) and \
                a["additionalProperties"].get("type") == "string":
            return "map", [], ""
        return "yaml", [], "yaml"
    if "string" in types and all(t in ("string", "boolean", "array") for t in types):
        return "text", [], ""  # e.g. message: str | list[str], runIf: str | bool
    # A map editor only when the value is always a map: `from: str | list | dict` written as one URI must stay
    # editable as such (a map editor would show it empty and lose it), so such unions are edited as YAML.
    if any(t == "object" and isinstance(a.get("additionalProperties"), dict) for a, t in zip(alts, types, strict=True)) \
            and not any(t in ("string", "array") for t in types):
        return "map", [], ""
    return "yaml", [], "yaml"


#: Words a humanised property name spells differently (acronyms, Kestra's own terms).
_WORDS = {"uri": "URI", "url": "URL", "id": "ID", "ids": "IDs", "http": "HTTP", "json": "JSON", "sql": "SQL",
          "cwd": "working directory", "env": "environment variables"}


def plain_label(name: str) -> str:
    """``lateMaximumDelay`` -> ``Late maximum delay``; ``uri`` -> ``URI`` (labels for people, not YAML keys)."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_", " ", name).split()
    out = [_WORDS.get(w.lower(), w.lower()) for w in words]
    text = " ".join(out) or name
    return text[:1].upper() + text[1:]


def hidden_properties(schema: dict[str, Any], task_type: str = "") -> frozenset[str]:
    """``id``, ``type`` and the properties that hold child tasks (the type declares them in the registry;
    its schema carries them as ``x-lanner.childLists``)."""
    declared = (schema.get("x-lanner") or {}).get("childLists")
    if declared is not None:
        return HIDDEN | {c["name"] for c in declared}
    return HIDDEN | tree.child_list_names(task_type)


def field_specs(schema: dict[str, Any], task_type: str = "") -> list[FieldSpec]:
    """The form's fields for a task/trigger schema: required first, then the rest, common ones last."""
    defs = schema.get("$defs", {})
    # A recursive model (a container holding tasks) comes as a bare {"$ref": ...}: resolve it first.
    schema = _resolve(schema, defs)
    required = set(schema.get("required", []))
    hidden = hidden_properties(schema, task_type)
    specs = []
    for name, prop in (schema.get("properties") or {}).items():
        if name in hidden:
            continue
        kind, options, language = _kind(name, prop, defs, task_type)
        resolved = _resolve(prop, defs)
        examples = list(resolved.get("examples") or next((a.get("examples") for a in _options(prop, defs)
                                                          if a.get("examples")), []) or [])
        specs.append(FieldSpec(
            name=name, kind=kind, label=plain_label(name) + (" *" if name in required else ""), required=name in required,
            default=resolved.get("default"), description=str(resolved.get("description") or ""),
            options=options, examples=examples, language=language or "yaml",
            advanced=name in COMMON, deprecated=bool(resolved.get("deprecated")),
            applies_to=list(resolved.get("appliesTo") or []),
        ))
    specs.sort(key=lambda s: (s.advanced, s.deprecated, not s.required))
    return specs


def to_yaml_value(spec: FieldSpec, raw: Any) -> tuple[Any, str | None]:
    """Widget value -> YAML value (``None`` = remove the key), or an error sentence."""
    if spec.kind == "map":
        return ({str(k): str(v) for k, v in raw.items() if str(k)} or None), None
    if spec.kind == "boolean":
        return (None if raw == spec.default and not spec.required else bool(raw)), None
    if raw is None or raw == "":
        return ("" if spec.required and spec.kind in ("text", "code") else None), None
    if spec.kind in ("integer", "number"):
        if isinstance(raw, str):
            text = raw.strip()
            if "{{" in text:
                return text, None
            try:
                return (int(text) if spec.kind == "integer" else float(text)), None
            except ValueError:
                return None, f"{spec.name} must be a{'n integer' if spec.kind == 'integer' else ' number'}"
        return raw, None
    if spec.kind == "duration":
        from engine.model.durations import parse_duration

        text = str(raw).strip()
        if "{{" not in text:
            try:
                parse_duration(text)
            except (ValueError, TypeError):
                return None, f"{spec.name} must be an ISO-8601 duration such as PT30S, PT5M or P1D"
        return text, None
    if spec.kind == "code" and spec.name in ("commands", "beforeCommands"):
        lines = [line for line in str(raw).splitlines() if line.strip()]
        return (lines or None), None
    if spec.kind == "yaml":
        if str(raw).strip().startswith("{{"):  # an expression, not a YAML flow mapping
            return str(raw).strip(), None
        try:
            return load_any_yaml(str(raw)), None
        except YamlError as exc:
            return None, f"{spec.name}: {exc}"
    return raw, None


def to_widget_value(spec: FieldSpec, value: Any) -> Any:
    """YAML value -> what the widget shows."""
    if value is None:
        return {} if spec.kind == "map" else (spec.default if spec.kind == "boolean" else "")
    if spec.kind == "code" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if spec.kind == "yaml":
        return dump_yaml(value).rstrip("\n") if not isinstance(value, str) else value
    if spec.kind == "text" and not isinstance(value, str):
        return dump_yaml(value).strip() if isinstance(value, (list, dict)) else str(value).lower() \
            if isinstance(value, bool) else str(value)
    if spec.kind == "map" and not isinstance(value, dict):
        return {}
    return value


def set_property(task: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """A copy of ``task`` with ``name`` set (kept in place) or removed when ``value`` is None."""
    out = copy.deepcopy(task)
    if value is None:
        out.pop(name, None)
    else:
        out[name] = value
    return out


def expression_suggestions(flow: dict[str, Any], task_id: str | None = None) -> list[str]:
    """``{{ inputs.x }}``, ``{{ outputs.<task>.<key> }}``, ``{{ vars.x }}`` and a few context names.

    Outputs are offered for every task except the one being edited (a task cannot read its own outputs).
    """
    from builder.canvas.flow_edit import iter_tasks
    from engine.model.registry import canonical_task_name

    out = [f"{{{{ inputs.{i['id']} }}}}" for i in flow.get("inputs") or [] if isinstance(i, dict) and "id" in i]
    for _, task in iter_tasks(flow):
        tid = task.get("id")
        if not tid or tid == task_id:
            continue
        canonical = canonical_task_name(str(task.get("type", ""))) or str(task.get("type", ""))
        keys = OUTPUT_KEYS.get(canonical, ("value",))
        out += [f"{{{{ outputs.{tid}.{k} }}}}" for k in keys] or []
    variables = flow.get("variables")
    if isinstance(variables, dict):
        out += [f"{{{{ vars.{k} }}}}" for k in variables]
    out += ["{{ execution.id }}", "{{ execution.startDate }}", "{{ flow.id }}", "{{ flow.namespace }}",
            "{{ taskrun.value }}", "{{ trigger.date }}"]
    return out


# --- Panel ------------------------------------------------------------------------------------------

OnChange = Callable[[dict[str, Any]], None]


class PropertyForm:
    """The property form of one task (or trigger), built from its JSON Schema.

    ``on_change`` receives the whole new task dict after each edit. ``show_errors``
    puts validator messages under their fields without rebuilding the widgets.
    """

    def __init__(self, task: dict[str, Any], schema: dict[str, Any], on_change: OnChange,
                 suggestions: list[str] | None = None, title: str = "",
                 keep: Callable[[FieldSpec], bool] | None = None, extra: list[Any] | None = None,
                 preview: Previewer | None = None):
        import panel as pn

        self.task = copy.deepcopy(task)
        self.last_change: tuple[str, Any] | None = None
        self._preview = preview
        self.on_change = on_change
        self.specs = [s for s in field_specs(schema, str(schema.get("x-lanner", {}).get("canonical", "")))
                      if keep is None or keep(s)]
        self._specs = {s.name: s for s in self.specs}
        self._error_panes: dict[str, Any] = {}
        self._suggestions = suggestions or []
        self.id_input = pn.widgets.TextInput(name="id *", value=str(task.get("id", "")), css_classes=["lf-field-id"],
                                             sizing_mode="stretch_width")
        self.id_input.param.watch(lambda e: self._set("id", e.new.strip() or e.old), "value")
        self._error_panes[""] = pn.pane.HTML("", css_classes=["lf-error"], sizing_mode="stretch_width")
        main, advanced = [], []
        for spec in self.specs:
            (advanced if spec.advanced or spec.deprecated else main).append(self._field(spec))
        header = pn.pane.HTML(f"<div class='lf-title' style='font-weight:700;font-size:15px'>{title or task.get('type', '')}</div>", margin=(0, 5))
        self.panel = pn.Column(
            header, self.id_input, *(extra or []), self._error_panes[""], *main,
            pn.Card(*advanced, title="Advanced", collapsed=True, sizing_mode="stretch_width"),
            css_classes=["lf-form"], sizing_mode="stretch_width",
        )

    def _set(self, name: str, value: Any) -> None:
        # The one property this edit set: the owner may apply just it to a task that changed meanwhile.
        self.last_change = (name, value)
        self.task = set_property(self.task, name, value)
        self.on_change(copy.deepcopy(self.task))

    def _field(self, spec: FieldSpec) -> Any:
        import panel as pn

        value = to_widget_value(spec, self.task.get(spec.name))
        common = {"name": spec.label, "description": spec.description or None, "sizing_mode": "stretch_width",
                  "css_classes": [f"lf-field-{spec.name}", "lf-field"]}
        placeholder = str(spec.examples[0] if spec.examples else spec.default if spec.default is not None else "")
        suggest = False
        if spec.kind == "boolean":
            widget = pn.widgets.Checkbox(value=bool(value), **{k: v for k, v in common.items() if k != "description"})
        elif spec.kind == "select":
            options = spec.options if spec.required else ["", *spec.options]
            widget = pn.widgets.Select(options=options, value=value if value in options else
                                       (str(spec.default) if spec.default in options else options[0]), **common)
        elif spec.kind in ("integer", "number") and not isinstance(value, str):
            cls = pn.widgets.IntInput if spec.kind == "integer" else pn.widgets.FloatInput
            widget = cls(value=value if value != "" else None, placeholder=placeholder, **common)
        elif spec.kind == "map":
            return self._map_field(spec, value)
        elif spec.kind in ("code", "yaml"):
            widget = pn.widgets.CodeEditor(value=value or "", language=spec.language, height=140,
                                           **{k: v for k, v in common.items() if k != "description"})
            suggest = spec.kind == "code"
        else:
            widget = pn.widgets.TextInput(value=value or "", placeholder=placeholder, **common)
            suggest = spec.kind == "text"
        error = pn.pane.HTML("", css_classes=["lf-error"], sizing_mode="stretch_width", margin=(0, 10))
        self._error_panes[spec.name] = error

        def changed(event: Any, _spec: FieldSpec = spec) -> None:
            new, problem = to_yaml_value(_spec, event.new)
            error.object = f"<span class='lf-error-text' style='color:#b91c1c;font-size:12px'>{html.escape(problem)}</span>" if problem else ""
            if problem is None:
                self._set(_spec.name, new)

        widget.param.watch(changed, "value")
        parts: list[Any] = [widget]
        if suggest and self._preview is not None:
            parts.append(preview_pane(widget, spec.name, self._preview))
        if spec.kind in ("code", "yaml"):  # a code editor shows no name of its own
            help_text = f"<div class='lf-help'>{html.escape(spec.description)}</div>" if spec.description else ""
            parts.insert(0, pn.pane.HTML(f"<label class='lf-label'>{html.escape(spec.label)}</label>{help_text}",
                                         margin=(4, 10, 0, 10), sizing_mode="stretch_width",
                                         css_classes=[f"lf-label-{spec.name}"]))
        if suggest and self._suggestions:
            menu = pn.widgets.MenuButton(name="{{ }}", items=list(self._suggestions), width=60, margin=(0, 10),
                                         css_classes=["lf-suggest", f"lf-suggest-{spec.name}"])

            def insert(event: Any, _w: Any = widget) -> None:
                _w.value = f"{_w.value or ''}{event.new}"

            menu.on_click(insert)
            parts.append(menu)
        return pn.Column(*parts, error, sizing_mode="stretch_width", margin=0)

    def _map_field(self, spec: FieldSpec, value: dict[str, Any]) -> Any:
        """Key/value rows for a map of strings (env, labels...), one row per entry plus an empty one."""
        import panel as pn

        rows = pn.Column(sizing_mode="stretch_width", margin=0)
        error = pn.pane.HTML("", css_classes=["lf-error"], sizing_mode="stretch_width")
        self._error_panes[spec.name] = error

        def current() -> dict[str, str]:
            out: dict[str, str] = {}
            for row in rows:
                k, v = row[0].value.strip(), row[1].value
                if k:
                    out[k] = v
            return out

        def commit(_: Any = None) -> None:
            new, _problem = to_yaml_value(spec, current())
            self._set(spec.name, new)

        def add_row(k: str = "", v: str = "") -> None:
            key = pn.widgets.TextInput(value=k, placeholder="key", width=140, css_classes=["lf-map-key"])
            val = pn.widgets.TextInput(value=str(v), placeholder="value", sizing_mode="stretch_width",
                                       css_classes=["lf-map-value"])
            key.param.watch(commit, "value")
            val.param.watch(commit, "value")
            rows.append(pn.Row(key, val, sizing_mode="stretch_width", margin=0))

        for k, v in (value or {}).items():
            add_row(str(k), str(v))
        add = pn.widgets.Button(name="+ entry", button_type="light", width=80)
        add.on_click(lambda _e: add_row())
        if not value:
            add_row()
        help_text = f"<div class='lf-help'>{html.escape(spec.description)}</div>" if spec.description else ""
        return pn.Column(pn.pane.HTML(f"<label class='lf-label'>{html.escape(spec.label)}</label>{help_text}",
                                      margin=(0, 10)), rows,
                         add, error, css_classes=[f"lf-field-{spec.name}"], sizing_mode="stretch_width", margin=0)

    def show_errors(self, by_field: dict[str, list[str]]) -> None:
        """Show validator messages under their fields ('' = the task itself); clear the others."""
        for name, pane in self._error_panes.items():
            messages = by_field.get(name) or []
            if name != "" and name not in self._specs:
                continue
            pane.object = "".join(f"<div class='lf-error-text' style='color:#b91c1c;font-size:12px'>{html.escape(m)}</div>" for m in messages)
        unknown = [f"{k}: {m}" for k, ms in by_field.items() if k and k not in self._specs for m in ms]
        if unknown:
            self._error_panes[""].object += "".join(f"<div class='lf-error-text' style='color:#b91c1c;font-size:12px'>{html.escape(m)}</div>" for m in unknown)

    def __panel__(self) -> Any:
        return self.panel
