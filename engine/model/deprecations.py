"""Kestra's deprecated spellings: accepted, rewritten to the current one, and reported as warnings.

Kestra keeps reading flows written for its older versions and says, in its
editor, what the current spelling is. Lanner does the same: before a flow is
validated, :func:`modernize` rewrites ``taskDefaults`` into ``pluginDefaults`` and
returns one warning per deprecated spelling it met, with the path to show and
the sentence naming what to write instead. Spellings the models read
themselves (an input's ``name`` and ``ENUM`` type, Pause's ``delay``, legacy
type names) are only reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.model import registry, tree

Path = tuple[str | int, ...]
Warning_ = tuple[Path, str]

#: Task properties Kestra deprecated, by the task's canonical type: property -> what to write instead.
TASK_PROPERTIES: dict[str, dict[str, str]] = {
    "pause": {
        "delay": "use pauseDuration (same meaning)",
        "tasks": "move these tasks after the Pause: they run once it is resumed",
    },
    "python": {"requirements": "use dependencies (installed into a cached virtual environment)"},
    "subflow": {"outputs": "declare outputs on the subflow itself (flow-level outputs); this task then returns them"},
}
#: Kestra's deprecated flowable types and the type that replaces them.
TASK_TYPES: dict[str, str] = {
    "io.kestra.plugin.core.flow.EachSequential": "io.kestra.plugin.core.flow.ForEach",
    "io.kestra.core.tasks.flows.EachSequential": "io.kestra.plugin.core.flow.ForEach",
    "io.kestra.plugin.core.flow.EachParallel": "io.kestra.plugin.core.flow.ForEach with concurrencyLimit: 0",
    "io.kestra.core.tasks.flows.EachParallel": "io.kestra.plugin.core.flow.ForEach with concurrencyLimit: 0",
}
_LEGACY_PREFIXES = ("io.kestra.core.tasks.", "io.kestra.core.models.triggers.types.", "io.kestra.core.models.conditions.types.")


def modernize(data: dict[str, Any]) -> tuple[dict[str, Any], list[Warning_]]:
    """``data`` with deprecated spellings rewritten, and a warning for each one met (document order)."""
    warnings: list[Warning_] = []
    out = dict(data)
    if "taskDefaults" in out:
        legacy = out.pop("taskDefaults")
        warnings.append((("taskDefaults",), "taskDefaults is deprecated: rename it pluginDefaults (same shape)"))
        if isinstance(legacy, list):
            current = out.get("pluginDefaults")
            out["pluginDefaults"] = [*legacy, *(current if isinstance(current, list) else [])]
    inputs = out.get("inputs")
    for i, item in enumerate(inputs if isinstance(inputs, list) else []):
        warnings.extend(_input_warnings(("inputs", i), item))
    for path, task in tree.iter_tasks(out):
        warnings.extend(_task_warnings(path, task))
        resume = task.get("onResume")
        for i, item in enumerate(resume if isinstance(resume, list) else []):
            warnings.extend(_input_warnings((*path, "onResume", i), item))
    triggers = out.get("triggers")
    for i, trig in enumerate(triggers if isinstance(triggers, list) else []):
        if isinstance(trig, dict):
            warnings.extend(_trigger_warnings(("triggers", i), trig))
    return out, warnings


def _input_warnings(path: Path, item: object) -> Iterator[Warning_]:
    """An input's ``name`` (Kestra 0.15 renamed it ``id``) and the ``ENUM`` type (now ``SELECT``); the
    Input model reads both itself."""
    if not isinstance(item, dict):
        return
    if "name" in item and "id" not in item:
        yield (*path, "name"), "an input's name is deprecated: rename it id (same meaning)"
    if item.get("type") == "ENUM":
        yield (*path, "type"), "input type ENUM is deprecated: use SELECT (same values and rules)"


def _task_warnings(path: Path, task: dict[str, Any]) -> Iterator[Warning_]:
    type_name = task.get("type")
    if not isinstance(type_name, str):
        return
    cls = registry.task_class(type_name)
    if cls is None:
        return
    if type_name in TASK_TYPES:
        yield (*path, "type"), f"{type_name} is deprecated: use {TASK_TYPES[type_name]}"
    elif type_name.startswith(_LEGACY_PREFIXES):
        yield (*path, "type"), _legacy_type(type_name, cls)
    for prop, advice in TASK_PROPERTIES.get(getattr(cls, "canonical", ""), {}).items():
        if prop in task:
            yield (*path, prop), f"{prop} is deprecated: {advice}"


def _trigger_warnings(path: Path, trig: dict[str, Any]) -> Iterator[Warning_]:
    type_name = trig.get("type")
    if isinstance(type_name, str) and type_name.startswith(_LEGACY_PREFIXES):
        cls = registry.trigger_class(type_name)
        if cls is not None:
            yield (*path, "type"), _legacy_type(type_name, cls)
    if "scheduleConditions" in trig:
        yield (*path, "scheduleConditions"), "scheduleConditions is deprecated: use conditions (same list)"


def _legacy_type(type_name: str, cls: type) -> str:
    """The warning for a legacy Kestra type name: its current name is the first ``io.kestra.plugin.`` alias."""
    current = next((a for a in getattr(cls, "aliases", ()) if a.startswith("io.kestra.plugin.")), None)
    if current is None:
        return f"{type_name} is a legacy Kestra name: use {getattr(cls, 'canonical', type_name)}"
    return f"{type_name} is deprecated: use {current}"
