"""AST nodes for the Pebble constructs Jinja has no node for.

The parser builds ordinary Jinja nodes wherever one means the same thing
(``CondExpr`` for ``c ? a : b``, ``Compare`` for ``equals``, ``Filter``,
``Test`` ...). The nodes here are the rest; the code generator
(:mod:`engine.expressions.compiler`) turns each into a call on the
environment, so the operator's meaning and its limits live in one Python
function (:mod:`engine.expressions.semantics`).
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes


class _PebbleNodeType(nodes.NodeType):
    """Jinja refuses new node classes (``NodeType.__new__`` raises) so that a node
    nobody compiles cannot slip in. Ours are all compiled by
    :class:`engine.expressions.compiler.PebbleCodeGenerator`, so this metaclass
    builds them with Jinja's own field inheritance.
    """

    def __new__(mcs, name: str, bases: tuple[type, ...], d: dict[str, Any]) -> Any:  # noqa: N804
        for attr in ("fields", "attributes"):
            d[attr] = (*getattr(bases[0], attr, ()), *d.get(attr, ()))
        d.setdefault("abstract", False)
        return type.__new__(mcs, name, bases, d)


class Coalesce(nodes.Expr, metaclass=_PebbleNodeType):
    """``a ?? b ??? c``: the first term that is defined (and, after ``??``, not null).

    ``terms`` are evaluated lazily from the left; ``undefined_only[i]`` says
    whether term ``i + 1`` follows ``???`` (replace only an undefined value)
    or ``??`` (replace an undefined or null value). A whole chain is one node,
    so thousands of terms compile flat instead of nesting thousands deep.
    """

    fields = ("terms", "undefined_only")
    terms: list[nodes.Expr]
    undefined_only: list[bool]


class PebbleBinary(nodes.Expr, metaclass=_PebbleNodeType):
    """A Pebble binary operator with no Jinja node: ``contains``, ``isIn``, ``notIn``, ``..``."""

    fields = ("op", "left", "right")
    op: str
    left: nodes.Expr
    right: nodes.Expr


class Iterable(nodes.Expr, metaclass=_PebbleNodeType):
    """What a ``{% for %}`` walks: maps give entries (``entry.key``/``entry.value``), null nothing."""

    fields = ("node",)
    node: nodes.Expr


class ContextRef(nodes.Expr, metaclass=_PebbleNodeType):
    """Pebble's ``_context``: a read-only copy of every variable the template sees."""

    fields = ()


class BlockRender(nodes.Expr, metaclass=_PebbleNodeType):
    """``block("name")``: the output of a ``{% block %}`` of this template, rendered again."""

    fields = ("name",)
    name: str
