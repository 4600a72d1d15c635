"""Rendering values with Jinja: compile once, keep native types, stay within the limits.

The public ``render`` is :mod:`engine.expressions`'s, which answers lookup-only templates
without importing this module (:mod:`.lite`) and comes here for the rest.

``render`` is called for every property of every task run, so the common case
must be cheap: strings without ``{{``/``{%``/``{#`` are returned untouched,
compiled templates are cached by source (LRU), and a render is one context
creation plus one pass over the compiled generator.
"""

from __future__ import annotations

import collections.abc as abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.runtime import Context, Undefined
from markupsafe import Markup

from engine.expressions import bounds, ledger, lite, lookups
from engine.expressions.errors import ExpressionError, parse_error, render_error, runtime_reason, syntax_error
from engine.expressions.guard import WATCHDOG, Deadline, RenderTimeout
from engine.expressions.limits import Limits
from engine.expressions.lite import is_expression
from engine.expressions.sandbox import LannerEnvironment

#: Compiled templates kept per environment (by source text).
CACHE_SIZE = 4096

Functions = Mapping[str, Callable[..., Any]]


@lru_cache(maxsize=16)
def environment(limits: Limits) -> LannerEnvironment:
    """The sandboxed environment of ``limits`` (one per distinct value)."""
    return LannerEnvironment(limits)


def default_environment() -> LannerEnvironment:
    return environment(Limits.from_env())


@dataclass(frozen=True, slots=True)
class Compiled:
    """A template ready to run; ``native`` when it is a single ``{{ expression }}``; ``fast``: how
    :mod:`.lookups` runs it when it only looks values up."""

    source: str
    template: Any  # jinja2.Template
    native: bool
    fast: lookups.Plan | None = None


@lru_cache(maxsize=CACHE_SIZE)
def compile_template(env: LannerEnvironment, source: str) -> Compiled:
    """Parse and compile ``source``; raises :class:`ExpressionError` when it does not parse."""
    try:
        tree = env.parse(source)
        expr = _single_expression(tree) if source.lstrip().startswith("{{") else None
        if expr is not None:
            # Like Environment.compile_expression: assign the value, read it back.
            assign = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)
            assign.set_environment(env)
            return Compiled(source, env.from_string(assign), native=True, fast=lookups.plan(tree, expr))
        return Compiled(source, env.from_string(tree), native=False, fast=lookups.plan(tree, None))
    except TemplateSyntaxError as exc:
        raise syntax_error(source, exc, {"filter": env.filters, "test": env.tests}) from None
    except (SyntaxError, RecursionError, MemoryError):
        # Python's own compiler refuses more than ~200 nested parentheses (a + a + ... chains).
        raise parse_error(source, "the expression nests too deeply to compile (a chain of more than ~200 operators or parentheses); split it") from None


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is one ``{{ ... }}`` and blank text around it."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    found = [n for n in tree.body[0].nodes if not (isinstance(n, nodes.TemplateData) and not n.data.strip())]
    if len(found) == 1 and not isinstance(found[0], nodes.TemplateData):
        return found[0]
    return None


def renderer(*, functions: Functions | None = None, limits: Limits | None = None) -> Callable[[object, Mapping[str, Any]], Any]:
    """``render`` with its functions and limits bound: what the runner calls for every property.

    The environment is looked up once here rather than on every call (hashing the limits
    cost as much as rendering ``{{ taskrun.value }}``).
    """
    env = environment(limits) if limits is not None else default_environment()

    def render_bound(value: object, context: Mapping[str, Any]) -> Any:
        if type(value) is str:
            if not is_expression(value):
                return value
            return run_compiled(env, compile_template(env, value), context, functions)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return _render_value(value, env, context, functions)

    return render_bound


def render_string(
    template: str,
    context: Mapping[str, Any],
    *,
    functions: Functions | None = None,
    limits: Limits | None = None,
) -> str:
    """Render ``template`` to text, whatever its expression's type."""
    env = environment(limits) if limits is not None else default_environment()
    if not isinstance(template, str):
        return bounds.to_text(template, env.limits)
    if not is_expression(template):
        return template
    result = run_compiled(env, compile_template(env, template), context, functions)
    return result if type(result) is str else _guarded_text(env, template, result, context)


def _guarded_text(env: LannerEnvironment, template: str, value: object, context: Mapping[str, Any]) -> str:
    try:
        return bounds.to_text(value, env.limits)
    except Exception as exc:  # noqa: BLE001 - reported as the template's error
        raise render_error(template, runtime_reason(exc, template, context, env)) from None


def _render_value(value: object, env: LannerEnvironment, context: Mapping[str, Any], functions: Functions | None) -> Any:
    if isinstance(value, str):
        if not is_expression(value):
            return value
        return run_compiled(env, compile_template(env, value), context, functions)
    if isinstance(value, dict):
        return {k: _render_value(v, env, context, functions) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, env, context, functions) for v in value]
    if isinstance(value, tuple):
        return tuple(_render_value(v, env, context, functions) for v in value)
    return value


