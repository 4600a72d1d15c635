"""Templates that only look values up, evaluated without running Jinja's generated code.

Most properties of most tasks are ``{{ taskrun.value }}``, ``{{ outputs.t.value }}``,
``{{ inputs.name }}`` or a text around such lookups (``hello {{ execution.id }}``).
Running the compiled template for them costs a Jinja ``Context``, the watchdog's
deadline and the ledger of the render; walking the path directly costs a few dict
look-ups. :func:`plan` recognises such templates from their parsed tree, and
:func:`resolve` walks one path with the environment's own ``getattr``/``getitem``
(so map keys before methods, the sandbox's refusals, numeric indexes ... stay
exactly the same).

The fast path only ever answers when the full path would give the same value
without an error: anything unusual (a name that is not in the context or that a
runtime function shadows, an undefined step, a value of another type than plain
data) gives :data:`MISS`, and the caller renders the template the full way, which
raises the error with its usual message. There is nothing to bound: a path is a
fixed number of dict look-ups, and the values it returns are sized by the caller
as the full path sizes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Undefined

#: What :func:`resolve` answers when the template must be rendered the full way.
MISS: Any = object()

#: Kinds of step: ``.name``, ``[constant]``, ``[another path]``.
ATTR, ITEM, DYNAMIC = 0, 1, 2

#: Names the code generator gives a meaning of its own at the top of a template.
_RESERVED = frozenset({"self", "loop", "super", "caller", "varargs", "kwargs"})


class Path:
    """A root name and the steps that follow it: ``outputs.t[taskrun.value].value``."""

    __slots__ = ("name", "steps")

    def __init__(self, name: str, steps: tuple[tuple[int, Any], ...]):
        self.name = name
        self.steps = steps

    def __repr__(self) -> str:
        return f"Path({self.name!r}, {self.steps!r})"


#: A template the fast path can run: one path (a single ``{{ expression }}``), or texts and paths.
Plan = Path | tuple[str | Path, ...]


def path_of(node: nodes.Node) -> Path | None:
    """The path of a pure lookup expression, or None for anything else."""
    if isinstance(node, nodes.Name):
        if node.ctx != "load" or node.name in _RESERVED:
            return None
        return Path(node.name, ())
    if isinstance(node, nodes.Getattr):
        base = path_of(node.node)
        if base is None or node.ctx != "load":
            return None
        return Path(base.name, (*base.steps, (ATTR, node.attr)))
    if isinstance(node, nodes.Getitem):
        base = path_of(node.node)
        if base is None or node.ctx != "load":
            return None
        arg = node.arg
        if isinstance(arg, nodes.Const) and type(arg.value) in (str, int):
            return Path(base.name, (*base.steps, (ITEM, arg.value)))
        inner = path_of(arg)
        if inner is None:
            return None
        return Path(base.name, (*base.steps, (DYNAMIC, inner)))
    return None


def plan(tree: nodes.Template, expression: nodes.Expr | None) -> Plan | None:
    """How the fast path runs a parsed template: ``expression`` when it is the template's single
    expression (its value keeps its type), else the template's texts and paths; None when it cannot."""
    if expression is not None:
        return path_of(expression)
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts: list[str | Path] = []
    for child in tree.body[0].nodes:
        if isinstance(child, nodes.TemplateData):
            parts.append(child.data)
            continue
        path = path_of(child)
        if path is None:
            return None
        parts.append(path)
    return tuple(parts)


def resolve(
    path: Path,
    getattr_: Callable[[Any, str], Any],
    getitem: Callable[[Any, Any], Any],
    context: Mapping[str, Any],
    functions: Mapping[str, Any] | None,
) -> Any:
    """The value ``path`` names in ``context``, or :data:`MISS` (see the module's docstring)."""
    name = path.name
    if functions and name in functions:
        return MISS  # the runtime function, wrapped for the watchdog: the full path hands it out
    try:
        value = context[name]
    except KeyError:
        return MISS  # a global function or an undefined name
    for kind, key in path.steps:
        if kind == DYNAMIC:
            key = resolve(key, getattr_, getitem, context, functions)
            if key is MISS:
                return MISS
        if type(value) is dict:
            # What the environment's getattr and getitem do first on a map (keys before methods).
            try:
                value = value[key]
                continue
            except (KeyError, TypeError):
                pass
        value = getattr_(value, key) if kind == ATTR else getitem(value, key)
        if isinstance(value, Undefined):
            return MISS
    if isinstance(value, Undefined):
        return MISS
    return value
