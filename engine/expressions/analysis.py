"""Static checks of templates, for flow validation (no rendering, no context).

``check_syntax`` compiles (not only parses) so unknown filters and tests are
reported at validation time too, and looks for calls of functions that
neither exist nor are supplied at run time (``secret``, ``read`` ...) nor are
macros of the template; the compiled template lands in the render cache, so
validating a flow also warms it.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from engine.expressions.catalog import RUNTIME_FUNCTIONS, known_function
from engine.expressions.errors import ExpressionError, parse_error, syntax_error
from engine.expressions.full_render import compile_template, default_environment, is_expression

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment

def check_syntax(text: str) -> None:
    """Raise :class:`ExpressionError` with the reason when ``text`` is not a valid template."""
    if not isinstance(text, str) or not is_expression(text):
        return
    env = default_environment()
    compile_template(env, text)
    unknown = unknown_function(text, env)
    if unknown is not None:
        raise unknown


def unknown_function(text: str, env: LannerEnvironment) -> ExpressionError | None:
    """The error for the first unknown function, filter or test, if any.

    Jinja checks filters and tests when compiling, except inside ``if``
    blocks and ``a if b else c``/``b ? a : c`` (it defers those to run time),
    so they are looked up here too.
    """
    tree = env.parse(text)
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind, table = ("filter", env.filters) if isinstance(node, nodes.Filter) else ("test", env.tests)
        if node.name not in table:
            close = difflib.get_close_matches(node.name, list(table), n=1, cutoff=0.7)
            cause = f"no {kind} named '{node.name}'" + (f"; did you mean '{close[0]}'?" if close else "")
            return parse_error(text, cause, node.lineno, _column(text, node.lineno, node.name))
    local = {m.name for m in tree.find_all(nodes.Macro)}
    local.update(n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param"))
    for call in tree.find_all(nodes.Call):
        target = call.node
        if not isinstance(target, nodes.Name) or target.name in local or known_function(target.name, env):
            continue
        names = [n for n in env.globals if callable(env.globals[n])] + sorted(RUNTIME_FUNCTIONS)
        close = difflib.get_close_matches(target.name, names, n=1, cutoff=0.7)
        cause = f"unknown function '{target.name}'" + (f"; did you mean '{close[0]}'?" if close else "")
        return parse_error(text, cause, call.lineno, _column(text, call.lineno, target.name + "("))
    return None


def _column(text: str, line: int, needle: str) -> int | None:
    lines = text.split("\n")
    found = lines[line - 1].find(needle) if 0 < line <= len(lines) else -1
    return found + 1 if found >= 0 else None


def referenced_outputs(text: str) -> set[str]:
    """Task ids a template reads as ``outputs.X``, ``outputs['X']`` or ``outputs["X"]``.

    Raises :class:`ExpressionError` when the template does not parse.
    """
    if not isinstance(text, str) or not is_expression(text):
        return set()
    try:
        tree = default_environment().parse(text)
    except TemplateSyntaxError as exc:
        raise syntax_error(text, exc) from None
    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, (nodes.Getattr, nodes.Getitem))  # what find_all was asked for
        base = node.node
        if not (isinstance(base, nodes.Name) and base.name == "outputs"):
            continue
        if isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add(node.arg.value)
    return found
