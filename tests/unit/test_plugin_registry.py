"""The registry reads Lanner's own types from entry points, like a plugin's, and resolves every Kestra name."""

from __future__ import annotations

import ast
import importlib.metadata
from datetime import datetime
from pathlib import Path
from textwrap import dedent

import pytest

from engine import sdk
from engine.model import registry
from engine.model.validation import validate_text
from engine.triggers import conditions as cond

ROOT = Path(__file__).resolve().parents[2]


def builtin_entry_points() -> list[importlib.metadata.EntryPoint]:
    eps = importlib.metadata.entry_points()
    return [ep for group in registry.GROUPS.values() for ep in eps.select(group=group) if ep.dist and ep.dist.name == "lanner"]


def test_every_builtin_type_is_an_entry_point_under_each_of_its_names() -> None:
    """pyproject.toml and the @register_* decorators agree: each name of each type is an entry point."""
    declared: dict[tuple[str, str], set[str]] = {}
    for ep in builtin_entry_points():
        declared.setdefault((ep.group, ep.value), set()).add(ep.name)
    seen = set()
    for kind, group in registry.GROUPS.items():
        for canonical, cls in registry.classes(kind).items():
            if not registry.source_of(cls).builtin:
                continue
            target = f"{cls.__module__}:{cls.__qualname__}"
            assert declared.get((group, target)) == {canonical, *cls.aliases}, target
            seen.add((group, target))
    assert seen == set(declared), "entry points that name no registered class"


def test_type_modules_import_only_the_sdk() -> None:
    """The modules Lanner's entry points name (and the sibling modules they use) import engine.sdk only."""
    modules = {ep.value.split(":")[0] for ep in builtin_entry_points()}
    checked: set[str] = set()
    while modules:
        name = modules.pop()
        checked.add(name)
        tree = ast.parse((ROOT / (name.replace(".", "/") + ".py")).read_text())
        for node in ast.walk(tree):
            targets = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            )
            for target in targets:
                if target == "engine" or target.startswith("engine."):
                    package = name.rsplit(".", 1)[0]
                    assert target == "engine.sdk" or target.startswith(package + "."), f"{name} imports {target}"
                    if target != "engine.sdk" and target not in checked:
                        modules.add(target)
    assert {"engine.tasks.core", "engine.tasks.log", "engine.triggers.conditions", "engine.tasks.notebook"} <= checked


@pytest.mark.parametrize(
    ("kind", "name", "canonical"),
    [
        ("task", "io.kestra.plugin.core.log.Log", "log"),
        ("task", "io.kestra.core.tasks.log.Log", "log"),
        ("task", "io.kestra.core.tasks.flows.EachParallel", "for_each"),
        ("task", "io.kestra.core.tasks.scripts.Bash", "shell"),
        ("trigger", "io.kestra.core.models.triggers.types.Schedule", "schedule"),
        ("condition", "io.kestra.plugin.core.condition.DayWeek", "day_week"),
        ("condition", "io.kestra.core.models.conditions.types.ExecutionStatusCondition", "execution_status"),
        ("condition", "io.kestra.plugin.core.condition.ExecutionFlowCondition", "execution_flow"),
        ("condition", "ExecutionLabelsCondition", "execution_labels"),  # Kestra matches on the last segment
        ("condition", "DayWeek", "day_week"),
    ],
)
def test_current_and_legacy_kestra_names_resolve(kind: str, name: str, canonical: str) -> None:
    assert registry.resolve(kind, name).canonical == canonical


def test_unknown_types_get_a_suggestion_with_their_path() -> None:
    report = validate_text(dedent("""
        id: f
        namespace: t
        tasks:
          - id: a
            type: sequential
            tasks:
              - {id: b, type: io.kestra.plugin.core.log.Logg, message: hi}
        triggers:
          - {id: s, type: shedule, cron: "0 * * * *"}
    """))
    assert [str(e) for e in report.errors] == [
        "tasks[0].tasks[0].type: unknown task type 'io.kestra.plugin.core.log.Logg'; did you mean 'io.kestra.plugin.core.log.Log'? (line 8)",
        "triggers[0].type: unknown trigger type 'shedule'; did you mean 'schedule'? (line 10)",
    ]


def test_a_missing_type_and_a_non_mapping_task_are_named() -> None:
    report = validate_text("id: f\nnamespace: t\ntasks:\n  - {id: a, message: hi}\n  - just text\n")
    assert [str(e) for e in report.errors] == [
        "tasks[0].type: 'type' is required (e.g. log, python, io.kestra.plugin.core.log.Log) (line 4)",
        "tasks[1]: must be a mapping with a 'type' (a task such as log, python, io.kestra.plugin.core.log.Log) (line 5)",
    ]


