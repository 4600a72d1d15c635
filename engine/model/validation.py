"""Turn flow YAML into a validated :class:`Flow`, or into every error at once.

Each error names its path (``tasks[2].retry.maxAttempt``), says what is wrong
and gives the YAML line/column where it is known. Structural errors come from
pydantic; the checks pydantic cannot express (unique ids across the whole
tree, dag cycles, expressions that do not parse, ``outputs.X`` pointing to a
task that does not exist) are done here on the raw data, so they carry
positions too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import GetCoreSchemaHandler, ValidationError

from engine import expressions
from engine.model import registry, tree
from engine.model.deprecations import modernize
from engine.model.flowable import FLOW_CHILD_LISTS
from engine.model.plain import Frozen, Plain, set_field
from engine.model.upstream import Lookup, flow_trigger_input_errors
from engine.model.yaml_loader import YamlError, load_yaml

if TYPE_CHECKING:
    from pydantic_core import CoreSchema

Path = tuple[str | int, ...]


# FlowError and ValidationReport are plain classes, not dataclasses: every cold run imports this module,
# and building a dataclass costs ~0.5 ms (see engine/model/plain.py).


class FlowError(Frozen):
    """One problem of a flow: the dotted ``path`` of the field, what is wrong, and where in the YAML."""

    __slots__ = ("path", "message", "line", "column")
    path: str
    message: str
    line: int | None
    column: int | None

    def __init__(self, path: str, message: str, line: int | None = None, column: int | None = None) -> None:
        set_field(self, "path", path)
        set_field(self, "message", message)
        set_field(self, "line", line)
        set_field(self, "column", column)

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        prefix = f"{self.path}: " if self.path else ""
        return f"{prefix}{self.message}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "line": self.line, "column": self.column}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: object, handler: GetCoreSchemaHandler) -> CoreSchema:
        """How the views (:mod:`engine.model.views`) read and write it, as pydantic did the dataclass: an
        instance or a mapping in, the mapping of :meth:`to_dict` out, and the same JSON schema."""
        from pydantic_core import PydanticCustomError
        from pydantic_core import core_schema as cs

        def mapping(value: object) -> object:
            if isinstance(value, cls):
                return value.to_dict()
            if isinstance(value, dict):
                return value
            raise PydanticCustomError("dataclass_type", "Input should be a dictionary or an instance of FlowError")

        position = cs.with_default_schema(cs.nullable_schema(cs.int_schema()), default=None)
        fields = cs.typed_dict_schema(
            {"path": cs.typed_dict_field(cs.str_schema()),
             "message": cs.typed_dict_field(cs.str_schema()),
             "line": cs.typed_dict_field(position, required=False),
             "column": cs.typed_dict_field(position, required=False)},
            ref="FlowError", metadata={"pydantic_js_updates": {"title": "FlowError"}})
        return cs.no_info_before_validator_function(
            mapping,
            cs.no_info_after_validator_function(lambda values: cls(**values), fields),
            serialization=cs.plain_serializer_function_ser_schema(cls.to_dict, return_schema=fields),
        )


class FlowValidationError(ValueError):
    """Raised with every error of a flow; ``str()`` lists them one per line."""

    def __init__(self, errors: list[FlowError], source: str | None = None):
        self.errors = errors
        self.source = source
        super().__init__("\n".join(str(e) for e in errors))


class ValidationReport(Plain):
    """What validating a flow found: the flow (None when there are errors), its errors and warnings, its data."""

    __slots__ = ("flow", "errors", "warnings", "data")
    flow: Any | None
    errors: list[FlowError]
    warnings: list[FlowError]
    data: Any

    def __init__(self, flow: Any | None, errors: list[FlowError] | None = None, warnings: list[FlowError] | None = None,
                 data: object = None) -> None:
        self.flow = flow
        self.errors = [] if errors is None else errors
        self.warnings = [] if warnings is None else warnings
        self.data = data


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Positions:
    """Adapter over the YAML loader's position map: nearest known ancestor wins."""

    def __init__(self, positions: object):
        self._p = positions

    def at(self, path: Path) -> tuple[int | None, int | None]:
        p = tuple(path)
        while True:
            pos = None
            if hasattr(self._p, "position"):
                pos = self._p.position(p)
            elif isinstance(self._p, dict):
                pos = self._p.get(p)
            if pos:
                return pos[0], pos[1]
            if not p:
                return None, None
            p = p[:-1]


def validate_text(text: str | bytes, *, source: str | None = None, upstream: Lookup | None = None) -> ValidationReport:
    """Validate flow YAML; never raises for bad input, returns every error.

    ``upstream`` looks deployed flows up (namespace, id): a Flow trigger's inputs are then checked
    against the tasks of the flows it listens to.
    """
    try:
        data, positions = load_yaml(text)
    except YamlError as exc:
        return ValidationReport(None, [FlowError("", exc.message, exc.line, exc.column)])
    return validate_data(data, positions=positions, upstream=upstream)


