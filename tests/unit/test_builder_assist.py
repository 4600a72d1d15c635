"""Pure parts of the builder's help: KV values typed in the Namespace page, sample inputs of a task test,
the expression preview line, template YAML under the user's names, and the one-task flow of a task test."""

from __future__ import annotations

import pytest
import yaml

from builder.expression_preview import preview_html
from builder.pages.namespace import kv_value
from builder.pages.task_test import parse_inputs
from engine import templates
from engine.local_assist import TASK_TEST_LABEL, _one_task_flow
from engine.model.validation import validate_text


@pytest.mark.parametrize(("kind", "text", "value"), [
    ("STRING", " a b ", " a b "), ("NUMBER", "42", 42), ("NUMBER", "2.5", 2.5), ("NUMBER", "1e3", 1000.0),
    ("BOOLEAN", " TRUE", True), ("BOOLEAN", "false", False), ("JSON", '{"a": [1]}', {"a": [1]}),
])
def test_kv_values_take_the_chosen_type(kind, text, value):
    assert kv_value(kind, text) == value and type(kv_value(kind, text)) is type(value)


@pytest.mark.parametrize(("kind", "text", "says"), [
    ("NUMBER", "ten", "is not a number"), ("BOOLEAN", "yes", "true or false"), ("JSON", "{a", "not valid JSON"),
])
def test_a_kv_value_of_the_wrong_type_is_refused_naming_the_field(kind, text, says):
    with pytest.raises(ValueError, match=says) as found:
        kv_value(kind, text)
    assert str(found.value).startswith("value:")


def test_sample_inputs_are_a_yaml_mapping():
    assert parse_inputs("name: Ada\nn: 3") == {"name": "Ada", "n": 3}
    assert parse_inputs("") == {}
    with pytest.raises(ValueError, match="one 'name: value' per line"):
        parse_inputs("- a\n- b")
    with pytest.raises(ValueError, match=r"not valid YAML \(line 2\)"):
        parse_inputs("a: 1\nb: [")


def test_the_preview_line_escapes_and_tells_value_from_error():
    assert "= &lt;b&gt;" in preview_html("<b>", None) and "lf-preview-value" in preview_html("<b>", None)
    assert "lf-preview-error" in preview_html(None, "'outputs' has no attribute 'x'.")


def test_a_template_opens_under_the_chosen_names_with_its_comments():
    source = templates.instantiate("approval_step", "sales.emea", "po_approval")
    data = yaml.safe_load(source)
    assert (data["id"], data["namespace"]) == ("po_approval", "sales.emea")
    assert source.count("id: approval_step") == 0 and "onResume" in source
    with pytest.raises(templates.TemplateNotFound, match="the templates are"):
        templates.instantiate("nope", "a", "b")


def test_the_one_task_flow_validates_with_stand_ins_for_the_outputs_it_reads():
    flow = {"id": "f", "namespace": "a", "inputs": [{"id": "x", "type": "STRING"}], "tasks": [
        {"id": "one", "type": "return", "format": "1"},
        {"id": "two", "type": "log", "message": "{{ outputs.one.value }} {{ inputs.x }}", "disabled": True}]}
    test_flow = _one_task_flow(flow, "a", "f", flow["tasks"][1])
    assert test_flow["id"] == "f.tasktest" and TASK_TEST_LABEL in test_flow["labels"]
    assert test_flow["tasks"] == [{"id": "two", "type": "log", "message": "{{ outputs.one.value }} {{ inputs.x }}"}]
    assert [(t["id"], t["disabled"]) for t in test_flow["errors"]] == [("one", True)]
    assert not validate_text(yaml.safe_dump(test_flow)).errors


def test_sample_inputs_leave_a_secret_input_for_the_user_to_type():
    from builder.pages.task_test import sample_inputs_text, secret_input_ids

    flow = "id: f\nnamespace: n\ninputs:\n  - {id: region, type: STRING}\n  - {id: pin, type: SECRET}\ntasks: []\n"
    secrets = secret_input_ids(flow)
    assert secrets == {"pin"}
    text = sample_inputs_text({"region": "north", "pin": "******"}, secrets)
    assert text == "region: north\n# pin: a SECRET input, not shown: type its value here"
    assert parse_inputs(text) == {"region": "north"}, "the mask is never sent as the value"
    assert secret_input_ids("tasks: [") == set() and sample_inputs_text({}, set()) == ""
