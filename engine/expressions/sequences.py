"""Kestra's collection filters, and Jinja's, bounded.

Every filter that materialises a sequence does it through
:func:`bounds.bounded_list` (at most ``max_items``), so a 10 MB string or a
generator cannot become a list of ten million items; Jinja's lazy filters
(``map``, ``select`` ...) are wrapped to check the length of their input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from jinja2 import pass_context, pass_environment
from jinja2.filters import do_unique, ignore_case, make_attrgetter, make_multi_attrgetter
from jinja2.runtime import Context, Undefined
from jinja2.utils import _PassArg

from engine.expressions import bounds, walks
from engine.expressions.bounds import bounded_list, check_items, to_json, to_text
from engine.expressions.filters import FilterError, whole_number
from engine.expressions.ledger import ledger

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment

# --- collections --------------------------------------------------------------------------------


@pass_environment
def to_list(env: LannerEnvironment, value: object) -> list[Any]:
    if isinstance(value, Mapping):
        return bounded_list(value.keys(), env.limits)
    return bounded_list(value, env.limits)


@pass_environment
def join(env: LannerEnvironment, value: object, separator: object = "", attribute: str | int | None = None) -> str | None:
    if value is None:
        return None
    items = bounded_list(value, env.limits)
    if attribute is not None:
        items = list(map(make_attrgetter(env, attribute), items))
    return bounds.joined(items, to_text(separator, env.limits), env.limits)


@pass_environment
def first(env: LannerEnvironment, value: object) -> Any:
    """First item (first character of a text); null for null or an empty list, as in Pebble."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = value.values()
    if not isinstance(value, Iterable):
        raise TypeError(f"'{type(value).__name__}' object is not iterable")
    for item in value:
        return item
    return None


@pass_environment
def last(env: LannerEnvironment, value: object) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return None
    items = value if isinstance(value, (str, list, tuple)) else bounded_list(value, env.limits)
    return items[-1] if items else None


@pass_environment
def length(env: LannerEnvironment, value: object) -> int:
    """Length of a text, list or map; 0 for null and for anything without a length (Pebble)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or isinstance(value, (int, float, bool)):
        return 0
    if hasattr(value, "__len__"):
        return len(value)
    if not hasattr(value, "__iter__"):
        return 0
    return len(bounded_list(value, env.limits))


@pass_environment
def sort(env: LannerEnvironment, value: object, reverse: bool = False, case_sensitive: bool = False,
         attribute: str | int | None = None) -> list[Any]:
    items = bounded_list(value, env.limits)
    key = make_multi_attrgetter(env, attribute, postprocess=ignore_case if not case_sensitive else None)
    return walks.sort(items, key, bool(reverse), env.limits)  # Jinja's do_sort, in bounded C steps


@pass_environment
def rsort(env: LannerEnvironment, value: object, case_sensitive: bool = False, attribute: str | int | None = None) -> list[Any]:
    return sort(env, value, True, case_sensitive, attribute)


@pass_environment
def reverse(env: LannerEnvironment, value: object) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return bounded_list(value, env.limits)[::-1]


@pass_environment
def unique(env: LannerEnvironment, value: object, case_sensitive: bool = False, attribute: str | int | None = None) -> list[Any]:
    items = bounded_list(value, env.limits)
    for item in items:  # each one is hashed and compared in C (the loop itself is Python)
        bounds.walkable(item, env.limits, "an item given to unique")
    return list(do_unique(env, items, case_sensitive, attribute))


@pass_environment
def distinct(env: LannerEnvironment, value: object) -> list[Any]:
    """Pebble's distinct: drop repeated items, keep the first order (case-sensitive)."""
    return unique(env, value, True)


@pass_environment
def chunk(env: LannerEnvironment, value: object, size: int) -> list[list[Any]] | None:
    """``[1,2,3,4,5]|chunk(2)`` -> ``[[1,2],[3,4],[5]]``."""
    if value is None:
        return None
    size = int(size)
    if size <= 0:
        raise FilterError("chunk size must be a positive number")
    items = bounded_list(value, env.limits)
    return [items[i: i + size] for i in range(0, len(items), size)]


@pass_environment
def batch(env: LannerEnvironment, value: object, linecount: int, fill_with: object = None) -> list[list[Any]] | None:
    linecount = int(linecount)
    if linecount <= 0:
        raise FilterError("batch size must be a positive number")
    check_items(linecount, env.limits, "a batch")
    rows = chunk(env, value, linecount)
    if fill_with is not None and rows and len(rows[-1]) < linecount:
        rows[-1] = rows[-1] + [fill_with] * (linecount - len(rows[-1]))
    return rows


@pass_environment
def slice_filter(env: LannerEnvironment, value: object, fromIndex: object = 0, toIndex: object = None) -> Any:  # noqa: N803 - Pebble's names
    """Pebble's ``slice(from, to)``: items (or characters) from ``from`` up to ``to``, excluded."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return None
    if not isinstance(value, (str, list, tuple)):
        value = bounded_list(value, env.limits)
    start = whole_number(fromIndex or 0, "slice: fromIndex")
    if start < 0:
        raise FilterError("slice: fromIndex must be 0 or more")
    end = len(value) if toIndex is None else min(whole_number(toIndex, "slice: toIndex"), len(value))
    return value[start:end] if isinstance(value, str) else list(value[start:end])


@pass_environment
def flatten(env: LannerEnvironment, value: object) -> list[Any] | None:
    """``[[1, 2], [3], 4] | flatten`` -> ``[1, 2, 3, 4]`` (one level)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise FilterError(f"flatten needs a list, not {type(value).__name__}")
    out: list[Any] = []
    for item in value:
        if isinstance(item, (list, tuple)):
            check_items(len(out) + len(item), env.limits, "the flattened list")
            out.extend(item)
        else:
            out.append(item)
    return out


