"""Kestra's expression language (Pebble), sandboxed: ``{{ inputs.x ?? 'd' }}``, ``{{ body | jq('.a') }}``.

The caller supplies the context
(``inputs``, ``outputs``, ``vars``, ``taskrun``, ``parent``, ``execution``,
``flow``, ``labels``, ``trigger``, ``env`` ...) and the runtime functions
(``secret('X')``, ``read(uri)``, ``kv('k')``) per render.

Public interface
----------------
``render(value, context, *, functions=None, limits=None)``
    Renders every string inside ``value`` (dicts and lists recursively, keys
    left as they are). A string that is one ``{{ expression }}`` (blank text
    around it allowed) keeps the expression's Python type: ``{{ inputs.n }}``
    gives ``3``, ``{{ outputs.t.value }}`` a dict. Any other template renders
    to text, where values print as Kestra prints them: ``None`` as nothing,
    booleans as ``true``/``false``, lists and maps as compact JSON, dates as
    ISO-8601.
``render_string(template, context, *, functions=None, limits=None)``
    Always text.
``renderer(*, functions=None, limits=None)``
    ``render`` with its functions and limits bound, as a ``(value, context)`` callable.
``is_expression(text)``
    Whether ``text`` holds ``{{``, ``{%`` or ``{#``.
``check_syntax(text)`` / ``syntax_errors(value)``
    Raise / list the templates that do not parse or use an unknown filter, test or function.
``referenced_outputs(text)``
    Task ids read as ``outputs.X``, ``outputs['X']``, ``outputs["X"]``.
``ExpressionError``
    The only error: one sentence, ``cannot render "{{ inputs.nme }}": 'inputs'
    has no attribute 'nme'`` or ``cannot parse "..." : reason``.
``Limits(timeout=2.0, max_output=10 MiB, max_range=100_000, max_items=1_000_000, max_parts=5_000)``
    Bounds of a render. Defaults come from ``LANNER_EXPR_TIMEOUT`` (seconds)
    and ``LANNER_EXPR_MAX_OUTPUT`` (characters; bytes for ASCII text).

Undefined names and attributes are errors, except under ``??``, ``???``,
``default`` and ``is defined`` (also on chains like ``outputs.t.value``).

The dialect
-----------
Kestra's Pebble, read by Jinja2's machinery: :mod:`.lexer` adds Pebble's
tokens (``??``, ``???``, ``?``, ``..``, ``10l``) and token columns,
:mod:`.parser` parses expressions with Pebble's operator precedence into
Jinja AST plus a few nodes of its own (:mod:`.nodes`), :mod:`.compiler`
turns those into calls on the environment, and :mod:`.semantics` says what
each operator means. Jinja2 spellings keep working. The filters, tests and
functions of Kestra's reference are listed in :mod:`.catalog`; README's
"Expressions" section is the user's reference table.

Sandbox and limits
------------------
No access to Python internals (``__class__``, ``__globals__`` ...), no file,
network or template loading, no mutation of lists or dicts. A render is
refused with ``ExpressionError`` when it would build text over
``max_output`` or lists over ``max_items`` (checked before building), when a
range exceeds ``max_range``, when a template has more than ``max_parts``
parts, when recursion is too deep, or when it runs longer than ``timeout``
seconds of CPU time (a watchdog thread interrupts it; see :mod:`.guard`). C
code the watchdog cannot interrupt is bounded otherwise: ``jq`` runs in a
worker process that ends when its CPU time is up (:mod:`.jq_filter`), regular expressions use
RE2, linear in the text (:mod:`.regexes`).

Lookup-only templates (``{{ inputs.x }}``, ``hello {{ outputs.t.value }}``) are checked and rendered
by :mod:`.lite` without importing Jinja; the engine above is imported the first time a template needs
it, so a short run whose templates only look values up never loads it. Both give the same values and
errors (tests/unit/test_expression_lite.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.expressions import lite
from engine.expressions.expression_error import ExpressionError
from engine.expressions.limits import Limits
from engine.expressions.lite import is_expression

__all__ = [
    "ExpressionError",
    "Limits",
    "check_syntax",
    "is_expression",
    "referenced_outputs",
    "render",
    "render_string",
    "renderer",
    "syntax_errors",
]

Functions = Mapping[str, Callable[..., Any]]
PathSuffix = tuple[str | int, ...]


def _plan(text: str, limits: Limits) -> lite.Plan | None:
    """The Jinja-free plan of ``text``, when it has one and the full engine could not refuse it for its size."""
    return lite.scan(text) if len(text) < 4 * limits.max_parts else None


def check_syntax(text: str) -> None:
    """Raise :class:`ExpressionError` with the reason when ``text`` is not a valid template."""
    if isinstance(text, str) and is_expression(text) and _plan(text, Limits.from_env()) is None:
        from engine.expressions import analysis

        analysis.check_syntax(text)


def syntax_errors(value: object, path: PathSuffix = ()) -> list[tuple[PathSuffix, str]]:
    """Every template inside ``value`` (dicts and lists walked) that does not parse.

    Each error is ``(path suffix, message)``, the path made of the dict keys
    and list indexes leading to the string.
    """
    errors: list[tuple[PathSuffix, str]] = []
    if isinstance(value, str):
        try:
            check_syntax(value)
        except ExpressionError as exc:
            errors.append((path, str(exc)))
    elif isinstance(value, dict):
        for key, item in value.items():
            errors.extend(syntax_errors(item, (*path, key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            errors.extend(syntax_errors(item, (*path, index)))
    return errors


def referenced_outputs(text: str) -> set[str]:
    """Task ids a template reads as ``outputs.X``, ``outputs['X']`` or ``outputs["X"]``.

    Raises :class:`ExpressionError` when the template does not parse.
    """
    if not isinstance(text, str) or not is_expression(text):
        return set()
    plan = _plan(text, Limits.from_env())
    if plan is not None:
        return lite.referenced_outputs(plan)
    from engine.expressions import analysis

    return analysis.referenced_outputs(text)


def render(value: object, context: Mapping[str, Any], *, functions: Functions | None = None, limits: Limits | None = None) -> Any:
    """Render every string inside ``value`` (dicts and lists recursively; keys as they are).

    A string that is exactly one ``{{ expression }}`` keeps the expression's
    type (``{{ inputs.n }}`` gives the int); other templates render to text.
    """
    if isinstance(value, str) and not is_expression(value):
        return value  # the common case: no environment needed
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return renderer(functions=functions, limits=limits)(value, context)


def render_string(template: str, context: Mapping[str, Any], *, functions: Functions | None = None, limits: Limits | None = None) -> str:
    """Render ``template`` to text, whatever its expression's type."""
    if type(template) is str:
        if not is_expression(template):
            return template
        bound = limits if limits is not None else Limits.from_env()
        plan = _plan(template, bound)
        if plan is not None:
            found = lite.evaluate(plan, context, functions, bound.max_output)
            if type(found) is str:  # what the full path gives too; anything else it prints (or MISS)
                return found
    from engine.expressions import full_render as full

    return full.render_string(template, context, functions=functions, limits=limits)


