"""The YAML reference tables of the README (tasks, triggers, conditions), generated from the registry.

`python -m engine.model.reference --write README.md` refreshes the table
between the ``task-table`` markers; a test fails when README and registry differ.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path

from engine.model import registry

START, END = "<!-- task-table:start -->", "<!-- task-table:end -->"
PLUGIN_START, PLUGIN_END = "<!-- plugin-table:start -->", "<!-- plugin-table:end -->"
#: Lanner's first-party plugin distributions live in plugins/<name>/ next to engine/.
PLUGINS_DIR = Path(__file__).resolve().parents[2] / "plugins"


def _props(cls: type) -> str:
    from engine.model.condition import Condition
    from engine.model.task import Task
    from engine.model.trigger import Trigger

    if issubclass(cls, Condition):
        base = set(Condition.model_fields) | {"date"}
    elif issubclass(cls, Trigger):
        base = set(Trigger.model_fields)
    else:
        base = set(Task.model_fields) | {"errors", "finally_"}
    names = []
    for name, field in cls.model_fields.items():  # type: ignore[attr-defined]
        if name in base or (field.json_schema_extra or {}).get("deprecated"):
            continue
        alias = field.alias or name
        names.append(f"`{alias}`" + ("*" if field.is_required() else ""))
    return ", ".join(names)


def _own(classes: Mapping[str, registry.TypeClass]) -> dict[str, registry.TypeClass]:
    """Lanner's own types (first-party plugins have a table of their own; other installed plugins none)."""
    return {name: cls for name, cls in classes.items() if registry.source_of(cls).builtin}


def task_table_markdown() -> str:
    rows = ["| type | Kestra names | group | properties (* required) |", "| --- | --- | --- | --- |"]
    groups = ["Basics", "Flow control", "Scripts", "Notebooks", "HTTP"]

    def order(item: tuple[str, registry.TypeClass]) -> tuple[int, str]:
        name, cls = item
        return (groups.index(cls.group) if cls.group in groups else 99, name)

    for name, cls in sorted(_own(registry.task_classes()).items(), key=order):
        aliases = "<br>".join(f"`{a}`" for a in cls.aliases)
        source = registry.source_of(cls)
        group = cls.group if source.builtin else f"{cls.group} (plugin `{source.distribution}`)"
        rows.append(f"| `{name}` {cls.icon} {cls.title} | {aliases} | {group} | {_props(cls)} |")
    rows.append("")
    rows.append("| trigger | Kestra names | properties (* required) |")
    rows.append("| --- | --- | --- |")
    for name, cls in sorted(_own(registry.trigger_classes()).items()):
        aliases = "<br>".join(f"`{a}`" for a in cls.aliases)
        rows.append(f"| `{name}` {cls.icon} {cls.title} | {aliases} | {_props(cls)} |")
    rows.append("")
    rows.append("| condition | Kestra names | what it checks | properties (* required) |")
    rows.append("| --- | --- | --- | --- |")
    for name, cls in sorted(_own(registry.condition_classes()).items()):
        aliases = "<br>".join(f"`{a}`" for a in cls.aliases)
        rows.append(f"| `{name}` | {aliases} | {cls.summary} | {_props(cls)} |")
    return "\n".join(rows)


def first_party_plugins(plugins_dir: Path = PLUGINS_DIR) -> list[str]:
    """Distribution names of the plugins shipped in the repository (plugins/*/pyproject.toml)."""
    names = []
    for meta in sorted(plugins_dir.glob("*/pyproject.toml")):
        match = re.search(r'^name\s*=\s*"([^"]+)"', meta.read_text(encoding="utf-8"), re.M)
        if match:
            names.append(match.group(1))
    return names


def plugin_table_markdown(distributions: list[str] | None = None) -> str:
    """One row per type of the first-party plugins (installed ones only): plugin, type, kind, summary, properties."""
    wanted = first_party_plugins() if distributions is None else distributions
    rows = ["| plugin | type | what it does | properties (* required) |", "| --- | --- | --- | --- |"]
    for kind, classes in (("task", registry.task_classes()), ("trigger", registry.trigger_classes())):
        found = [(registry.source_of(cls).distribution, name, cls) for name, cls in classes.items()]
        for dist, name, cls in sorted((f for f in found if f[0] in wanted), key=lambda f: (wanted.index(str(f[0])), f[1])):
            aliases = "".join(f"<br>`{a}`" for a in cls.aliases)
            what = f"{cls.icon} {cls.summary}" + (" (trigger)" if kind == "trigger" else "")
            rows.append(f"| {dist} | `{name}`{aliases} | {what} | {_props(cls)} |")
    return "\n".join(rows)


def render_into(text: str) -> str:
    block = f"{START}\n{task_table_markdown()}\n{END}"
    text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: block, text, flags=re.S)
    if PLUGIN_START in text:
        plugins = f"{PLUGIN_START}\n{plugin_table_markdown()}\n{PLUGIN_END}"
        text = re.sub(re.escape(PLUGIN_START) + r".*?" + re.escape(PLUGIN_END), lambda _m: plugins, text, flags=re.S)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="README to update in place")
    args = parser.parse_args()
    if args.write:
        args.write.write_text(render_into(args.write.read_text()))
    else:
        print(task_table_markdown())


if __name__ == "__main__":
    main()
