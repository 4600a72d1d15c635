"""A property form's edit lands on the task as it is now, not on the form's older copy (issue 17: no lost work)."""

from __future__ import annotations

from builder.pages.editor import merge_form_edit

SWITCH = {"id": "switch_1", "type": "io.kestra.plugin.core.flow.Switch", "value": None, "cases": {}}


def test_a_case_added_on_the_canvas_survives_a_late_form_edit() -> None:
    base = dict(SWITCH)
    edited = {**SWITCH, "value": "{{ inputs.region }}"}  # typed before the case was added, handed over after
    current = {**SWITCH, "cases": {"north": [{"id": "log_1", "type": "log", "message": "hi"}]}}
    merged = merge_form_edit(base, edited, current)
    assert merged == {**current, "value": "{{ inputs.region }}"}
    assert list(merged) == list(current)  # the YAML keeps its key order


def test_a_property_cleared_in_the_form_is_removed_and_a_new_one_added() -> None:
    base = {"id": "t", "type": "log", "message": "hi", "level": "INFO"}
    edited = {"id": "t", "type": "log", "message": "hi", "description": "why"}
    current = {"id": "t", "type": "log", "message": "hi", "level": "INFO", "timeout": "PT1M"}
    assert merge_form_edit(base, edited, current) == {"id": "t", "type": "log", "message": "hi", "timeout": "PT1M",
                                                      "description": "why"}


def test_a_property_the_form_did_not_touch_keeps_the_newer_value() -> None:
    base = {"id": "t", "type": "log", "message": "old"}
    edited = {"id": "t2", "type": "log", "message": "old"}  # a rename in the form
    current = {"id": "t", "type": "log", "message": "changed in YAML"}
    assert merge_form_edit(base, edited, current) == {"id": "t2", "type": "log", "message": "changed in YAML"}
