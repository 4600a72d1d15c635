"""The one exception of the expression engine and how Jinja's errors become it.

Users read these messages in the validation report and in failed task runs, so
each one is a single sentence naming the template and the reason, and
undefined names are reported by the path the author wrote (``'inputs' has no
attribute 'nme'``), not by Python's type names (``'dict object' ...``).
"""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

from engine.expressions.expression_error import ExpressionError
from engine.expressions.limit_error import LimitError

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment

_SNIPPET = 120
#: Longest reason taken from a Python exception (``ValueError: [...] is not in list`` can hold a whole value).
_REASON = 300
_SHORT = reprlib.Repr(maxstring=80, maxother=80, maxlist=6, maxtuple=6, maxdict=6, maxlevel=3)


def shown(value: object, width: int = 60) -> str:
    """``value`` as a message shows it: Python's repr, cut to about ``width`` characters.

    Built by :mod:`reprlib`, which stops early: ``repr()`` of a large list
    would walk all of it in C before anything could cut it.
    """
    text = _SHORT.repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def printed(value: object) -> str:
    """``str(value)``, except for lists and maps, shown cut (reading a date or a number from one fails anyway)."""
    return shown(value) if isinstance(value, (list, tuple, dict, set, frozenset)) else str(value)


def parse_error(template: str, cause: str, line: int | None = None, column: int | None = None) -> ExpressionError:
    """``cannot parse "...": cause (line L, column C)``, with the place kept as attributes too."""
    reason = cause
    if line and "\n" in template.strip():
        reason += f" (line {line}, column {column})" if column else f" (line {line})"
    elif column:
        reason += f" (column {column})"
    error = ExpressionError(f'cannot parse "{snippet(template)}": {reason}', template=template, reason=reason)
    error.cause, error.line, error.column = cause, line, column
    return error


def snippet(template: str) -> str:
    """The template as shown in a message: one line, at most ~120 characters."""
    text = " ".join(template.split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def render_error(template: str, reason: str) -> ExpressionError:
    return ExpressionError(f'cannot render "{snippet(template)}": {reason}', template=template, reason=reason)


def syntax_error(template: str, exc: TemplateSyntaxError, known: Mapping[str, Any] | None = None) -> ExpressionError:
    """A parse error pointing at the line and column of ``template`` where it happened.

    ``known`` maps "filter"/"test" to the names available, for a "did you mean".
    """
    cause = _clean(exc.message or "invalid syntax")
    cause += _suggestion(cause, known)
    return parse_error(template, cause, exc.lineno, getattr(exc, "col", None))


_UNKNOWN = re.compile(r"^no (filter|test) named '([^']+)'")


def _suggestion(reason: str, known: Mapping[str, Any] | None) -> str:
    match = _UNKNOWN.match(reason)
    if not match or not known:
        return ""
    close = difflib.get_close_matches(match.group(2), list(known.get(match.group(1), ())), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _clean(message: str) -> str:
    message = " ".join(str(message).split())
    if message.startswith(("No filter", "No test")):
        message = "n" + message[1:]
    return message[:-1] if message.endswith(".") else message


_NO_ATTR = re.compile(r"^'(?P<type>[^']*)' has no attribute (?P<name>'.*')$")
_NO_ELEMENT = re.compile(r"^(?P<type>.+?) has no element (?P<name>.+)$")


def runtime_reason(exc: BaseException, template: str, context: Mapping[str, Any] | None, env: LannerEnvironment) -> str:
    """A short reason for an exception raised while rendering ``template``."""
    if isinstance(exc, UndefinedError) and not isinstance(exc, SecurityError):
        return _undefined_reason(str(exc.message or exc), template, context, env)
    if isinstance(exc, (SecurityError, LimitError)):
        return _clean(str(exc))
    if isinstance(exc, RecursionError):
        return "the expression recurses too deeply"
    if isinstance(exc, MemoryError):
        return "the expression ran out of memory"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, KeyError) and exc.args:
        return f"no item {_SHORT.repr(exc.args[0])}"  # the key as written, cut: it may be a large value
    text = _clean(str(exc))
    if len(text) > _REASON:
        text = text[: _REASON - 1] + "…"
    return text or type(exc).__name__


def _undefined_reason(message: str, template: str, context: Mapping[str, Any] | None, env: LannerEnvironment) -> str:
    """Name the path that is missing, and suggest a close key when there is one."""
    message = _clean(message)
    match = _NO_ATTR.match(message) or _NO_ELEMENT.match(message)
    if not match:
        return message
    raw = match.group("name")
    name: Any = raw[1:-1] if raw.startswith("'") else raw
    try:
        tree = env.parse(template)
    except Exception:  # noqa: BLE001 - the message is still useful without a path
        return message
    base = _find_base(tree, name)
    if base is None:
        return message
    what = "attribute" if isinstance(name, str) else "element"
    reason = f"'{_expr_text(base)}' has no {what} {raw}"
    obj = _lookup(base, context)
    if isinstance(obj, Mapping) and isinstance(name, str):
        close = difflib.get_close_matches(name, [k for k in obj if isinstance(k, str)], n=1)
        if close:
            reason += f"; did you mean '{close[0]}'?"
    return reason


def _find_base(tree: nodes.Template, name: object) -> nodes.Expr | None:
    """The expression an attribute/item called ``name`` was looked up on."""
    dynamic: nodes.Expr | None = None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and node.attr == name:
            return node.node
        if isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Const):
                if node.arg.value == name:
                    return node.node
            elif dynamic is None:
                dynamic = node.node
    return dynamic


def _expr_text(node: nodes.Node) -> str:
    """The source-like text of a lookup chain (``outputs.inner[taskrun.value]``)."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const):
        return repr(node.value)
    if isinstance(node, nodes.Getattr):
        return f"{_expr_text(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_expr_text(node.node)}[{_expr_text(node.arg)}]"
    return "value"


def _lookup(node: nodes.Node, context: Mapping[str, Any] | None) -> Any:
    """Follow a constant path (``a.b['c']``) through plain mappings of the context."""
    if context is None:
        return None
    if isinstance(node, nodes.Name):
        return context.get(node.name)
    if isinstance(node, nodes.Getattr):
        parent, key = _lookup(node.node, context), node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        parent, key = _lookup(node.node, context), node.arg.value
    else:
        return None
    return parent.get(key) if isinstance(parent, Mapping) else None
