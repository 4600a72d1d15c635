"""The palette comes from the registry: every registered type once, in its group, with a usable template."""

from __future__ import annotations

import re

import pytest

from builder.canvas import palette as pal
from builder.canvas.flow_edit import FlowEditError
from engine.model import registry


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return pal.palette_items()


def test_every_registered_type_appears_once_in_its_group(items):
    tasks = registry.task_classes()
    triggers = registry.trigger_classes()
    assert len(items) == len(tasks) + len(triggers)
    seen = {(i["kind"], i["type"]) for i in items}
    assert len(seen) == len(items)
    for kind, classes in (("task", tasks), ("trigger", triggers)):
        for canonical, cls in classes.items():
            (item,) = [i for i in items if i["kind"] == kind and i["type"] == canonical]
            assert item["group"] == cls.group
            assert item["title"] == (cls.title or canonical)
            assert item["summary"] == cls.summary
            assert item["aliases"] == list(cls.aliases)
            assert item["icon"]


def test_groups_are_contiguous_and_in_display_order(items):
    sections: list[str] = []
    for item in items:  # each plugin's types stand together, after Lanner's own
        if not sections or sections[-1] != item["section"]:
            assert item["section"] not in sections, f"section {item['section']!r} is split"
            sections.append(item["section"])
    own = [i for i in items if i["section"] in pal.GROUP_ORDER]  # Lanner's own types, by group
    groups: list[str] = []
    for item in own:
        if not groups or groups[-1] != item["group"]:
            assert item["group"] not in groups, f"group {item['group']!r} is split"
            groups.append(item["group"])
    known = [g for g in groups if g in pal.GROUP_ORDER]
    assert known == sorted(known, key=pal.GROUP_ORDER.index)
    assert groups[: len(known)] == known, "the standard groups come before invented ones"
    assert all(i["group"] == "Triggers" for i in items if i["kind"] == "trigger")
    assert items[: len(own)] == own, "Lanner's own types come before the plugins' sections"


def test_templates_fill_every_required_property(items):
    for item in items:
        cls = registry.task_class(item["type"]) if item["kind"] == "task" else registry.trigger_class(item["type"])
        required = {f.alias or name for name, f in cls.model_fields.items() if f.is_required()} - {"id", "type"}
        template = item["template"]
        assert template["type"] == item["type"]
        assert set(template) - {"type"} == required, item["type"]


def test_container_items_say_which_lists_they_have(items):
    by_type = {i["type"]: i for i in items if i["kind"] == "task"}
    for canonical, cls in registry.task_classes().items():
        item = by_type[canonical]
        if item["container"]:
            assert cls.kind == "flowable"


def test_new_task_gets_a_unique_valid_id_and_validates():
    task = pal.new_task("log", ["log_1", "log_2"])
    assert task["id"] == "log_3"
    assert list(task)[:2] == ["id", "type"]
    cls = registry.task_class("log")
    assert cls is not None
    cls.model_validate(task)  # a dropped log task is valid straight away


def test_new_task_accepts_kestra_names_and_returns_the_canonical_type():
    alias = next(a for a in registry.task_aliases() if a.startswith("io.kestra.") and registry.task_aliases()[a] == "log")
    task = pal.new_task(alias, [])
    assert task["type"] == "log"
    assert re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", task["id"])


def test_unknown_type_is_a_clear_error():
    with pytest.raises(FlowEditError, match=r"Unknown task type 'lgo'.*Did you mean 'log'"):
        pal.new_task("lgo", [])


def test_default_values_follow_the_schema():
    defs = {"Thing": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}
    assert pal.default_value({"type": "string", "examples": ["PT1M"]}, defs) == "PT1M"
    assert pal.default_value({"type": "string", "default": "x"}, defs) == "x"
    assert pal.default_value({"enum": ["GET", "POST"]}, defs) == "GET"
    assert pal.default_value({"anyOf": [{"type": "null"}, {"type": "array"}]}, defs) == []
    assert pal.default_value({"$ref": "#/$defs/Thing"}, defs) == {"n": 0}
    assert pal.default_value({"type": ["null", "boolean"]}, defs) is False
    assert pal.default_value({}, defs) == ""
