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

from engine.expressions.lite import ATTR, DYNAMIC, ITEM, MISS, Path, Plan, Step
from engine.expressions.lite import resolve as resolve_plain

__all__ = ["ATTR", "DYNAMIC", "ITEM", "MISS", "Path", "Plan", "path_of", "plan", "resolve", "step_of"]

#: Names the code generator gives a meaning of its own at the top of a template.
_RESERVED = frozenset({"self", "loop", "super", "caller", "varargs", "kwargs"})


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


def step_of(getattr_: Callable[[Any, str], Any], getitem: Callable[[Any, Any], Any]) -> Step:
    """A step of :func:`.lite.resolve` through an environment's ``getattr``/``getitem``: an undefined
    value is MISS (the full path raises its error)."""

    def step(value: object, kind: int, key: object) -> Any:
        value = getattr_(value, key) if kind == ATTR else getitem(value, key)  # type: ignore[arg-type]  # an ATTR key is a str
        return MISS if isinstance(value, Undefined) else value

    return step


def resolve(
    path: Path,
    getattr_: Callable[[Any, str], Any],
    getitem: Callable[[Any, Any], Any],
    context: Mapping[str, Any],
    functions: Mapping[str, Any] | None,
) -> Any:
    """The value ``path`` names in ``context``, or :data:`MISS` (see the module's docstring)."""
    value = resolve_plain(path, step_of(getattr_, getitem), context, functions)
    return MISS if isinstance(value, Undefined) else value