def validate_data(data: object, *, positions: object = None, upstream: Lookup | None = None) -> ValidationReport:
    """Validate already-parsed flow data (from YAML or a JSON API body)."""
    from engine.model.flow import Flow

    registry.finalize()
    pos = _Positions(positions or {})
    report = ValidationReport(None, data=data)
    if not isinstance(data, dict):
        report.errors.append(FlowError("", "a flow must be a mapping with id, namespace and tasks"))
        return report
    modern, deprecated = modernize(data)
    prepared = apply_plugin_defaults(modern)
    try:
        flow = Flow.model_validate(prepared)
    except ValidationError as exc:
        report.errors.extend(_pydantic_errors(exc, prepared, pos))
        flow = None
    report.errors.extend(_semantic_errors(prepared, pos))
    report.warnings.extend(_warnings(prepared, pos))
    for path, message in deprecated:
        line, col = pos.at(path)
        report.warnings.append(FlowError(format_path(path), message, line, col))
    if flow is not None and upstream is not None:
        for path, message in flow_trigger_input_errors(flow, upstream):
            line, col = pos.at(path)
            report.errors.append(FlowError(format_path(path), message, line, col))
    for i, trigger in enumerate((flow.triggers or []) if flow is not None else []):
        for sub, message in trigger.condition_errors():
            line, col = pos.at(("triggers", i, *sub))
            report.errors.append(FlowError(format_path(("triggers", i, *sub)), message, line, col))
        for prop, message in trigger.validation_warnings():
            line, col = pos.at(("triggers", i, prop))
            report.warnings.append(FlowError(format_path(("triggers", i, prop)), message, line, col))
    # Keep errors unique and in document order.
    seen: set[tuple[str, str]] = set()
    unique = []
    for err in report.errors:
        key = (err.path, err.message)
        if key not in seen:
            seen.add(key)
            unique.append(err)
    unique.sort(key=lambda e: (e.line or 0, e.column or 0))
    report.errors = unique
    report.flow = flow if not unique else None
    return report


class _Report(Protocol):
    """Where a check reports an error: the value's path, the sentence, and a line inside a multi-line value."""

    def __call__(self, path: Path, message: str, line_in_value: int = 0) -> None: ...


def check_files(text: str | bytes, flow_dir: FilePath | None) -> list[FlowError]:
    """Errors found in the files a valid flow's tasks refer to (:meth:`Task.check_files`), with their lines.

    Used by ``lanner flow validate``, which knows the flow file's folder; deploying
    and running do not read those files here (the task reports them when it runs).
    """
    try:
        data, positions = load_yaml(text)
    except YamlError:
        return []
    if not isinstance(data, dict):
        return []
    prepared = apply_plugin_defaults(modernize(data)[0])
    pos = _Positions(positions or {})
    raw_inputs = declared if isinstance(declared := prepared.get("inputs"), list) else []
    input_types = {str(i.get("id")): str(i.get("type", "STRING")).upper() for i in raw_inputs if isinstance(i, dict)}
    from engine.model.task import Task

    registry.finalize()
    errors: list[FlowError] = []
    for path, raw in iter_tasks(prepared):
        cls = registry.task_class(str(raw.get("type")))
        if cls is None or cls.check_files is Task.check_files:  # nothing to read for this type
            continue
        try:
            task = cls.model_validate(raw)
        except ValidationError:
            continue
        for sub, message in task.check_files(flow_dir, input_types):
            full = (*path, *sub)
            line, col = pos.at(full)
            errors.append(FlowError(format_path(full), message, line, col))
    return errors


def load_flow(text: str | bytes, *, source: str | None = None, upstream: Lookup | None = None) -> Any:
    """Parse and validate flow YAML; raise FlowValidationError with every error."""
    report = validate_text(text, source=source, upstream=upstream)
    if report.errors:
        raise FlowValidationError(report.errors, source)
    report.flow.__dict__["_source"] = text if isinstance(text, str) else text.decode()
    report.flow.__dict__["_warnings"] = report.warnings
    return report.flow


# --- pluginDefaults -----------------------------------------------------------------------------


