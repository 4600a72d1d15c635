"""The Jinja2 environment templates run in: sandboxed, strict and bounded.

Built on :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`, which already
refuses attributes starting with ``_`` and Python internals (``__class__``,
``__globals__``, ``func_code`` ...), sandboxes ``str.format``, and refuses
methods that mutate lists, dicts and sets. On top of it this environment:

* has no loader (``include``/``import``/``extends`` cannot read files) and no
  globals that hand out objects (``cycler``, ``joiner``, ``namespace``,
  ``lipsum`` are removed; ``range`` and ``dict`` are plain bounded functions);
* intercepts ``*``, ``**``, ``+`` and ``%`` to refuse results over the limits
  before computing them, checks the str/bytes methods that can outgrow their
  input, bounds format widths, ``~`` concatenation, macro/block output, and
  every call result;
* looks up map keys before methods (``outputs.t.values`` is the output
  called ``values``, as in Pebble);
* treats undefined names and attributes as errors (strict), while still
  letting ``default`` and ``is defined`` work on chains like ``a.b.c``;
* prints values the way Kestra does (``None`` as nothing, ``true``/``false``,
  lists and maps as JSON).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from functools import update_wrapper
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, nodes, pass_environment
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from markupsafe import Markup

from engine.expressions import bounds, semantics
from engine.expressions.catalog import build_filters, build_functions, build_tests
from engine.expressions.compiler import PebbleCodeGenerator
from engine.expressions.ledger import ledger
from engine.expressions.lexer import PebbleLexer
from engine.expressions.limits import Limits
from engine.expressions.parser import PebbleParser

_NUMBERS = frozenset({int, float, bool, type(None)})
_METHODS = (types.MethodType, types.BuiltinMethodType)
#: Methods templates may call that compare their arguments with many items, in C.
_WALKING_METHODS = frozenset({"count", "index", "changed"})


class LannerUndefined(ChainableUndefined, StrictUndefined):
    """Strict, but chainable: ``a.b.c | default('x')`` works when ``a`` is missing.

    Printing, iterating, comparing or testing the truth of an undefined value
    raises; only ``default``, ``is defined`` and further lookups accept it.
    """

    __slots__ = ()


class _BoundedFormatterMixin:
    """``str.format`` that refuses huge widths and results."""

    _env: LannerEnvironment
    _total: int

    def vformat(self, format_string: str, args: object, kwargs: object) -> str:
        self._total = len(format_string)
        bounds.check_text(self._total, self._env.limits, "the format text")
        return super().vformat(format_string, args, kwargs)  # type: ignore[misc]

    def convert_field(self, value: object, conversion: str | None) -> Any:
        # ``{!r}``/``{!s}`` print the value in C before format_field sees it.
        bounds.printable(value, self._env.limits, "a formatted value")
        return super().convert_field(value, conversion)  # type: ignore[misc]

    def format_field(self, value: object, format_spec: str) -> Any:
        limits = self._env.limits
        bounds.check_format_spec(format_spec, limits)
        bounds.printable(value, limits, "a formatted value")
        bounds.measure(value, limits, "a formatted value")
        result = super().format_field(value, format_spec)  # type: ignore[misc]
        self._total += len(result)
        bounds.check_text(self._total, limits, "the formatted text")
        return result


# SandboxedFormatter declares _env an Environment; LannerEnvironment is the only one that builds these.
class _BoundedFormatter(_BoundedFormatterMixin, SandboxedFormatter):  # type: ignore[misc]
    pass


class _BoundedEscapeFormatter(_BoundedFormatterMixin, SandboxedEscapeFormatter):  # type: ignore[misc]
    pass


@pass_environment
def _finalize(env: LannerEnvironment, value: object) -> Any:
    """How each ``{{ ... }}`` prints (see :func:`bounds.to_text`)."""
    if type(value) is str:
        return value
    return bounds.to_text(value, env.limits)


class LannerEnvironment(ImmutableSandboxedEnvironment):
    """One environment per :class:`Limits`; templates compiled in it are cached by source."""

    code_generator_class = PebbleCodeGenerator
    intercepted_binops = frozenset(semantics.BINARY)

    def __init__(self, limits: Limits):
        super().__init__(
            undefined=LannerUndefined,
            finalize=_finalize,
            autoescape=False,
            keep_trailing_newline=True,  # YAML block scalars keep their last newline
            cache_size=0,
            auto_reload=False,
        )
        self.limits = limits
        self.filters = build_filters()
        # jinja infers dict[str, function] from its defaults; every callable in the table is a test.
        self.tests = build_tests()  # type: ignore[assignment]
        self.globals.clear()
        self.globals.update(build_functions(self))
        # Constant folding would apply Python's meaning of ==, and, or to literals.
        self.optimized = False
        self._lexer = PebbleLexer(self, max_tokens=4 * limits.max_parts)
        # Macros, {% set %} blocks, {% filter %} and call blocks join their output here.
        # jinja types concat as taking any iterable; its compiled templates pass their list buffers.
        self.concat = self._bounded_concat  # type: ignore[method-assign, assignment]

    # --- bounded building blocks used by compiled templates ------------------------------------

    def _bounded_concat(self, parts: list[str]) -> str:
        total = sum(map(len, parts))
        bounds.check_text(total, self.limits, "the block output")
        return ledger(self.limits).account("".join(parts), "the block output")

    def built(self, value: object) -> Any:
        """A list, tuple or map literal: sized and counted once its items are known."""
        return ledger(self.limits).account(value, "the list or map")

    def account(self, value: object) -> Any:
        """The result of a filter or a slice: sized and counted before anything can walk it."""
        return ledger(self.limits).account(value)

    # --- the Pebble dialect: lexer, parser, and what its operators mean -------------------------

    @property
    def lexer(self) -> PebbleLexer:
        return self._lexer

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return PebbleParser(self, source, name, filename, max_parts=self.limits.max_parts).parse()

    truth = staticmethod(semantics.truth)

    def compare(self, op: str, left: object, right: object) -> bool:
        return semantics.compare(op, left, right, self.limits)

    coalesce = staticmethod(semantics.coalesce)

    def pebble_binary(self, op: str, left: object, right: object) -> Any:
        return semantics.pebble_binary(op, left, right, self.limits)

    def iterate(self, value: object) -> Any:
        return semantics.iterate(value, self.limits)

    def context_snapshot(self, context: Context) -> dict[str, Any]:
        return semantics.context_snapshot(context.get_all())

    def render_block(self, context: Context, name: str) -> str:
        block = context.blocks.get(name)
        if not block:
            raise semantics.OperatorError(f"block({name!r}): there is no block named {name!r} in this expression")
        return self._bounded_concat(list(block[0](context)))

    def str_join(self, parts: tuple[Any, ...]) -> str:
        """The ``~`` operator: text of each part, bounded."""
        return ledger(self.limits).account(bounds.joined(parts, "", self.limits, "the concatenated text"))

    def getattr(self, obj: object, attribute: str) -> Any:
        # A lookup on an undefined value stays that undefined value, so the
        # error names the first missing part ('cycler' is undefined).
        if isinstance(obj, Undefined):
            return obj
        # Keys before methods on maps, as in Pebble: outputs.t.values is the
        # task's "values" output, not dict.values.
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: object, argument: object) -> Any:
        if isinstance(obj, Undefined):
            return obj
        if isinstance(argument, Undefined):
            # block[missing].child is undefined (not an error), as in Pebble
            return self.undefined(obj=obj, name=argument._undefined_name)
        return super().getitem(obj, argument)

    def call_binop(self, context: object, operator: str, left: object, right: object) -> Any:
        result = semantics.BINARY[operator](left, right, self.limits)
        if type(result) in _NUMBERS:
            return result
        return ledger(self.limits).account(result)

    def wrap_str_format(self, value: object) -> Callable[..., str] | None:
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        formatter: SandboxedFormatter
        if isinstance(owner, Markup):
            formatter = _BoundedEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _BoundedFormatter(self)
        str_type = type(owner)
        is_map = value.__name__ == "format_map"

        def wrapper(*args: object, **kwargs: object) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                return str_type(formatter.vformat(owner, (), args[0]))
            return str_type(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)

    def call(__self, __context: Context, __obj: object, *args: object, **kwargs: object) -> Any:  # noqa: N805 - Jinja's signature
        limits = __self.limits
        if getattr(__obj, "__name__", None) in _WALKING_METHODS and isinstance(__obj, _METHODS):
            # list.count(x), list.index(x), loop.changed(x) compare in C: their inputs are sized first
            bounds.walkable(__obj.__self__, limits, f"the list {__obj.__name__}() searches")
            for arg in (*args, *kwargs.values()):
                # index() prints what it did not find in its error
                bounds.printable(arg, limits, f"the value given to {__obj.__name__}()")
        if isinstance(__obj, types.BuiltinMethodType):
            owner = __obj.__self__
            if isinstance(owner, (str, bytes)):
                name = __obj.__name__
                if name == "join" and len(args) == 1 and not kwargs:
                    items = bounds.bounded_list(args[0], limits)
                    bounds.check_text(
                        sum(len(i) if isinstance(i, (str, bytes)) else 0 for i in items)
                        + len(owner) * max(len(items) - 1, 0),
                        limits,
                        "the joined text",
                    )
                    args = (items,)
                else:
                    check = bounds.METHOD_CHECKS.get(name)
                    if check is not None:
                        check(owner, args, kwargs, limits)
        result = ImmutableSandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if type(result) in _NUMBERS:
            return result
        return ledger(limits).account(result)
