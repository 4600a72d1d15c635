"""Sandboxed Jinja2 expressions with Kestra's names: ``{{ inputs.x }}``, ``{{ outputs.t.value }}``.

Kestra writes expressions in Pebble; Lanner renders them with Jinja2, whose
syntax for the common cases is the same. The caller supplies the context
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
``is_expression(text)``
    Whether ``text`` holds ``{{``, ``{%`` or ``{#``.
``check_syntax(text)`` / ``syntax_errors(value)``
    Raise / list the templates that do not parse or use an unknown filter.
``referenced_outputs(text)``
    Task ids read as ``outputs.X``, ``outputs['X']``, ``outputs["X"]``.
``ExpressionError``
    The only error: one sentence, ``cannot render "{{ inputs.nme }}": 'inputs'
    has no attribute 'nme'`` or ``cannot parse "..." : reason``.
``Limits(timeout=2.0, max_output=10 MiB, max_range=100_000, max_items=1_000_000)``
    Bounds of a render. Defaults come from ``LANNER_EXPR_TIMEOUT`` (seconds)
    and ``LANNER_EXPR_MAX_OUTPUT`` (characters; bytes for ASCII text).

Undefined names and attributes are errors, except under ``default``
(``{{ outputs.t.value | default('none') }}``, also for chains and ``None``)
and the ``is defined`` / ``is undefined`` tests.

Filters (Kestra's names)
------------------------
- ``date(format='iso', timeZone=None, existingFormat=None)``: Java pattern
  letters (``yyyy-MM-dd``, ``yyyy-MM-dd'T'HH:mm:ss.SSSXXX``, ``HH:mm``,
  ``EEEE``, ``MMM``, ``a``, ``Z``/``X``/``x``/``O``/``VV`` ...) or a named
  format (``iso``, ``sql``, ``iso_date``, ``iso_instant``,
  ``iso_local_date_time``, ``rfc_1123_date_time`` ...) on a datetime, an
  ISO-8601 string or epoch seconds; English names only (``locale`` ignored).
- ``dateAdd(amount, unit)``: units NANOS ... SECONDS, MINUTES, HOURS,
  HALF_DAYS, DAYS, WEEKS, MONTHS, YEARS, DECADES, CENTURIES; gives an
  ISO-8601 string. ``timestamp``, ``timestampMilli``, ``timestampMicro``,
  ``timestampNano``: whole units since the epoch.
- ``number(type=None)``: ``"12"`` -> 12, ``"1.5"`` -> 1.5 (``INT``/``FLOAT``...).
- ``toJson`` (``json``, ``tojson``), ``fromJson``, ``yaml`` (``toYaml``,
  dump), ``fromYaml``.
- text: ``upper``, ``lower``, ``capitalize`` (first letter only, as Pebble),
  ``title``, ``trim``, ``replace('a', 'b')`` or ``replace({'a': 'b'})``,
  ``split(delimiter, limit)`` (literal, not a regex), ``slugify``,
  ``abbreviate(n)``, ``substringBefore``/``After``/``BeforeLast``/``AfterLast``,
  ``startsWith``/``endsWith`` (filters and tests), ``md5``, ``sha1``,
  ``sha256``, ``sha512``, ``base64encode``, ``base64decode``, ``urlencode``
  (form encoding as Java's URLEncoder), ``urldecode``, ``indent``,
  ``nindent``, ``center``, ``format``, ``string``.
- collections: ``default``, ``abs``, ``first``, ``last``, ``length``,
  ``join``, ``keys``, ``values``, ``chunk(n)``, ``distinct``, ``sort``,
  ``rsort``, ``reverse``, ``merge``, ``unique``, ``list``, plus Jinja's
  ``map``, ``select``, ``selectattr``, ``groupby``, ``sum``, ``min``, ``max``...
- tests: ``defined``, ``null``, ``empty``, ``startsWith``, ``endsWith``,
  ``contains`` and Jinja's.
- functions: ``now(timeZone=None)`` (ISO-8601, UTC), ``fromJson(s)``,
  ``yaml(s)``/``fromYaml(s)`` (parse), ``range(a, b, step)`` (Python's
  exclusive end, at most 100,000 items), ``max(...)``, ``min(...)``,
  ``dict(...)``; ``null`` is ``None``.
- Not provided: ``jq`` (no jq engine in the dependencies), regular-expression
  options (``replace(..., regexp=true)``, ``matches``): Python's ``re``
  cannot be interrupted, so a bad pattern could stall a worker.

Differences from Pebble
-----------------------
- ``a ?? b`` -> ``a | default(b)``; ``c ? a : b`` -> ``a if c else b``;
  ``list contains x`` -> ``x in list``; ``{% for i in 0..3 %}`` ->
  ``{% for i in range(0, 4) %}`` (``range`` excludes its end in Jinja).
- ``is defined`` works on chains (``outputs.t.value is defined``) and
  ``default`` also replaces ``None``, as in Pebble.
- ``{{ a ~ b }}`` prints ``None``/booleans/lists the Kestra way, like ``{{ }}``.

Sandbox and limits
------------------
No access to Python internals (``__class__``, ``__globals__`` ...), no file,
network or template loading, no mutation of lists or dicts. A render is
refused with ``ExpressionError`` when it would build text over
``max_output`` or lists over ``max_items`` (checked before building), when
``range`` exceeds ``max_range``, when recursion is too deep, or when it runs
longer than ``timeout`` seconds (a watchdog thread interrupts it; see
:mod:`engine.expressions.guard`).
"""

from engine.expressions.analysis import check_syntax, referenced_outputs, syntax_errors
from engine.expressions.errors import ExpressionError
from engine.expressions.limits import Limits
from engine.expressions.render import is_expression, render, render_string

__all__ = [
    "ExpressionError",
    "Limits",
    "check_syntax",
    "is_expression",
    "referenced_outputs",
    "render",
    "render_string",
    "syntax_errors",
]
