"""Schema-driven property forms: widget kinds, value conversion, suggestions (no browser)."""

from __future__ import annotations

from builder.forms import (
    FieldSpec,
    expression_suggestions,
    field_specs,
    hidden_properties,
    set_property,
    to_widget_value,
    to_yaml_value,
)
from engine.model.schema import task_json_schema


def specs(type_name: str) -> dict[str, FieldSpec]:
    schema = task_json_schema(type_name)
    return {s.name: s for s in field_specs(schema, schema["x-lanner"]["canonical"])}


def test_log_form_marks_required_and_types_each_field():
    s = specs("log")
    assert "id" not in s and "type" not in s
    assert s["message"].required and s["message"].label == "Message *" and s["message"].kind == "text"
    assert s["level"].kind == "select" and "ERROR" in s["level"].options and s["level"].default == "INFO"
    assert s["timeout"].kind == "duration" and s["timeout"].advanced
    assert s["disabled"].kind == "boolean"
    first = list(s.values())[0]
    assert first.name == "message"  # required first


def test_container_forms_show_their_own_properties_and_leave_child_lists_to_the_canvas():
    s = specs("io.kestra.plugin.core.flow.If")
    assert s["condition"].required and s["allowFailure"].advanced
    assert not {"then", "else", "errors", "finally"} & set(s), "child lists are drawn on the canvas, not edited as fields"
    s = specs("switch")
    assert "value" in s and not {"cases", "defaults"} & set(s)
    s = specs("dag")
    assert "concurrent" in s and "tasks" not in s


def test_python_form_uses_code_editor_and_key_value_maps():
    s = specs("python")
    assert s["script"].kind == "code" and s["script"].language == "python"
    assert s["env"].kind == "map"
    assert s["commands"].kind == "code"


def test_values_are_converted_and_validated():
    s = specs("log")
    assert to_yaml_value(s["timeout"], "PT5M") == ("PT5M", None)
    value, err = to_yaml_value(s["timeout"], "five minutes")
    assert value is None and "ISO-8601" in err
    assert to_yaml_value(s["message"], "") == ("", None)  # required: kept
    assert to_yaml_value(s["disabled"], False) == (None, None)  # default: key removed
    assert to_yaml_value(specs("python")["commands"], "echo a\n\necho b") == (["echo a", "echo b"], None)
    assert to_yaml_value(specs("python")["env"], {"A": "1", "": "x"}) == ({"A": "1"}, None)
    assert to_widget_value(specs("python")["commands"], ["a", "b"]) == "a\nb"


def test_set_property_keeps_key_order_and_removes_none():
    task = {"id": "t", "type": "log", "message": "a", "level": "WARN"}
    assert list(set_property(task, "message", "b")) == ["id", "type", "message", "level"]
    assert "level" not in set_property(task, "level", None)
    assert task["message"] == "a"


def test_expression_suggestions_list_inputs_outputs_and_vars():
    flow = {"id": "f", "namespace": "n", "inputs": [{"id": "name", "type": "STRING"}], "variables": {"x": 1},
            "tasks": [{"id": "r", "type": "return", "format": "1"}, {"id": "me", "type": "log", "message": ""}]}
    got = expression_suggestions(flow, "me")
    assert "{{ inputs.name }}" in got and "{{ outputs.r.value }}" in got and "{{ vars.x }}" in got
    assert not any("outputs.me" in g for g in got)


def test_labels_are_plain_words_and_containers_get_their_fields():
    from builder.forms import plain_label

    assert plain_label("lateMaximumDelay") == "Late maximum delay"
    assert plain_label("uri") == "URI" and plain_label("flowId") == "Flow ID"
    # Recursive models come as a bare $ref: their forms still list their properties (defect 1 of issue 17).
    assert specs("switch")["value"].required and specs("if")["condition"].required
    assert specs("for_each")["values"].required
    assert specs("subflow")["namespace"].required and specs("subflow")["flowId"].label == "Flow ID *"


def test_every_palette_type_has_a_field_for_each_required_property() -> None:
    """Every task type of the palette (own and plugins'; containers have their own test above, their schema
    embeds every type and takes seconds to build): each required property of its schema has a field of a
    kind the form can draw; the browser test types into one type per shape of form."""
    from builder.canvas.palette import palette_items

    kinds = {"text", "code", "integer", "number", "boolean", "select", "duration", "map", "yaml"}
    types = [i["type"] for i in palette_items() if i["kind"] == "task" and not i["container"]]
    assert len(types) > 50
    for canonical in types:
        schema = task_json_schema(canonical)
        specs = field_specs(schema, canonical)
        assert {s.kind for s in specs} <= kinds, canonical
        required = {s.name for s in specs if s.required}
        assert set(schema.get("required", [])) - {"id", "type"} <= required | set(hidden_properties(schema, canonical)), canonical
        assert all(s.options for s in specs if s.kind == "select"), canonical


def test_a_property_that_is_a_text_a_list_or_a_map_is_edited_as_yaml_and_keeps_a_text() -> None:
    """S3 Upload's ``from`` takes one URI, a list or a map: a map editor would show a URI empty and lose it."""
    spec = next(s for s in field_specs(task_json_schema("s3_upload"), "s3_upload") if s.name == "from")
    assert spec.kind == "yaml"
    assert to_widget_value(spec, "lanner:///ns/f/ex/report.xlsx") == "lanner:///ns/f/ex/report.xlsx"