def renderer(*, functions: Functions | None = None, limits: Limits | None = None) -> Callable[[object, Mapping[str, Any]], Any]:
    """``render`` with its functions and limits bound: what the runner calls for every property.

    Lookup-only strings are answered by :mod:`.lite` until anything else comes; then the full renderer is
    made (Jinja imported) and renders everything from there on, as fast for lookups.
    """
    bound = limits if limits is not None else Limits.from_env()
    max_output = bound.max_output
    full: Callable[[object, Mapping[str, Any]], Any] | None = None

    def render_bound(value: object, context: Mapping[str, Any]) -> Any:
        nonlocal full
        if full is not None:  # loaded: its own fast path answers lookups, values of any type included
            return full(value, context)
        kind = type(value)
        if kind is str:
            if not is_expression(value):  # type: ignore[arg-type]
                return value
            plan = _plan(value, bound)  # type: ignore[arg-type]
            if plan is not None:
                found = lite.evaluate(plan, context, functions, max_output)
                if found is not lite.MISS:
                    return found
        elif value is None or kind is bool or kind is int or kind is float:
            return value
        elif kind is dict:  # walked here so that its lookup-only strings stay off the full engine
            return {k: render_bound(v, context) for k, v in value.items()}  # type: ignore[attr-defined]
        elif kind is list:
            return [render_bound(v, context) for v in value]  # type: ignore[attr-defined]
        if full is None:
            from engine.expressions import full_render as full_engine

            full = full_engine.renderer(functions=functions, limits=bound)
        return full(value, context)

    return render_bound
