"""Python code for Pebble's nodes and operators, emitted by a Jinja ``CodeGenerator``.

Every Pebble operator becomes a call on the environment (``environment.coalesce``,
``environment.compare`` ...), so its meaning is written once, in
:mod:`engine.expressions.semantics`, and goes through the same size checks
as the rest of the sandbox. Terms that Pebble evaluates lazily (the right
side of ``??``) are passed as lambdas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame

from engine.expressions import nodes as pn

#: Comparisons compiled to ``environment.compare``: Pebble's meaning, and inputs sized before C walks them.
_ORDERING = {"eq", "ne", "gt", "lt", "gteq", "lteq", "in", "notin"}
#: A list, dict or tuple literal (the node kinds :meth:`PebbleCodeGenerator._built` wraps).
_Literal = TypeVar("_Literal", nodes.List, nodes.Dict, nodes.Tuple)


class PebbleCodeGenerator(CodeGenerator):
    """Jinja's code generator with Pebble's operators and bounded concatenation."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's visitor names
        self.write("environment.str_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_And(self, node: nodes.BinExpr, frame: Frame) -> None:  # noqa: N802
        self._boolean(node, "and", frame)

    def visit_Or(self, node: nodes.BinExpr, frame: Frame) -> None:  # noqa: N802
        self._boolean(node, "or", frame)

    def _boolean(self, node: nodes.BinExpr, op: str, frame: Frame) -> None:
        # Pebble's and/or give a boolean, not one of their operands.
        self.write("(environment.truth(")
        self.visit(node.left, frame)
        self.write(f") {op} environment.truth(")
        self.visit(node.right, frame)
        self.write("))")

    # --- values the template builds: sized and counted where they are made (engine.expressions.ledger)

    def visit_List(self, node: nodes.List, frame: Frame) -> None:  # noqa: N802
        self._built(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:  # noqa: N802
        self._built(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:  # noqa: N802
        if node.ctx != "load":  # a loop or set target: nothing is built
            super().visit_Tuple(node, frame)
            return
        self._built(super().visit_Tuple, node, frame)

    def _built(self, visit: Callable[[_Literal, Frame], None], node: _Literal, frame: Frame) -> None:
        self.write("environment.built(")
        visit(node, frame)
        self.write(")")

    def visit_Filter(self, node: nodes.Filter, frame: Frame) -> None:  # noqa: N802
        self.write("environment.account(")
        super().visit_Filter(node, frame)
        self.write(")")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:  # noqa: N802
        if not isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        # a[1:] copies: a hundred slices of a large text in one list literal must not all exist at once
        self.write("environment.account(")
        super().visit_Getitem(node, frame)
        self.write(")")

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:  # noqa: N802
        if len(node.ops) == 1 and node.ops[0].op in _ORDERING:
            self.write(f"environment.compare({node.ops[0].op!r}, ")
            self.visit(node.expr, frame)
            self.write(", ")
            self.visit(node.ops[0].expr, frame)
            self.write(")")
            return
        super().visit_Compare(node, frame)

    def visit_Coalesce(self, node: pn.Coalesce, frame: Frame) -> None:  # noqa: N802
        self.write("environment.coalesce((")
        for term in node.terms:
            self.write("lambda: ")
            self.visit(term, frame)
            self.write(", ")
        self.write(f"), {tuple(node.undefined_only)!r})")

    def visit_PebbleBinary(self, node: pn.PebbleBinary, frame: Frame) -> None:  # noqa: N802
        self.write(f"environment.pebble_binary({node.op!r}, ")
        self.visit(node.left, frame)
        self.write(", ")
        self.visit(node.right, frame)
        self.write(")")

    def visit_Iterable(self, node: pn.Iterable, frame: Frame) -> None:  # noqa: N802
        self.write("environment.iterate(")
        self.visit(node.node, frame)
        self.write(")")

    def visit_ContextRef(self, node: pn.ContextRef, frame: Frame) -> None:  # noqa: N802
        self.write("environment.context_snapshot(context)")

    def visit_BlockRender(self, node: pn.BlockRender, frame: Frame) -> None:  # noqa: N802
        self.write(f"environment.render_block(context, {node.name!r})")
