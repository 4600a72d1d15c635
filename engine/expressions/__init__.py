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
"""

from engine.expressions.analysis import check_syntax, referenced_outputs, syntax_errors
from engine.expressions.errors import ExpressionError
from engine.expressions.limits import Limits
from engine.expressions.render import is_expression, render, render_string, renderer

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
