"""Count the function parameters typed ``Any`` in a package (``engine/`` by default).

Issue 15 set a goal on this number (525 at the start, down by at least 80 %) and
``tests/unit/test_any_count.py`` keeps it under a committed ceiling, so the count must not be
easy to game: a parameter counts when its annotation is ``Any``, ``typing.Any`` (through any
import name of ``typing``), the string ``"Any"``, or a name that stands for ``Any`` by a
module-level alias (``Value = Any``, ``Value: TypeAlias = Any``, ``type Value = Any``), also when
the alias is imported from another module of the package or aliases another alias.
``*args``/``**kwargs`` count like any parameter; lambdas have no annotations.

    .venv/bin/python scripts/any_count.py            # total and per-module counts for engine/
    .venv/bin/python scripts/any_count.py --list     # every counted parameter, file:line
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class AnyParameter:
    """One parameter typed ``Any``: where it is, for the listing."""

    path: str
    line: int
    column: int
    function: str
    name: str


@dataclass
class _Module:
    name: str
    path: str  # relative to the package's parent: engine/model/flow.py
    tree: ast.Module
    typing_names: set[str]  # names bound to the typing module (`import typing as t`)
    local_aliases: dict[str, ast.expr]  # module-level `X = <expr>` / `type X = <expr>`
    imported: dict[str, tuple[str, str]]  # local name -> (module, name) for `from m import name`
    module_names: dict[str, list[str]]  # local name -> modules for `import a.b` (a -> a), `import a.b as c` (c -> a.b)


def _module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_from(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module name of ``from <level dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def _parse(path: str, source: str) -> _Module:
    tree = ast.parse(source, filename=path)
    name = _module_name(path)
    is_package = path.endswith("/__init__.py") or path == "__init__.py"
    typing_names: set[str] = set()
    aliases: dict[str, ast.expr] = {}
    imported: dict[str, tuple[str, str]] = {}
    module_names: dict[str, list[str]] = {}
    # Imports anywhere (including under `if TYPE_CHECKING:`); aliases at module level only.
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("typing", "typing_extensions"):
                    typing_names.add(alias.asname or alias.name)
                local = alias.asname or alias.name.split(".")[0]
                module_names.setdefault(local, []).append(alias.name if alias.asname else local)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(name, is_package, node.level, node.module)
            for alias in node.names:
                imported[alias.asname or alias.name] = (source, alias.name)
    for statement in _module_level(tree.body):
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                aliases[target.id] = statement.value
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
            aliases[statement.target.id] = statement.value
        elif isinstance(statement, ast.TypeAlias) and isinstance(statement.name, ast.Name):
            aliases[statement.name.id] = statement.value
    return _Module(name, path, tree, typing_names, aliases, imported, module_names)


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Module-level statements, including those under ``if``/``try`` (``if TYPE_CHECKING:``)."""
    out: list[ast.stmt] = []
    for statement in body:
        out.append(statement)
        if isinstance(statement, ast.If):
            out += _module_level(statement.body) + _module_level(statement.orelse)
        elif isinstance(statement, ast.Try):
            out += _module_level(statement.body) + _module_level(statement.orelse)
            for handler in statement.handlers:
                out += _module_level(handler.body)
    return out


class _Resolver:
    """Decides whether an annotation expression means ``Any`` in a given module."""

    def __init__(self, modules: dict[str, _Module]) -> None:
        self.modules = modules

    def is_any(self, expr: ast.expr | None, module: _Module, seen: frozenset[tuple[str, str]] = frozenset()) -> bool:
        if expr is None:
            return False
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            try:
                parsed = ast.parse(expr.value.strip(), mode="eval").body
            except SyntaxError:
                return False
            return self.is_any(parsed, module, seen)
        if isinstance(expr, ast.Attribute):
            return (
                expr.attr == "Any" and isinstance(expr.value, ast.Name) and expr.value.id in module.typing_names
            ) or self._attribute_alias(expr, module, seen)
        if isinstance(expr, ast.Name):
            return self._name_is_any(expr.id, module, seen)
        return False

    def _name_is_any(self, name: str, module: _Module, seen: frozenset[tuple[str, str]]) -> bool:
        key = (module.name, name)
        if key in seen:
            return False
        seen = seen | {key}
        if name in module.local_aliases:
            return self.is_any(module.local_aliases[name], module, seen)
        if name in module.imported:
            source, original = module.imported[name]
            if source in ("typing", "typing_extensions"):
                return original == "Any"
            other = self.modules.get(source)
            if other is not None:
                return self._name_is_any(original, other, seen)
        return False

    def _attribute_alias(self, expr: ast.Attribute, module: _Module, seen: frozenset[tuple[str, str]]) -> bool:
        """``values.Value`` or ``pkg.values.Value``: a package module reached by an import, ``Value = Any`` in it."""
        parts = _dotted(expr)
        if parts is None:
            return False
        head, *middle, attr = parts
        bases = list(module.module_names.get(head, ()))
        if head in module.imported:
            source, original = module.imported[head]
            bases.append(f"{source}.{original}" if source else original)
        for base in bases:
            other = self.modules.get(".".join([base, *middle]))
            if other is not None and self._name_is_any(attr, other, seen):
                return True
        return False


def _dotted(expr: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but names and attributes."""
    if isinstance(expr, ast.Name):
        return [expr.id]
    if isinstance(expr, ast.Attribute):
        head = _dotted(expr.value)
        return None if head is None else [*head, expr.attr]
    return None


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method with a dotted name (``Class.method``, ``outer.inner``)."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((prefix + child.name, child))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def find_any_parameters(root: Path) -> list[AnyParameter]:
    """Every parameter typed ``Any`` (directly or through an alias) in the ``.py`` files under ``root``."""
    sources = {path.relative_to(root.parent).as_posix(): path.read_text(encoding="utf-8") for path in root.rglob("*.py")}
    return any_parameters(sources)


def any_parameters(sources: dict[str, str]) -> list[AnyParameter]:
    """Every parameter typed ``Any`` in ``sources`` (``{"pkg/mod.py": text}``; imports resolve between them)."""
    modules = {module.name: module for module in (_parse(path, text) for path, text in sorted(sources.items()))}
    resolver = _Resolver(modules)
    found: list[AnyParameter] = []
    for module in modules.values():
        relative = module.path
        for qualified, function in _functions(module.tree):
            arguments = function.args
            parameters = [*arguments.posonlyargs, *arguments.args, arguments.vararg, *arguments.kwonlyargs, arguments.kwarg]
            for parameter in parameters:
                if parameter is not None and resolver.is_any(parameter.annotation, module):
                    found.append(AnyParameter(relative, parameter.lineno, parameter.col_offset, qualified, parameter.arg))
    return sorted(found, key=lambda p: (p.path, p.line, p.column))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(REPO / "engine"), help="package folder (default: engine/)")
    parser.add_argument("--list", action="store_true", help="print every counted parameter")
    options = parser.parse_args(argv)
    found = find_any_parameters(Path(options.root).resolve())
    if options.list:
        for p in found:
            print(f"{p.path}:{p.line}: {p.function}({p.name})")
    by_module = Counter(p.path for p in found)
    for path, count in sorted(by_module.items(), key=lambda item: (-item[1], item[0])):
        print(f"{count:5d}  {path}")
    print(f"{len(found):5d}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
