"""Keep the editor's YAML text and the canvas's flow data in step, and place validator errors.

The editor shows the same flow twice: as Kestra YAML data on the canvas and as
text in the code editor. Both are editable. The data side is the raw YAML
mapping (``load_yaml``), never a pydantic dump, so unknown keys, key order and
task order survive; text is produced with ``dump_yaml``. :class:`YamlSync`
remembers the last pair it produced so that an echo (the canvas receiving the
data it just sent, the editor receiving its own text) is recognised and does
not bounce back and forth.

Errors come from the CLI's validator (``validate_text`` on the whole flow) and
are mapped back to the task or trigger their path points into, so the canvas
can badge the node and the property form can show the message next to the
field.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from builder.yaml_roundtrip import rewrite
from engine.model.validation import FlowError, ValidationReport, validate_data, validate_text
from engine.model.yaml_loader import YamlError, dump_yaml, load_yaml

_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")

#: Key under which flow-level errors (not inside any task) are reported.
FLOW_KEY = "__flow__"


def parse(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Flow data of YAML text, or ``(None, message)`` with the line of a syntax error."""
    try:
        data, _ = load_yaml(text)
    except YamlError as exc:
        return None, str(exc)
    return data, None


def dump(data: dict[str, Any]) -> str:
    """YAML text of flow data: block style, key order kept."""
    return dump_yaml(data)


def path_tokens(path: str) -> list[str | int]:
    """``"tasks[1].then[0].message"`` -> ``["tasks", 1, "then", 0, "message"]``."""
    return [int(i) if i else name for i, name in _TOKEN.findall(path)]


def _is_item(node: Any) -> bool:
    return isinstance(node, dict) and "id" in node and "type" in node


def locate(data: Any, path: str) -> tuple[str, str | None, list[str | int]]:
    """Which task/trigger an error path points into.

    Returns ``(owner, property, rest)``: the id of the deepest task or trigger the
    path walks through (``FLOW_KEY`` for flow-level paths), the first property name
    below it (``None`` when the path ends at the item), and the remaining tokens.
    """
    tokens = path_tokens(path)
    owner, owner_at = FLOW_KEY, -1
    node = data
    for i, tok in enumerate(tokens):
        try:
            node = node[tok]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            break
        if _is_item(node):
            owner, owner_at = str(node["id"]), i
    rest = tokens[owner_at + 1:]
    if owner == FLOW_KEY:
        prop = rest[0] if rest and isinstance(rest[0], str) else None
    else:
        prop = rest[0] if rest and isinstance(rest[0], str) else None
    return owner, prop, rest


@dataclass
class PlacedErrors:
    """Validator errors grouped by the task/trigger they belong to."""

    by_item: dict[str, list[str]] = field(default_factory=dict)        # id -> messages
    by_field: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # id -> property -> messages
    flow: list[str] = field(default_factory=list)                      # flow-level messages
    all: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.all

    def canvas_errors(self) -> dict[str, list[str]]:
        """The canvas's ``errors`` param: task id -> messages, flow-level ones under ``__flow__``."""
        out = {k: list(v) for k, v in self.by_item.items()}
        if self.flow:
            out[FLOW_KEY] = list(self.flow)
        return out


def place_errors(data: Any, errors: list[FlowError]) -> PlacedErrors:
    placed = PlacedErrors()
    for err in errors:
        text = str(err)
        placed.all.append(text)
        owner, prop, _ = locate(data, err.path) if err.path else (FLOW_KEY, None, [])
        if owner == FLOW_KEY:
            placed.flow.append(text)
            if prop:
                placed.by_field.setdefault(FLOW_KEY, {}).setdefault(prop, []).append(err.message)
            continue
        placed.by_item.setdefault(owner, []).append(f"{prop}: {err.message}" if prop else err.message)
        placed.by_field.setdefault(owner, {}).setdefault(prop or "", []).append(err.message)
    return placed


def validate(text: str) -> tuple[ValidationReport, PlacedErrors]:
    """Validate YAML text with the CLI's validator and place its errors."""
    report = validate_text(text)
    data = report.data
    if data is None:
        data, _ = parse(text)
    return report, place_errors(data or {}, report.errors)


def validate_flow_data(data: dict[str, Any]) -> tuple[ValidationReport, PlacedErrors]:
    """Same as :func:`validate` for data (positions come from its dumped text)."""
    return validate(dump(data))


def _same(a: Any, b: Any) -> bool:
    """Equal data including key order and int/float distinction (what a YAML dump would show)."""
    return json.dumps(a, default=str) == json.dumps(b, default=str)


class YamlSync:
    """The pair (text, data) of one flow being edited, updated from either side.

    ``from_text`` returns the new data when the text parses to something different,
    ``None`` otherwise (echo, or a syntax error, then in ``error``); ``from_data``
    returns the new text or ``None`` when nothing changed. Unparseable text never
    overwrites the data: the last good data stays on the canvas.
    """

    def __init__(self, data: dict[str, Any] | None = None, text: str | None = None):
        if text is not None:
            parsed, err = parse(text)
            self.data = parsed if parsed is not None else copy.deepcopy(data or {})
            self.text = text
            self.error = err
        else:
            self.data = copy.deepcopy(data or {})
            self.text = dump(self.data)
            self.error = None

    def from_text(self, text: str) -> dict[str, Any] | None:
        if text == self.text:
            return None
        self.text = text
        parsed, err = parse(text)
        self.error = err
        if parsed is None or _same(parsed, self.data):
            return None
        self.data = parsed
        return copy.deepcopy(parsed)

    def from_data(self, data: dict[str, Any]) -> str | None:
        if _same(data, self.data) and self.error is None:
            return None
        self.data = copy.deepcopy(data)
        # The user's comments, quotes and block styles survive edits made on the canvas or in a form.
        text = rewrite(self.text, self.data) if self.text and self.error is None else None
        if text is None or parse(text)[0] != self.data:
            text = dump(self.data)
        self.error = None
        if text == self.text:
            return None
        self.text = text
        return text


__all__ = ["FLOW_KEY", "PlacedErrors", "YamlSync", "dump", "locate", "parse", "path_tokens", "place_errors",
           "validate", "validate_data", "validate_flow_data"]
