"""Python code for Pebble's nodes and operators, emitted by a Jinja ``CodeGenerator``.

Every Pebble operator becomes a call on the environment (``environment.coalesce``,
``environment.compare`` ...), so its meaning is written once, in
:mod:`engine.expressions.semantics`, and goes through the same size checks
as the rest of the sandbox. Terms that Pebble evaluates lazily (the right
side of ``??``) are passed as lambdas.
"""

from __future__ import annotations

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame

from engine.expressions import nodes as pn

_ORDERING = {"eq", "ne", "gt", "lt", "gteq", "lteq"}


class PebbleCodeGenerator(CodeGenerator):
    """Jinja's code generator with Pebble's operators and bounded concatenation."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's visitor names
        self.write("environment.str_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_And(self, node: nodes.And, frame: Frame) -> None:  # noqa: N802
        self._boolean(node, "and", frame)

    def visit_Or(self, node: nodes.Or, frame: Frame) -> None:  # noqa: N802
        self._boolean(node, "or", frame)

    def _boolean(self, node: nodes.BinExpr, op: str, frame: Frame) -> None:
        # Pebble's and/or give a boolean, not one of their operands.
        self.write("(environment.truth(")
        self.visit(node.left, frame)
        self.write(f") {op} environment.truth(")
        self.visit(node.right, frame)
        self.write("))")

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
