"""The layers hold in the imports (DESIGN.md): a walk of the import graph of engine/ and builder/.

* ``engine.store`` imports nothing above ``engine.model`` (only the model and itself);
  ``engine.model`` imports none of ``engine.runtime``, ``engine.api``, ``engine.server``, ``builder``;
* no front end (``engine.cli*``, ``engine.api``, ``builder``) imports ``engine.store``: they go
  through the Engine;
* the runtime and the builder import no concrete task type (``engine.tasks``): they read the
  registry, so a plugin's types work the same;
* no module imports another module's underscore names;
* the modules of ``engine.store`` and of ``engine.model`` import each other in no circle.

Every ``import`` counts, also inside functions; imports under ``if TYPE_CHECKING:`` are
type-only and do not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "builder")
FRONT_ENDS = ("engine.cli", "engine.cli_run", "engine.cli_live", "engine.server_cli", "engine.api", "builder")
UPPER_LAYERS = ("engine.runtime", "engine.api", "engine.server", "builder")

#: Front ends that import the store (none since the Engine front door landed). Nothing may be added to it.
KNOWN_FRONT_END_STORE_IMPORTS: set[tuple[str, str]] = set()

Edge = tuple[str, str, int, str]  # (importer, imported module, line, imported name or "")


def module_of(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those only run by type checkers."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def edges(module: str, source: str, known_modules: set[str], is_package: bool = False) -> list[Edge]:
    """The imports of one module; ``from pkg import name`` points at ``pkg.name`` when that is a module."""
    out: list[Edge] = []
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((module, alias.name, node.lineno, "") for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, *([base] if base else [])])
        for alias in node.names:
            target = f"{base}.{alias.name}"
            if target in known_modules:
                out.append((module, target, node.lineno, ""))
            else:
                out.append((module, base, node.lineno, alias.name))
    return out


def import_graph(root: Path = ROOT) -> list[Edge]:
    files = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    known = {module_of(p, root) for p in files}
    out: list[Edge] = []
    for path in files:
        out.extend(edges(module_of(path, root), path.read_text(), known, path.name == "__init__.py"))
    return out


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(graph: Iterable[Edge], known: set[tuple[str, str]] = KNOWN_FRONT_END_STORE_IMPORTS) -> list[str]:
    """One sentence per import that breaks a layer rule (known front-end store imports excepted)."""
    out: list[str] = []
    for importer, imported, line, name in graph:
        where = f"{importer} (line {line}) imports {imported}" + (f".{name}" if name else "")
        first_party = _within(imported, PACKAGES)
        if _within(importer, ("engine.store",)) and first_party and not _within(imported, ("engine.model", "engine.store")):
            out.append(f"{where}: the store imports only engine.model")
        if _within(importer, ("engine.model",)) and _within(imported, UPPER_LAYERS):
            out.append(f"{where}: the model imports no runtime, API, server or builder module")
        if _within(importer, FRONT_ENDS) and _within(imported, ("engine.store",)) and (importer, imported) not in known:
            out.append(f"{where}: front ends go through the Engine, never to the store")
        if _within(importer, ("engine.runtime", "builder")) and _within(imported, ("engine.tasks",)):
            out.append(f"{where}: the runtime and the builder know task types through the registry only")
        private = [p for p in (*imported.split("."), name) if p.startswith("_") and not p.startswith("__")]
        if first_party and private:
            out.append(f"{where}: {private[0]} is private to its module")
    return out


def cycles(graph: Iterable[Edge], within: tuple[str, ...]) -> list[list[str]]:
    """Groups of modules (under ``within``) that import each other in a circle (Tarjan's SCC)."""
    succ: dict[str, set[str]] = {}
    for importer, imported, _, _ in graph:
        if _within(importer, within) and _within(imported, within) and importer != imported:
            succ.setdefault(importer, set()).add(imported)
            succ.setdefault(imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(succ[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return out


def test_the_layers_hold_in_the_imports() -> None:
    graph = import_graph()
    assert ("engine.runtime.local", "engine.store.sqlite_native") in {(a, b) for a, b, _, _ in graph}, "the walk finds imports"
    assert violations(graph) == []
    assert cycles(graph, ("engine.store",)) == [] and cycles(graph, ("engine.model",)) == []


def test_a_circle_is_found() -> None:
    known = {"engine.store.sql", "engine.store.kv", "engine.store.tables"}
    graph = [
        *edges("engine.store.sql", "from engine.store import kv\nfrom engine.store.tables import flows", known),
        *edges("engine.store.kv", "def f():\n    from engine.store.sql import SqlStore", known),
    ]
    assert cycles(graph, ("engine.store",)) == [["engine.store.kv", "engine.store.sql"]]


def test_known_front_end_store_imports_still_exist() -> None:
    """The list only shrinks: an entry whose import is gone must leave it."""
    present = {(a, b) for a, b, _, _ in import_graph()}
    assert KNOWN_FRONT_END_STORE_IMPORTS - present == set()


def test_each_rule_catches_its_violation() -> None:
    known = {"engine.store.sql", "engine.runtime.local", "engine.tasks.flow", "engine.model.task", "builder.topology"}
    cases = {
        ("engine.store.kv", "from engine.runtime.local import LocalRunner"): "the store imports only engine.model",
        ("engine.store.kv", "from engine.tasks import flow"): "the store imports only engine.model",
        ("engine.model.flow", "import builder.topology"): "the model imports no runtime",
        ("engine.model.flow", "def f():\n    from engine.runtime import local"): "the model imports no runtime",
        ("engine.api.flows", "from engine.store.sql import SqlStore"): "front ends go through the Engine",
        ("builder.pages.x", "from engine.store import sql"): "front ends go through the Engine",
        ("engine.cli", "from engine.store.kv import KvStore"): "front ends go through the Engine",
        ("engine.runtime.executor", "from engine.tasks.flow import If"): "through the registry only",
        ("builder.canvas.palette", "from ..topology import _canonical"): "_canonical is private to its module",
        ("engine.runtime.local", "from engine.store.sql import _dumps"): "_dumps is private to its module",
    }
    for (module, source), expected in cases.items():
        found = violations(edges(module, source, known))
        assert len(found) == 1 and expected in found[0], (module, source, found)
    allowed = [
        ("engine.store.kv", "from engine.model.ids import now_iso\nfrom sqlalchemy import select"),
        ("engine.model.task", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine.runtime.context import RunContext"),
        ("engine.runtime.local", "from engine.store.sql import SqlStore\nimport datetime as _dt"),
        ("builder.forms", "from engine.model import tree"),
    ]
    for module, source in allowed:
        assert violations(edges(module, source, known)) == [], (module, source)