def apply_plugin_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Apply ``pluginDefaults`` to every task of a matching type (before validation)."""
    defaults = data.get("pluginDefaults")
    if not isinstance(defaults, list) or not defaults:
        return data
    rules = [d for d in defaults if isinstance(d, dict) and isinstance(d.get("values"), dict) and isinstance(d.get("type"), str)]

    def matches(rule_type: str, task_type: str) -> bool:
        if rule_type.endswith("."):
            return task_type.startswith(rule_type)
        a, b = registry.canonical_task_name(rule_type), registry.canonical_task_name(task_type)
        return rule_type == task_type or (a is not None and a == b)

    def fix(task: object) -> Any:
        if not isinstance(task, dict) or not isinstance(task.get("type"), str):
            return task
        merged = dict(task)
        for rule in rules:
            if matches(rule["type"], task["type"]):
                for k, v in rule["values"].items():
                    if rule.get("forced") or k not in merged:
                        merged[k] = v
        return tree.map_child_tasks(merged, fix)

    out = dict(data)
    for child_list in FLOW_CHILD_LISTS:
        if isinstance(out.get(child_list.name), list):
            out[child_list.name] = [fix(t) for t in out[child_list.name]]
    return out


def iter_tasks(data: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every task dict of the flow with its path, depth first, in document order."""
    return tree.iter_tasks(data)


_iter_strings = tree.iter_strings


def _semantic_errors(data: dict[str, Any], pos: _Positions) -> list[FlowError]:
    errors: list[FlowError] = []

    def err(path: Path, message: str, line_in_value: int = 0) -> None:
        line, col = pos.at(path)
        if line is not None and line_in_value:
            line, col = line + line_in_value, None
        errors.append(FlowError(format_path(path), message, line, col))

    # Unique task ids across the whole flow.
    seen: dict[str, Path] = {}
    all_ids: set[str] = set()
    for path, task in iter_tasks(data):
        tid = task.get("id")
        if not isinstance(tid, str):
            continue
        all_ids.add(tid)
        cls = registry.task_class(str(task.get("type")))
        if cls is not None:
            all_ids.update(cls.implied_task_ids(tid))
        if tid in seen:
            err((*path, "id"), f"duplicate task id '{tid}' (already used at {format_path(seen[tid])}); task ids must be unique in the flow")
        else:
            seen[tid] = path

    # Graph-shaped lists (a dag's tasks): dependsOn must name tasks of the same graph, and no cycles.
    for path, task in iter_tasks(data):
        for child_list in tree.branch_lists(task.get("type")):
            if child_list.shape == "graph" and isinstance(task.get(child_list.name), list):
                errors.extend(_dag_errors(task[child_list.name], (*path, child_list.name), pos))

    # Expressions must parse; outputs.X must name an existing task.
    output_ids = all_ids
    for path, task in iter_tasks(data):
        cls = registry.task_class(str(task.get("type")))
        if cls is None:
            continue  # an unknown type is the error to fix first; its properties mean nothing yet
        nested = tree.child_list_names(task.get("type"))
        for key, value in task.items():
            if key in nested:
                continue
            ids = None if key in cls.foreign_expressions else output_ids
            for spath, text in _iter_strings(value, (*path, key)):
                _check_expression(text, spath, ids, err)
    for key in ("variables", "outputs", "labels", "sla"):
        for spath, text in _iter_strings(data.get(key), (key,)):
            _check_expression(text, spath, output_ids, err)
    for i, trig in enumerate(triggers if isinstance(triggers := data.get("triggers"), list) else []):
        if isinstance(trig, dict):
            # A Flow trigger's inputs read the upstream execution's outputs (checked against that flow on deploy).
            upstream = registry.canonical_trigger_name(str(trig.get("type"))) == "flow"
            for spath, text in _iter_strings(trig.get("inputs"), ("triggers", i, "inputs")):
                _check_expression(text, spath, None if upstream else output_ids, err)
    return errors


