"""Jinja2's parser with Pebble's expression grammar, producing Jinja AST.

Expressions are parsed by precedence climbing over Pebble's operator table
(``io.pebbletemplates.pebble.extension.core.CoreExtension`` and Kestra's
additions), lowest first::

    10  or                      15  and
    16  not (prefix)            20  is / is not, contains, isIn, notIn
    30  == != < > <= >= equals in, not in
    40  + -                     60  * / // %        70  ** (right)
    100 | (filter)              110 ~               120 .. ?? ???

then ``c ? a : b`` (and Jinja's ``a if c else b``) around a whole expression.
Everything binds left to right. So ``'a' ~ 'b' | upper`` is ``AB`` (the
filter applies to the concatenation, as in Pebble) and ``x ?? y | date``
formats whichever value won. ``not`` binds looser than the comparisons and
tests it precedes (``not x is null`` is ``not (x is null)``), which is
Jinja's reading; Pebble's tighter ``not`` only differs where Pebble fails.

Statements are Jinja's with Pebble's spellings added: ``{% elseif %}``,
``{% block "name" %}`` with ``block("name")``, macro parameters without
defaults after ones with defaults (missing arguments are null), ``loop.index``
counting from 0, and ``{% for entry in map %}`` giving entries with ``key``
and ``value``. Tags that load other templates are refused: there are none.
"""

from __future__ import annotations

from jinja2 import nodes
from jinja2.environment import Environment
from jinja2.exceptions import TemplateSyntaxError
from jinja2.parser import Parser

from engine.expressions import nodes as pn

_COMPARE = {"eq": "eq", "ne": "ne", "gt": "gt", "lt": "lt", "gteq": "gteq", "lteq": "lteq"}
_MATH = {"add": nodes.Add, "sub": nodes.Sub, "mul": nodes.Mul, "div": nodes.Div, "floordiv": nodes.FloorDiv, "mod": nodes.Mod}
_WORD_OPERATORS = {
    "or": 10,
    "and": 15,
    "is": 20,
    "contains": 20,
    "isIn": 20,
    "notIn": 20,
    "equals": 30,
    "in": 30,
}
_SYMBOL_OPERATORS = {
    **dict.fromkeys(_COMPARE, 30),
    "add": 40,
    "sub": 40,
    "mul": 60,
    "div": 60,
    "floordiv": 60,
    "mod": 60,
    "pow": 70,
    "pipe": 100,
    "tilde": 110,
    "range": 120,
    "coalesce": 120,
    "undefcoalesce": 120,
}
#: Precedence of the operand of a prefix ``not``: above ``and``, below the tests.
_NOT_OPERAND = 16
_LITERALS = {
    "true": True, "True": True, "TRUE": True,
    "false": False, "False": False, "FALSE": False,
    "null": None, "NULL": None, "none": None, "None": None, "NONE": None,
}  # fmt: skip
#: Names a test argument written without parentheses may not start with.
_NOT_A_TEST_ARGUMENT = ("name:else", "name:or", "name:and", "name:contains", "name:isIn", "name:notIn", "name:equals")
_LOADING_TAGS = ("include", "import", "from", "extends")


#: Most terms of one ``??`` chain: each compiles to a closure, and compiling is not interruptible.
MAX_COALESCE_TERMS = 500


