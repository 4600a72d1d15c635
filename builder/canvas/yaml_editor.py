"""``YamlEditor``: the flow's YAML as text, on CodeMirror 6 with schema-driven help.

Completion of property names and task types, hover documentation and validation
come from the flow's JSON Schema (``engine.model.schema.flow_json_schema``, what
``lanner flow schema`` prints); inside ``{{ }}`` the editor offers the flow's own
inputs, variables and ``outputs.<task>.<key>`` of each of its tasks. The browser
code is ``builder/frontend/src/yaml-editor-entry.js``, bundled and served by
Lanner's server like the canvas.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import param
from panel.custom import JSComponent

from builder.canvas.bundles import bundle

_BUNDLE = bundle("yaml-editor.js")


@cache
def _schema() -> dict[str, Any]:
    from engine.model.schema import flow_json_schema

    return flow_json_schema()


@cache
def output_keys() -> dict[str, list[str]]:
    """Type name (canonical and every alias) -> the keys its task exposes under ``outputs.<id>``."""
    from builder.forms import OUTPUT_KEYS
    from engine.model import registry

    out: dict[str, list[str]] = {}
    for canonical, cls in registry.task_classes().items():
        keys = list(OUTPUT_KEYS.get(canonical, ("value",)))
        for name in (canonical, *getattr(cls, "aliases", ())):
            out[name] = keys
    return out


class YamlEditor(JSComponent):
    """A YAML code editor bound to ``value`` (the flow's text)."""

    value = param.String(default="", doc="The YAML text; each edit in the browser is sent at once (and again before any click or Enter).")
    schema = param.Dict(default={}, doc="JSON Schema driving completion, hover docs and validation.")
    output_keys = param.Dict(default={}, doc="Task type -> its output keys, for {{ outputs.<task>. }} completion.")
    readonly = param.Boolean(default=False)

    _esm = _BUNDLE
    _bundle = _BUNDLE
    _stylesheets = [_BUNDLE.with_suffix(".css")]

    def __init__(self, **params: Any) -> None:
        params.setdefault("schema", _schema())
        params.setdefault("output_keys", output_keys())
        super().__init__(**params)