@pass_environment
def merge(env: LannerEnvironment, value: object, other: object) -> Any:
    """Merge two maps (right wins) or concatenate two lists."""
    if isinstance(value, Mapping) and isinstance(other, Mapping):
        return {**value, **other}
    if isinstance(value, (list, tuple)) and isinstance(other, (list, tuple)):
        check_items(len(value) + len(other), env.limits, "the merged list")
        return [*value, *other]
    raise FilterError(f"merge needs two maps or two lists, not {type(value).__name__} and {type(other).__name__}")


def keys(value: object) -> list[Any] | None:
    """Keys of a map, or the indexes of a list."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, (list, tuple)):
        return list(range(len(value)))
    raise FilterError(f"keys needs a map or a list, not {type(value).__name__}")


def values(value: object) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.values())
    raise FilterError(f"values needs a map, not {type(value).__name__}")


@pass_environment
def total(env: LannerEnvironment, value: object, attribute: str | int | None = None, start: object = 0) -> Any:
    """Jinja's ``sum``, one bounded ``+`` at a time.

    Python's built-in ``sum`` over lists is quadratic in C, where the time
    limit cannot interrupt it; this loop can be interrupted and size-checked.
    """
    items = bounded_list(value, env.limits)
    if attribute is not None:
        items = list(map(make_attrgetter(env, attribute), items))
    result = start
    for item in items:
        result = bounds.add(result, item, env.limits)
    return result


@pass_environment
def pprint(env: LannerEnvironment, value: object) -> str:
    return to_json(value, env.limits, indent=2)


def sized_input(filter_fn: Callable[..., Any], walk: str = "lazy") -> Callable[..., Any]:
    """Wrap a Jinja filter so its input is bounded first.

    ``walk`` says what the filter does with its input: ``lazy`` (``map``,
    ``select`` ...) goes item by item in Python, so its length is enough;
    ``pieces`` (``min``, ``max``) compares items in C, so a large input is
    split in pieces of ``max_walk`` items, the filter applied to each piece
    and then to their answers (the first of equal extremes wins, as in one
    call); ``walk`` (``groupby``, ``dictsort``) sorts in C: its input may
    hold ``max_walk`` items.
    """
    pass_arg = _PassArg.from_obj(filter_fn)
    name = filter_fn.__name__.removeprefix("do_")

    @pass_context
    def wrapper(context: Context, value: object, *args: object, **kwargs: object) -> Any:
        env = _environment(context)
        if hasattr(value, "__len__") and not isinstance(value, Undefined):
            check_items(len(value), env.limits, f"the input of {name}")
            if walk == "walk":
                bounds.walkable(value, env.limits, f"the input of {name}")
            elif walk == "pieces" and ledger(env.limits).size(value)[0] > env.limits.max_walk:
                items = bounded_list(value, env.limits)
                answers = [_forward(filter_fn, pass_arg, context, items[start:end], args, kwargs)
                           for start, end, _ in walks.pieces(items, env.limits)]
                return _forward(filter_fn, pass_arg, context, answers, args, kwargs)
        return _forward(filter_fn, pass_arg, context, value, args, kwargs)

    wrapper.__name__ = filter_fn.__name__
    wrapper.__doc__ = filter_fn.__doc__
    return wrapper


def walked_input(filter_fn: Callable[..., Any], prints: bool = False) -> Callable[..., Any]:
    """Wrap a Jinja filter or test that compares its input (``==``) or prints it (``str(list)``), in C.

    Lists and maps given to it (value or arguments) are sized first: bounded
    by ``max_items``, or by what one ``str()`` may print when ``prints``.
    """
    pass_arg = _PassArg.from_obj(filter_fn)
    check = bounds.printable if prints else bounds.walkable

    @pass_context
    def wrapper(context: Context, value: object, *args: object, **kwargs: object) -> Any:
        env = _environment(context)
        for given in (value, *args, *kwargs.values()):
            if type(given) not in _PLAIN and not isinstance(given, Undefined):
                check(given, env.limits, f"the value given to {filter_fn.__name__.removeprefix('do_')}")
        return _forward(filter_fn, pass_arg, context, value, args, kwargs)

    wrapper.__name__ = filter_fn.__name__
    wrapper.__doc__ = filter_fn.__doc__
    return wrapper


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _environment(context: Context) -> LannerEnvironment:
    return cast("LannerEnvironment", context.environment)  # these filters are registered only in Lanner's


def _forward(filter_fn: Callable[..., Any], pass_arg: object, context: Context, value: object, args: tuple[object, ...],
             kwargs: dict[str, object]) -> Any:
    """Call a wrapped Jinja filter or test with what it asked for (context, eval context or environment)."""
    if pass_arg is _PassArg.context:
        return filter_fn(context, value, *args, **kwargs)
    if pass_arg is _PassArg.eval_context:
        return filter_fn(context.eval_ctx, value, *args, **kwargs)
    if pass_arg is _PassArg.environment:
        return filter_fn(context.environment, value, *args, **kwargs)
    return filter_fn(value, *args, **kwargs)