def test_trigger_conditions_are_validated_like_tasks() -> None:
    report = validate_text(dedent("""
        id: f
        namespace: t
        tasks: [{id: a, type: log, message: hi}]
        triggers:
          - id: after
            type: flow
            conditions:
              - {type: io.kestra.plugin.core.condition.ExecutionStatus, in: [SUCCESS], notin: [FAILED]}
              - {type: io.kestra.plugin.core.condition.NoSuchThing}
    """))
    assert [str(e) for e in report.errors] == [
        "triggers[0].conditions[0].notin: unknown property 'notin'; did you mean 'notIn'? (line 9)",
        "triggers[0].conditions[1].type: unknown condition type 'io.kestra.plugin.core.condition.NoSuchThing' (line 10)",
    ]


def test_conditions_nest_and_evaluate() -> None:
    saturday, monday = datetime(2024, 5, 4, 9), datetime(2024, 5, 6, 9)
    not_weekend = [{"type": "io.kestra.plugin.core.condition.Not", "conditions": [{"type": "io.kestra.plugin.core.condition.Weekend"}]}]
    assert cond.schedule_ok(not_weekend, monday) and not cond.schedule_ok(not_weekend, saturday)
    with pytest.raises(cond.ConditionError, match="cannot be used on a Flow trigger"):
        cond.execution_ok([{"type": "io.kestra.plugin.core.condition.Weekend"}], {"state": "SUCCESS"})


def test_the_json_schema_lists_conditions_with_their_names() -> None:
    from engine.model.schema import flow_json_schema

    schema = flow_json_schema()
    day_week = schema["$defs"]["DayWeek"]
    assert "io.kestra.core.models.conditions.types.DayWeekCondition" in day_week["properties"]["type"]["enum"]
    assert day_week["x-lanner"]["plugin"] == "lanner"
    conditions = schema["$defs"]["Schedule"]["properties"]["conditions"]["anyOf"][0]["items"]["oneOf"]
    assert {"$ref": "#/$defs/DayWeek"} in conditions
    nested = schema["$defs"]["Sequential"]["properties"]["tasks"]["items"]["oneOf"]
    assert {"$ref": "#/$defs/Sequential"} in nested and {"$ref": "#/$defs/PythonTask"} in nested


def test_the_sdk_exports_what_it_documents() -> None:
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None, name
    assert issubclass(sdk.RunnableTask, registry.base_class("task")) and issubclass(sdk.PollingTrigger, sdk.Trigger)
    with pytest.raises(AttributeError):
        sdk.no_such_name  # noqa: B018


def test_plugins_report_lists_lanner_first_with_every_type() -> None:
    (own, *_) = registry.plugins()
    assert own.name == "lanner" and own.builtin and not own.errors
    assert {t["type"] for t in own.types["task"]} == set(registry.task_classes()) - {
        c for c, cls in registry.task_classes().items() if not registry.source_of(cls).builtin
    }
    data = own.to_dict()
    assert {"name", "version", "builtin", "tasks", "triggers", "conditions", "errors"} <= set(data)
    log = next(t for t in data["tasks"] if t["type"] == "log")
    assert log["class"] == "engine.tasks.log.Log" and "io.kestra.plugin.core.log.Log" in log["aliases"]


def test_the_readme_plugin_example_is_the_plugin_the_tests_install() -> None:
    readme = (ROOT / "README.md").read_text()
    fixture = ROOT / "tests" / "fixtures" / "plugins" / "lanner-plugin-example"
    block = readme.split("<!-- plugin-example:hello.py -->\n```python\n", 1)[1].split("```", 1)[0]
    assert block == (fixture / "lanner_plugin_example" / "hello.py").read_text()
    line = '"acme.Hello" = "lanner_plugin_example.hello:Hello"'
    assert line in (fixture / "pyproject.toml").read_text() and line in readme


def test_an_out_of_date_install_still_finds_lanners_types_in_its_source_tree() -> None:
    """When the installed metadata predates the entry points, pyproject.toml of the tree gives the same ones."""
    from engine.model import plugin_index

    installed = {(registry.GROUPS[k], n, t) for k, names in _installed_builtin().items() for n, t in names}
    from_tree = {(d.group, d.name, d.target) for d in plugin_index.source_tree_declarations()}
    assert from_tree == installed and len(installed) > 100


def _installed_builtin() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    by_group = {g: k for k, g in registry.GROUPS.items()}
    for ep in builtin_entry_points():
        out.setdefault(by_group[ep.group], []).append((ep.name, ep.value))
    return out


def test_the_plugin_record_lives_in_the_environment_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from engine.model import plugin_index

    monkeypatch.delenv("LANNER_PLUGIN_RECORD", raising=False)
    assert plugin_index.record_path() == Path(sys.prefix) / "share" / "lanner" / "plugin-types.json"
    monkeypatch.setenv("LANNER_PLUGIN_RECORD", "/somewhere/else.json")
    assert plugin_index.record_path() == Path("/somewhere/else.json")