def _check_expression(text: str, path: Path, task_ids: set[str] | None, err: _Report) -> None:
    """The expression must parse; with ``task_ids``, every ``outputs.X`` it reads must name one of them."""
    if "{{" not in text and "{%" not in text:
        return
    try:
        expressions.check_syntax(text)
    except expressions.ExpressionError as exc:
        if exc.line and "\n" in text.strip():
            # A block scalar: its first line is the one after the key, so the error gets its own line.
            where = f" (column {exc.column})" if exc.column else ""
            err(path, f"expression does not parse: {exc.cause}{where}", exc.line)
        else:
            err(path, f"expression does not parse: {exc.reason}")
        return
    if task_ids is None:
        return
    for ref in sorted(expressions.referenced_outputs(text)):
        if ref not in task_ids:
            import difflib  # only for a misspelt name
            close = difflib.get_close_matches(ref, list(task_ids), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            err(path, f"outputs.{ref} refers to a task that does not exist{hint}")


def _dag_errors(items: list[Any], path: Path, pos: _Positions) -> list[FlowError]:
    errors: list[FlowError] = []
    ids: dict[str, int] = {}
    deps: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("task"), dict) and isinstance(item["task"].get("id"), str):
            ids[item["task"]["id"]] = i
            d = item.get("dependsOn") or []
            deps[item["task"]["id"]] = [x for x in d if isinstance(x, str)] if isinstance(d, list) else []
    for tid, dlist in deps.items():
        for j, dep in enumerate(dlist):
            if dep not in ids:
                p = (*path, ids[tid], "dependsOn", j)
                line, col = pos.at(p)
                errors.append(FlowError(format_path(p), f"'{tid}' depends on '{dep}', which is not a task of this dag", line, col))
    # Cycle detection (DFS with colours).
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for dep in deps.get(node, []):
            if dep not in ids:
                continue
            if colour.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if colour.get(dep, 0) == 0:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = 2
        return None

    for node in deps:
        if colour.get(node, 0) == 0:
            cycle = visit(node)
            if cycle:
                p = (*path, ids[cycle[0]], "dependsOn")
                line, col = pos.at(p)
                errors.append(FlowError(format_path(path), "dependency cycle: " + " -> ".join(reversed(cycle)), line, col))
                break
    return errors


def _warnings(data: dict[str, Any], pos: _Positions) -> list[FlowError]:
    out: list[FlowError] = []
    for i, trig in enumerate(triggers if isinstance(triggers := data.get("triggers"), list) else []):
        if isinstance(trig, dict) and registry.canonical_trigger_name(str(trig.get("type"))) == "webhook":
            key = trig.get("key")
            if isinstance(key, str) and len(key) < 16 and "{{" not in key and "{%" not in key:
                line, col = pos.at(("triggers", i, "key"))
                out.append(FlowError(format_path(("triggers", i, "key")), "webhook key is shorter than 16 characters: anyone who guesses it can start this flow", line, col))
    return out


# --- pydantic errors ----------------------------------------------------------------------------


def _lookup(data: Any, path: Path) -> Any:
    cur = data
    for part in path:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _clean_loc(loc: tuple[Any, ...], data: object) -> Path:
    """Drop pydantic's function markers from an error location."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and part.startswith("function-") and isinstance(_lookup(data, tuple(out)), dict):
            if part not in _lookup(data, tuple(out)):
                continue
        out.append(part)
    return tuple(out)


def _pydantic_errors(exc: ValidationError, data: object, pos: _Positions) -> list[FlowError]:
    out: list[FlowError] = []
    for e in exc.errors(include_url=False):
        path = _clean_loc(tuple(e["loc"]), data)
        kind = e["type"]
        ctx = e.get("ctx") or {}
        msg = e["msg"]
        value = _lookup(data, path)
        if kind in ("lanner_unknown_type", "lanner_missing_type"):
            path = (*path, "type")  # the message (from the registry) names the type and what to do
        elif kind == "extra_forbidden":
            parent = _lookup(data, path[:-1])
            key = path[-1]
            known = _known_properties(parent, path[:-1])
            import difflib  # only for a misspelt name
            close = difflib.get_close_matches(str(key), known, n=1)
            msg = f"unknown property '{key}'" + (f"; did you mean '{close[0]}'?" if close else "")
        elif kind == "missing":
            msg = "is required"
        elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
            sym = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
            bound = next(iter(ctx.values())) if ctx else "?"
            msg = f"must be {sym} {bound} (got {value!r})"
        elif kind == "string_pattern_mismatch":
            msg = f"{value!r} is not allowed: use letters, digits, '-' and '_'"
        elif kind == "too_short" and isinstance(value, list):
            msg = "must not be empty"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        elif msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, "):]
        else:
            msg = msg[0].lower() + msg[1:] if msg else msg
        line, col = pos.at(path)
        out.append(FlowError(format_path(path), msg, line, col))
    return out


def _known_properties(parent: object, path: Path) -> list[str]:
    """Property names a mapping at ``path`` accepts, for 'did you mean' hints."""
    from engine.model.flow import Flow

    cls: Any = None
    if isinstance(parent, dict) and isinstance(parent.get("type"), str):
        cls = registry.lookup(_kind_at(path), parent["type"])
    elif not path:
        cls = Flow
    if cls is None:
        return []
    names = []
    for name, f in cls.model_fields.items():
        names.append(f.alias or name)
    return names


def _kind_at(path: Path) -> str:
    """Whether the mapping at ``path`` is a task, a trigger or a condition (by the lists it sits in)."""
    keys = [p for p in path if isinstance(p, str)]
    if any(k in ("conditions", "scheduleConditions") for k in keys[1:]) and keys[:1] == ["triggers"]:
        return "condition"
    return "trigger" if keys[:1] == ["triggers"] else "task"
