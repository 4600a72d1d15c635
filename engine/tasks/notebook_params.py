"""What a notebook declares as parameters, and how given values compare with it.

papermill's ``--help-notebook`` knows a notebook's parameters from the cell
tagged ``parameters``; this module reads the same cell (Python notebooks only)
with :mod:`ast` rather than regular expressions, so annotations, tuples and
comments are understood, and a default's type is its literal's type. Nothing
here runs notebook code: ``ast.literal_eval`` only reads literals.

Two users: ``lanner flow validate`` (undeclared parameters and type mismatches,
reported with the flow's YAML line before anything runs) and the runner (a
notebook without a ``parameters`` cell whose own assignments would silently win
over injected values).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"

#: Annotation names understood as a declared type.
_ANNOTATED = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


@dataclass(frozen=True)
class Declared:
    """One parameter of the ``parameters`` cell: its default's source and type (None when unknown)."""

    name: str
    default: str
    kind: type | None


@dataclass(frozen=True)
class NotebookParameters:
    """The parameters cell of a notebook, as far as it can be read."""

    has_cell: bool
    python: bool
    declared: dict[str, Declared]


def _tags(cell: dict[str, Any]) -> list[str]:
    return list((cell.get("metadata") or {}).get("tags") or [])


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def python_source(text: str) -> str:
    """Cell source with IPython-only lines (``%magic``, ``!shell``) blanked so :mod:`ast` can read it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def _is_python(nb: dict[str, Any]) -> bool:
    meta = nb.get("metadata") or {}
    language = (meta.get("kernelspec") or {}).get("language") or (meta.get("language_info") or {}).get("name")
    return language in (None, "", "python")


def _kind(value: ast.expr | None, annotation: ast.expr | None) -> type | None:
    if isinstance(annotation, ast.Name) and annotation.id in _ANNOTATED:
        return _ANNOTATED[annotation.id]
    if value is None:
        return None
    try:
        literal = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if literal is None:
        return None
    if isinstance(literal, tuple):
        return list
    return type(literal) if type(literal) in _ANNOTATED.values() else None


def assigned_names(source: str) -> dict[str, tuple[ast.expr | None, ast.expr | None]]:
    """Top-level names a cell assigns, with their value and annotation (unreadable cells: none)."""
    try:
        tree = ast.parse(python_source(source))
    except (SyntaxError, ValueError):
        return {}
    out: dict[str, tuple[ast.expr | None, ast.expr | None]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                elts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
                single = len(elts) == 1
                for elt in elts:
                    if isinstance(elt, ast.Name):
                        out[elt.id] = (node.value if single else None, None)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = (node.value, node.annotation)
    return out


def inspect_notebook(nb: dict[str, Any]) -> NotebookParameters:
    """The declared parameters of a notebook given as its JSON (nbformat 4) structure."""
    cells = [c for c in nb.get("cells") or [] if isinstance(c, dict)]
    cell = next((c for c in cells if c.get("cell_type") == "code" and PARAMETERS_TAG in _tags(c)), None)
    python = _is_python(nb)
    if cell is None:
        return NotebookParameters(False, python, {})
    declared: dict[str, Declared] = {}
    if python:
        for name, (value, annotation) in assigned_names(_source(cell)).items():
            default = ast.unparse(value) if value is not None else ""
            declared[name] = Declared(name, default, _kind(value, annotation))
    return NotebookParameters(True, python, declared)


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook file as JSON; ValueError when it is not one."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no 'cells' list)")
    return data


def overridden_by_notebook(nb: dict[str, Any], names: list[str]) -> list[str]:
    """Injected names that a notebook without a parameters cell assigns again itself (so its values win)."""
    wanted = set(names)
    found: list[str] = []
    for cell in nb.get("cells") or []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or INJECTED_TAG in _tags(cell):
            continue
        for name in assigned_names(_source(cell)):
            if name in wanted and name not in found:
                found.append(name)
    return found


_TYPE_WORDS = {int: "an int", float: "a float", str: "a string", bool: "a boolean", list: "a list", dict: "a map"}


def type_word(kind: type) -> str:
    return _TYPE_WORDS.get(kind, kind.__name__)


def accepts(kind: type, value_kind: type) -> bool:
    """Whether a value of ``value_kind`` fits a parameter whose default is a ``kind``."""
    if kind is float:
        return value_kind in (int, float)
    if kind is int:
        return value_kind is int  # bool is an int subclass, but a flag is not a count
    return value_kind is kind


def value_kind(value: object) -> type | None:
    """The JSON-ish type of a YAML value (None: anything, e.g. null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return bool
    for kind in (int, float, str, list, dict):
        if isinstance(value, kind):
            return kind
    return None


def parameter_problems(
    params: NotebookParameters, given: dict[str, Any], kinds: dict[str, type | None], notebook: str
) -> list[tuple[str, str]]:
    """(parameter name, message) for every given parameter the notebook does not declare or types differently.

    ``kinds`` holds the type each given value will have at run time when it is
    known (a literal, or an expression that is exactly one typed input).
    """
    if not params.python or not params.has_cell:
        return []
    problems: list[tuple[str, str]] = []
    names = list(params.declared)
    for name in given:
        decl = params.declared.get(str(name))
        if decl is None:
            close = difflib.get_close_matches(str(name), names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            have = f" (it declares {', '.join(names)})" if names and not close else ""
            problems.append((str(name), f"notebook {notebook} does not declare a parameter '{name}' in its "
                                        f"parameters cell{have}{hint}"))
            continue
        got = kinds.get(name)
        if decl.kind is None or got is None or accepts(decl.kind, got):
            continue
        problems.append((str(name), f"is {type_word(got)} but notebook {notebook} declares "
                                    f"{name} = {decl.default} ({type_word(decl.kind)})"))
    return problems


#: The Python type a parameter gets from an expression that is exactly ``{{ inputs.X }}`` of this input type.
INPUT_KINDS: dict[str, type] = {
    "STRING": str, "SECRET": str, "SELECT": str, "URI": str, "FILE": str,
    "INT": int, "FLOAT": float, "BOOLEAN": bool, "MULTISELECT": list, "ARRAY": list,
}
_ONLY_INPUT = re.compile(r"^\s*\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}\s*$")


def given_kind(value: object, input_types: Mapping[str, str]) -> type | None:
    """The type a parameter value will have at run time, when it can be known before (else None)."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        m = _ONLY_INPUT.match(value)
        return INPUT_KINDS.get(input_types.get(m.group(1), "")) if m else None
    return value_kind(value)


def check_notebook_task(
    notebook: str, parameters: dict[str, Any] | None, flow_dir: Path | None, input_types: Mapping[str, str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Validation-time problems of a notebook task whose notebook is a local file (see ``Task.check_files``)."""
    ref = notebook.strip()
    if "{{" in ref or "{%" in ref or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", ref):
        return []  # known only at run time, or not a local file
    path = Path(ref).expanduser()
    candidates = [path] if path.is_absolute() else [Path(b) / path for b in (flow_dir, Path.cwd()) if b is not None]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        return [(("notebook",), f"notebook {ref!r} not found (looked beside the flow file and in the project directory)")]
    if not parameters:
        return []
    try:
        params = inspect_notebook(read_notebook(found))
    except (OSError, ValueError) as exc:
        return [(("notebook",), f"notebook {ref!r} is not a readable Jupyter notebook ({exc})")]
    if not params.has_cell:
        return []  # the runner warns, naming the assignments that would win
    kinds = {name: given_kind(value, input_types) for name, value in parameters.items()}
    return [(("parameters", name), message) for name, message in parameter_problems(params, parameters, kinds, ref)]