class PebbleParser(Parser):
    """Parses Pebble (and Jinja) templates into Jinja's AST."""

    def __init__(self, environment: Environment, source: str, name: str | None = None, filename: str | None = None,
                 state: str | None = None, *, max_parts: int = 5_000) -> None:
        super().__init__(environment, source, name, filename, state)
        self.max_parts = max_parts

    # --- errors and size -------------------------------------------------------------------------

    def parse(self) -> nodes.Template:
        try:
            tree = super().parse()
        except TemplateSyntaxError as exc:
            if getattr(exc, "col", None) is None:
                exc.col = getattr(self.stream.current, "col", None)  # type: ignore[attr-defined]
            raise
        except RecursionError:
            raise TemplateSyntaxError("the expression nests too deeply (too many parentheses or nested operators)", 1) from None
        parts = sum(1 for _ in tree.find_all(nodes.Node))
        if parts > self.max_parts:
            raise TemplateSyntaxError(
                f"the expression is too large: {parts:,} parts, over the limit of {self.max_parts:,}; split it or move data to a file", 1
            )
        return tree

    # --- expressions -----------------------------------------------------------------------------

    def parse_expression(self, with_condexpr: bool = True) -> nodes.Expr:
        lineno = self.stream.current.lineno
        expr = self._climb(0)
        while True:
            if self.stream.skip_if("question"):
                when_true = self.parse_expression()
                self.stream.expect("colon")
                when_false = self.parse_expression()
                expr = nodes.CondExpr(expr, when_true, when_false, lineno=lineno)
            elif with_condexpr and self.stream.skip_if("name:if"):
                test = self._climb(0)
                otherwise = self.parse_expression() if self.stream.skip_if("name:else") else None
                expr = nodes.CondExpr(test, expr, otherwise, lineno=lineno)
            else:
                return expr

    def _operator(self) -> tuple[str, int] | None:
        """The binary operator at the current token and its precedence, if any."""
        token = self.stream.current
        if token.type == "name":
            if token.value == "not" and self.stream.look().test("name:in"):
                return "notin", 30
            precedence = _WORD_OPERATORS.get(token.value)
            return (token.value, precedence) if precedence is not None else None
        precedence = _SYMBOL_OPERATORS.get(token.type)
        return (token.type, precedence) if precedence is not None else None

    def _climb(self, min_precedence: int) -> nodes.Expr:
        left = self._unary()
        while True:
            found = self._operator()
            if found is None or found[1] < min_precedence:
                return left
            op, precedence = found
            lineno = self.stream.current.lineno
            if op == "pipe":
                left = self.parse_filter(left)  # type: ignore[assignment]
                continue
            if op == "is":
                left = self.parse_test(left)
                continue
            next(self.stream)
            if op == "notin":
                next(self.stream)
            right = self._climb(precedence if op == "pow" else precedence + 1)
            left = self._combine(op, left, right, lineno)

    def _combine(self, op: str, left: nodes.Expr, right: nodes.Expr, lineno: int) -> nodes.Expr:
        if op == "or":
            return nodes.Or(left, right, lineno=lineno)
        if op == "and":
            return nodes.And(left, right, lineno=lineno)
        if op in _COMPARE or op in ("equals", "in", "notin"):
            return nodes.Compare(left, [nodes.Operand(_COMPARE.get(op, "eq" if op == "equals" else op), right)], lineno=lineno)
        if op in _MATH:
            return _MATH[op](left, right, lineno=lineno)
        if op == "pow":
            return nodes.Pow(left, right, lineno=lineno)
        # Chains grow in place: a 10,000-term chain parses in linear time.
        if op == "tilde":
            if isinstance(left, nodes.Concat):
                left.nodes.append(right)
                return left
            return nodes.Concat([left, right], lineno=lineno)
        if op in ("coalesce", "undefcoalesce"):
            if isinstance(left, pn.Coalesce):
                if len(left.terms) >= MAX_COALESCE_TERMS:
                    self.fail(f"a ?? chain may have at most {MAX_COALESCE_TERMS} terms")
                left.terms.append(right)
                left.undefined_only.append(op == "undefcoalesce")
                return left
            return pn.Coalesce([left, right], [op == "undefcoalesce"], lineno=lineno)
        return pn.PebbleBinary(op, left, right, lineno=lineno)

    def _unary(self) -> nodes.Expr:
        token = self.stream.current
        if token.type == "sub":
            next(self.stream)
            return nodes.Neg(self._unary_operand(), lineno=token.lineno)
        if token.type == "add":
            next(self.stream)
            return nodes.Pos(self._unary_operand(), lineno=token.lineno)
        if token.test("name:not"):
            next(self.stream)
            return nodes.Not(self._climb(_NOT_OPERAND), lineno=token.lineno)
        return self.parse_postfix(self.parse_primary())

    def _unary_operand(self) -> nodes.Expr:
        if self.stream.current.type in ("sub", "add"):
            return self._unary()
        return self.parse_postfix(self.parse_primary())

    def parse_primary(self, with_namespace: bool = False) -> nodes.Expr:
        token = self.stream.current
        if token.type == "name" and token.value in _LITERALS:
            next(self.stream)
            return nodes.Const(_LITERALS[token.value], lineno=token.lineno)
        if token.type == "name" and token.value == "_context":
            next(self.stream)
            return pn.ContextRef(lineno=token.lineno)
        if token.type == "name" and token.value == "block" and self.stream.look().type == "lparen":
            return self._block_function()
        return super().parse_primary(with_namespace)

    def _block_function(self) -> nodes.Expr:
        token = next(self.stream)
        args, kwargs, dyn_args, dyn_kwargs = self.parse_call_args()
        if len(args) != 1 or kwargs or dyn_args or dyn_kwargs or not isinstance(args[0], nodes.Const) or not isinstance(args[0].value, str):
            self.fail('block() takes the name of a block as a quoted text: block("name")', token.lineno)
        return pn.BlockRender(args[0].value, lineno=token.lineno)

    def parse_test(self, node: nodes.Expr) -> nodes.Expr:
        token = next(self.stream)
        negated = self.stream.skip_if("name:not")
        name = self.stream.expect("name").value
        args: list[nodes.Expr] = []
        kwargs: list[nodes.Keyword] = []
        dyn_args = dyn_kwargs = None
        current = self.stream.current
        if current.type == "lparen":
            args, kwargs, dyn_args, dyn_kwargs = self.parse_call_args()
        elif current.type in ("name", "string", "integer", "float", "lbracket", "lbrace") and not current.test_any(
            *_NOT_A_TEST_ARGUMENT
        ):
            if current.test("name:is"):
                self.fail("You cannot chain multiple tests with is")
            args = [self.parse_postfix(self.parse_primary())]
        test: nodes.Expr = nodes.Test(node, name, args, kwargs, dyn_args, dyn_kwargs, lineno=token.lineno)
        return nodes.Not(test, lineno=token.lineno) if negated else test

    # --- statements ------------------------------------------------------------------------------

    def parse_if(self) -> nodes.If:
        node = result = nodes.If(lineno=self.stream.expect("name:if").lineno)
        while True:
            node.test = self.parse_tuple(with_condexpr=False)
            node.body = self.parse_statements(("name:elif", "name:elseif", "name:else", "name:endif"))
            node.elif_ = []
            node.else_ = []
            token = next(self.stream)
            if token.test("name:elif") or token.test("name:elseif"):
                node = nodes.If(lineno=self.stream.current.lineno)
                result.elif_.append(node)
                continue
            if token.test("name:else"):
                result.else_ = self.parse_statements(("name:endif",), drop_needle=True)
            return result

    def parse_for(self) -> nodes.For:
        node = super().parse_for()
        node.iter = pn.Iterable(node.iter, lineno=node.iter.lineno)
        for part in (*node.body, *node.else_):
            _count_loop_from_zero(part)
        return node

    def parse_signature(self, node: nodes.Macro | nodes.CallBlock) -> None:
        args = node.args = []
        defaults = node.defaults = []
        self.stream.expect("lparen")
        while self.stream.current.type != "rparen":
            if args:
                self.stream.expect("comma")
            arg = self.parse_assign_target(name_only=True)
            arg.set_ctx("param")
            # Pebble passes null for a missing argument, whatever its place.
            defaults.append(self.parse_expression() if self.stream.skip_if("assign") else nodes.Const(None))
            args.append(arg)
        self.stream.expect("rparen")

    def parse_block(self) -> nodes.Block:
        token = next(self.stream)
        node = nodes.Block(lineno=token.lineno)
        if self.stream.current.type == "string":
            node.name = next(self.stream).value
            if not node.name.isidentifier():
                self.fail(f"block name {node.name!r} must be a single word (letters, digits, _)")
        else:
            node.name = self.stream.expect("name").value
        node.scoped = self.stream.skip_if("name:scoped")
        node.required = False
        node.body = self.parse_statements(("name:endblock",), drop_needle=True)
        if not self.stream.skip_if("name:" + node.name):
            self.stream.skip_if(f"string:{node.name}")
        return node

    def parse_statement(self) -> nodes.Node | list[nodes.Node]:
        token = self.stream.current
        if token.type == "name" and token.value in _LOADING_TAGS:
            self.fail(f"the {token.value!r} tag is not available: expressions cannot load other templates")
        return super().parse_statement()


def _count_loop_from_zero(node: nodes.Node) -> None:
    """Pebble's ``loop.index`` and ``loop.revindex`` count from 0 (Jinja's ``index0``/``revindex0``)."""
    for attr in node.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name) and attr.node.name == "loop" and attr.attr in ("index", "revindex"):
            attr.attr += "0"