def run_compiled(env: LannerEnvironment, compiled: Compiled, context: Mapping[str, Any], functions: Functions | None = None) -> Any:
    """Run one compiled template under the time limit; map every failure to ExpressionError."""
    if compiled.fast is not None:
        found = _fast(env, compiled, context, functions)
        if found is not lookups.MISS:
            return found
    limits = env.limits
    deadline: Deadline | None = None
    book: ledger.Ledger | None = None
    try:
        try:
            # The ledger first, the deadline last: the timeout arrives as an exception raised into this thread,
            # and one landing between the two would leave the thread's ledger open for good (every later render
            # here would then count its memory in a throwaway ledger: no memory limit). Started inside the try:
            # with a deadline of a few milliseconds the timeout may be delivered before the next line runs, and
            # it must be this render's error, not the caller's.
            book = ledger.enter(limits)
            deadline = WATCHDOG.start(limits.timeout)
            # A plain dict merged in C and a Context built directly: Jinja's
            # new_context copies a ChainMap of globals key by key on every render.
            variables = {**env.globals, **context, **_shielded(functions)} if functions else {**env.globals, **context}
            return execute(env, compiled, variables)
        finally:
            try:
                fired = deadline is not None and _finish(deadline)
            finally:  # closed even when a timeout lands before the deadline is ended
                if book is not None:
                    ledger.leave(book)
            if fired:
                raise RenderTimeout
    except RenderTimeout:
        reason = f"rendering took longer than {limits.timeout:g} s"
        raise render_error(compiled.source, reason) from None
    except ExpressionError as exc:
        if exc.template is not None:
            raise
        raise render_error(compiled.source, exc.reason or str(exc)) from None
    except (Exception, RecursionError, MemoryError) as exc:
        raise render_error(compiled.source, runtime_reason(exc, compiled.source, context, env)) from None


#: Values the fast path hands back as they are (after sizing them): the rest is the full path's.
_PLAIN = frozenset({str, int, float, bool, type(None), dict, list})


@lru_cache(maxsize=16)
def _lookups(env: LannerEnvironment) -> tuple[lite.Step, Callable[[Any], Any]]:
    """How the fast path steps through values in ``env`` and sizes a single expression's value."""
    limits = env.limits

    def native(value: object) -> Any:
        return _native(value, limits) if type(value) in _PLAIN else lookups.MISS  # MISS itself, or a value _native converts

    return lookups.step_of(env.getattr, env.getitem), native


def _fast(env: LannerEnvironment, compiled: Compiled, context: Mapping[str, Any], functions: Functions | None) -> Any:
    """The value of a template that only looks values up (:mod:`.lookups`), or ``lookups.MISS``.

    Gives exactly what the full path gives, or MISS for the full path to raise its error.
    """
    assert compiled.fast is not None
    step, native = _lookups(env)
    return lite.evaluate(compiled.fast, context, functions, env.limits.max_output, step, native)


def _finish(deadline: Deadline) -> bool:
    """End the render's deadline; a timeout delivered while ending it counts as fired, never escapes."""
    while True:
        try:
            return WATCHDOG.finish(deadline)
        except RenderTimeout:
            deadline.fired = True


_SHIELDED: dict[int, tuple[Functions, dict[str, Callable[..., Any]]]] = {}


def _shielded(functions: Functions) -> dict[str, Callable[..., Any]]:
    """The runtime functions wrapped so the watchdog waits for them; built once per functions map."""
    found = _SHIELDED.get(id(functions))
    if found is not None and found[0] is functions:
        return found[1]
    wrapped = {name: WATCHDOG.shield(fn) for name, fn in functions.items()}
    if len(_SHIELDED) > 256:
        _SHIELDED.clear()
    _SHIELDED[id(functions)] = (functions, wrapped)
    return wrapped


def execute(env: LannerEnvironment, compiled: Compiled, variables: dict[str, Any]) -> Any:
    """Run ``compiled`` with ready ``variables`` (globals and functions included), bounded.

    Callers own the deadline: :func:`run_compiled` for a render, the running render
    for the ``render()`` function.
    """
    limits = env.limits
    template = compiled.template
    ctx = Context(env, variables, None, template.blocks)
    if compiled.native:
        for _ in template.root_render_func(ctx):
            pass
        return _native(ctx.vars["result"], limits)
    parts: list[str] = []
    total = 0
    cap = limits.max_output
    for chunk in template.root_render_func(ctx):
        total += len(chunk)
        if total > cap:
            raise bounds.too_long("the output", total, cap)
        parts.append(chunk)
    return "".join(parts)


_LAZY = (abc.Iterator, range, abc.KeysView, abc.ValuesView, abc.ItemsView, set, frozenset)


def _native(value: object, limits: Limits) -> Any:
    """The value of a single-expression template, as plain data."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, _LAZY):
        value = bounds.bounded_list(value, limits, "the result")
    bounds.measure(value, limits, "the result")
    return value

