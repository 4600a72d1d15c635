"""The flow templates Lanner ships: business stories a user starts a new flow from.

``catalog.yaml`` lists them (id, title, one-line story, flow file, and the namespace
files a template needs, such as a notebook); each flow file is a complete flow that
runs as it is (``tests/integration/test_flow_templates.py`` runs every one against
local counterparts). :func:`catalog` reads them with what each uses (the titles of
its task and trigger types, and the plugin distributions they come from) and whether
this installation can run it (a plugin may be missing); :func:`instantiate` gives a
template's YAML under the namespace and id the user chose, comments kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from engine.model.views_workspace import FlowTemplate

_ID_LINE = re.compile(r"^id:.*$", re.MULTILINE)
_NAMESPACE_LINE = re.compile(r"^namespace:.*$", re.MULTILINE)


class TemplateNotFound(LookupError):
    pass


@dataclass(frozen=True)
class _Entry:
    id: str
    title: str
    story: str
    file: str
    files: dict[str, str]


def _read(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()


@cache
def _entries() -> tuple[_Entry, ...]:
    raw = yaml.safe_load(_read("catalog.yaml").decode())
    return tuple(_Entry(str(e["id"]), str(e["title"]), str(e["story"]), str(e["file"]),
                        {str(k): str(v) for k, v in (e.get("files") or {}).items()}) for e in raw)


def _entry(template_id: str) -> _Entry:
    for entry in _entries():
        if entry.id == template_id:
            return entry
    raise TemplateNotFound(f"there is no template {template_id!r}; "
                           f"the templates are {', '.join(e.id for e in _entries())}")


def _types(data: dict[str, Any]) -> list[str]:
    """Every task and trigger type of a flow's YAML data, in order of appearance, once each."""
    from engine.model.tree import iter_tasks

    found = [str(task.get("type", "")) for _path, task in iter_tasks(data)]
    found += [str(t.get("type", "")) for t in data.get("triggers") or [] if isinstance(t, dict)]
    return list(dict.fromkeys(t for t in found if t))


def _uses(types: list[str]) -> tuple[list[str], list[str]]:
    """(titles of the types, plugin distributions other than Lanner's own) of a template."""
    from engine.model import registry

    titles, plugins = [], []
    for name in types:
        cls = registry.task_class(name) or registry.trigger_class(name)
        if cls is None:
            titles.append(name)
            continue
        titles.append(str(getattr(cls, "title", "") or name))
        source = registry.source_of(cls)
        if source.distribution and not source.builtin:
            plugins.append(source.distribution)
    return list(dict.fromkeys(titles)), list(dict.fromkeys(plugins))


def catalog() -> list[FlowTemplate]:
    """Every template, with what it uses and whether it validates here (a plugin it needs may be missing)."""
    return list(_catalog())


@cache
def _catalog() -> tuple[FlowTemplate, ...]:
    """Built once per process (validating six flows costs most of a second): the templates are package
    data, and the plugins a process loaded do not change while it runs."""
    from engine.model.validation import validate_text

    out = []
    for entry in _entries():
        source = _read(entry.file).decode()
        report = validate_text(source)
        data = report.data if isinstance(report.data, dict) else {}
        titles, plugins = _uses(_types(data))
        problem = str(report.errors[0]) if report.errors else None
        out.append(FlowTemplate(id=entry.id, title=entry.title, story=entry.story, source=source, uses=titles,
                                plugins=plugins, files=sorted(entry.files), available=problem is None,
                                problem=problem))
    return tuple(out)


def instantiate(template_id: str, namespace: str, flow_id: str) -> str:
    """The template's YAML with its ``id`` and ``namespace`` set to the user's (its comments kept)."""
    source = _read(_entry(template_id).file).decode()
    source = _ID_LINE.sub(f"id: {flow_id}", source, count=1)
    return _NAMESPACE_LINE.sub(f"namespace: {namespace}", source, count=1)


def files(template_id: str) -> dict[str, bytes]:
    """The namespace files a template needs: path in the namespace -> content."""
    return {path: _read(name) for path, name in _entry(template_id).files.items()}


__all__ = ["TemplateNotFound", "catalog", "files", "instantiate"]
