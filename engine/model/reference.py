"""The YAML reference tables of the README (tasks, triggers, conditions), generated from the registry.

`python -m engine.model.reference --write README.md` refreshes the table
between the ``task-table`` markers; a test fails when README and registry differ.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from engine.model import registry

START, END = "<!-- task-table:start -->", "<!-- task-table:end -->"


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
        if name in base or (field.json_schema_extra or {}).get("deprecated"):  # type: ignore[union-attr]
            continue
        alias = field.alias or name
        names.append(f"`{alias}`" + ("*" if field.is_required() else ""))
    return ", ".join(names)


def _own(classes: dict[str, type]) -> dict[str, type]:
    """Lanner's own types only: plugins installed where the docs are built do not belong in its README."""
    return {name: cls for name, cls in classes.items() if registry.source_of(cls).builtin}


def task_table_markdown() -> str:
    rows = ["| type | Kestra names | group | properties (* required) |", "| --- | --- | --- | --- |"]
    groups = ["Basics", "Flow control", "Scripts", "Notebooks", "HTTP"]
    ordered = sorted(_own(registry.task_classes()).items(), key=lambda kv: (groups.index(kv[1].group) if kv[1].group in groups else 99, kv[0]))
    for name, cls in ordered:
        aliases = "<br>".join(f"`{a}`" for a in cls.aliases)
        rows.append(f"| `{name}` {cls.icon} {cls.title} | {aliases} | {cls.group} | {_props(cls)} |")
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


def render_into(text: str) -> str:
    block = f"{START}\n{task_table_markdown()}\n{END}"
    return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: block, text, flags=re.S)


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
