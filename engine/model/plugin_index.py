"""Which type names the installed distributions declare, read from their entry points without importing them.

A distribution adds task, trigger and condition types by declaring entry
points in the groups ``lanner.tasks``, ``lanner.triggers`` and
``lanner.conditions``: the entry point's *name* is a type name (canonical or an
alias) and its *value* the class (``package.module:Class``). Lanner's own types
are declared the same way in its ``pyproject.toml``. Reading the names costs one
scan of the installed metadata and imports nothing, so a flow only imports the
modules of the types it uses.

Two things are kept beside the scan:

* When Lanner runs from a source tree whose installed metadata predates its
  entry points (an old editable install), its own declarations are read from
  that tree's ``pyproject.toml`` instead, so the built-in types never vanish.
* Every type name a plugin declared is remembered in the environment
  (``<sys.prefix>/share/lanner/plugin-types.json``). When the plugin is later
  uninstalled, a flow that still uses the type is told which plugin to install
  again instead of getting a bare "unknown type".
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from engine.model.plain import Frozen, set_field

KINDS = ("task", "trigger", "condition")
GROUPS = {"task": "lanner.tasks", "trigger": "lanner.triggers", "condition": "lanner.conditions"}
#: The distribution of Lanner's own (built-in) types.
BUILTIN = "lanner"


# Declaration and Scan are plain frozen classes, not dataclasses: every cold run imports this module, and
# building a dataclass costs ~0.5 ms (see engine/model/plain.py).


class Declaration(Frozen):
    """One entry point: ``name`` (a type name) of ``kind`` points to ``target`` (``module:attr``)."""

    __slots__ = ("kind", "name", "target", "distribution", "version")
    kind: str
    name: str
    target: str
    distribution: str
    version: str | None

    def __init__(self, kind: str, name: str, target: str, distribution: str, version: str | None) -> None:
        set_field(self, "kind", kind)
        set_field(self, "name", name)
        set_field(self, "target", target)
        set_field(self, "distribution", distribution)
        set_field(self, "version", version)

    @property
    def group(self) -> str:
        return GROUPS[self.kind]

    @property
    def module(self) -> str:
        return self.target.partition(":")[0].strip()

    @property
    def attr(self) -> str:
        return self.target.partition(":")[2].strip()


class Scan(Frozen):
    """The entry points found, with the declarations that lost a name conflict.

    ``conflicts`` pairs (ignored, kept); ``builtin_missing`` is set when Lanner's own declarations could
    not be found at all.
    """

    __slots__ = ("declarations", "conflicts", "builtin_missing")
    declarations: list[Declaration]
    conflicts: list[tuple[Declaration, Declaration]]
    builtin_missing: bool

    def __init__(self, declarations: list[Declaration], conflicts: list[tuple[Declaration, Declaration]],
                 builtin_missing: bool = False) -> None:
        set_field(self, "declarations", declarations)
        set_field(self, "conflicts", conflicts)
        set_field(self, "builtin_missing", builtin_missing)


def scan() -> Scan:
    """Every declaration in the three groups; one winner per (kind, name): Lanner's own, else by distribution name."""
    from engine.model.entry_point_cache import entries

    kinds = {group: kind for kind, group in GROUPS.items()}
    found = [
        Declaration(kinds[group], name, value, _normalise(dist) if dist is not None else "(unknown distribution)", version)
        for group, name, value, dist, version in entries()
        if group in kinds
    ]
    builtin_missing = False
    if not any(d.distribution == BUILTIN for d in found):
        source_tree = source_tree_declarations()
        builtin_missing = not source_tree
        found = source_tree + found
    kept: dict[tuple[str, str], Declaration] = {}
    conflicts: list[tuple[Declaration, Declaration]] = []
    for decl in sorted(found, key=lambda d: (d.distribution != BUILTIN, d.distribution)):
        key = (decl.kind, decl.name)
        if key in kept:
            if kept[key].target != decl.target or kept[key].distribution != decl.distribution:
                conflicts.append((decl, kept[key]))
            continue
        kept[key] = decl
    order = {id(d): i for i, d in enumerate(found)}
    return Scan(sorted(kept.values(), key=lambda d: order[id(d)]), conflicts, builtin_missing)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def source_tree_declarations() -> list[Declaration]:
    """Lanner's own entry points from the ``pyproject.toml`` of the tree this module runs from."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        import tomllib

        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    project = data.get("project") or {}
    if _normalise(str(project.get("name", ""))) != BUILTIN:
        return []
    tables = project.get("entry-points") or {}
    out = []
    for kind, group in GROUPS.items():
        for name, target in (tables.get(group) or {}).items():
            out.append(Declaration(kind, str(name), str(target), BUILTIN, str(project.get("version") or "") or None))
    return out


# --- the record of plugin types seen in this environment ------------------------------------------


def record_path() -> Path:
    """Where this environment remembers the types its plugins declared (``LANNER_PLUGIN_RECORD`` overrides)."""
    override = os.environ.get("LANNER_PLUGIN_RECORD")
    return Path(override) if override else Path(sys.prefix) / "share" / "lanner" / "plugin-types.json"


def read_record() -> dict[str, dict[str, list[str | None]]]:
    """``{kind: {type name: [distribution, version]}}``; empty when there is none or it is unreadable."""
    try:
        data = json.loads(record_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember(declarations: list[Declaration]) -> None:
    """Add the plugins' type names to the record (written only when something is new; errors ignored)."""
    plugins = [d for d in declarations if d.distribution != BUILTIN]
    if not plugins:
        return
    record = read_record()
    changed = False
    for decl in plugins:
        entry = [decl.distribution, decl.version]
        names = record.setdefault(decl.kind, {})
        if names.get(decl.name) != entry:
            names[decl.name] = entry
            changed = True
    if not changed:
        return
    path = record_path()
    try:
        import tempfile  # only when the record changes

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".plugin-types.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:  # a read-only environment only loses the "which plugin" hint
        pass


def recorded(kind: str, name: str) -> tuple[str, str | None] | None:
    """The plugin (distribution, version) that once declared ``name``, if this environment saw it."""
    entry = read_record().get(kind, {}).get(name)
    if isinstance(entry, list) and entry and isinstance(entry[0], str):
        return entry[0], entry[1] if len(entry) > 1 and isinstance(entry[1], str) else None
    return None
