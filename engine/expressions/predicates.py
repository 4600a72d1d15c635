"""Tests (``x is empty``, ``x is json`` ...) with Pebble's and Kestra's meaning.

``defined`` is true for a value that exists and is not null (Pebble's
``DefinedTest`` is "not null"); ``empty`` is null, blank text, or an empty
list or map; ``iterable`` is a list (a text or a map is not); ``even`` and
``odd`` need whole numbers. ``null`` and ``empty`` on an undefined value are
errors, so a misspelt name is reported instead of being taken for null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jinja2 import pass_environment
from jinja2.runtime import Undefined

from engine.expressions import json_text, walks
from engine.expressions.errors import shown
from engine.expressions.filters import FilterError, blank

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment


def is_empty(value: object) -> bool:
    """Pebble's empty: null, blank text, empty list or map."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return blank(value)


def is_null(value: object) -> bool:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value is None


def is_defined(value: object) -> bool:
    """Pebble's defined: the value exists and is not null."""
    return value is not None and not isinstance(value, Undefined)


def _whole(value: object, test: str) -> int:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, bool) or not isinstance(value, int):
        raise FilterError(f"the {test} test needs a whole number, not {shown(value)}")
    return value


def is_even(value: object) -> bool:
    return _whole(value, "even") % 2 == 0


def is_odd(value: object) -> bool:
    return _whole(value, "odd") % 2 == 1


def is_iterable(value: object) -> bool:
    """Pebble's iterable: a list (not a text, not a map)."""
    return isinstance(value, (list, tuple, set, frozenset))


def is_map(value: object) -> bool:
    return isinstance(value, Mapping)


@pass_environment
def is_json(env: LannerEnvironment, value: object) -> bool:
    """Kestra's json test: a text that parses as JSON (parsed within the limits)."""
    if not isinstance(value, str):
        return False
    try:
        json_text.parse_json(value, env.limits)
    except ValueError:
        return False
    return True


def starts_with(value: object, prefix: object) -> bool:
    return str(value).startswith(str(prefix))


def ends_with(value: object, suffix: object) -> bool:
    return str(value).endswith(str(suffix))


def contains(value: object, item: object) -> bool:
    return item in value if isinstance(value, (str, Mapping, list, tuple, set, frozenset)) else False


# --- Jinja's comparison tests (``x is eq(y)``, ``select('in', list)``), in bounded C steps ------------


def _comparison(compare: Callable[[Any, Any, Any], bool], name: str) -> Callable[..., bool]:
    @pass_environment
    def test(env: LannerEnvironment, value: object, other: object) -> bool:
        return compare(value, other, env.limits)

    test.__name__ = name
    return test


COMPARISON_TESTS: dict[str, Callable[..., bool]] = {}
for _names, _compare in (
    (("==", "eq", "equalto"), walks.equal),
    (("!=", "ne"), lambda a, b, limits: not walks.equal(a, b, limits)),
    (("<", "lt", "lessthan"), lambda a, b, limits: walks.ordered("lt", a, b, limits)),
    (("<=", "le"), lambda a, b, limits: walks.ordered("lteq", a, b, limits)),
    ((">", "gt", "greaterthan"), lambda a, b, limits: walks.ordered("gt", a, b, limits)),
    ((">=", "ge"), lambda a, b, limits: walks.ordered("gteq", a, b, limits)),
    (("in",), walks.member),
):
    for _name in _names:
        COMPARISON_TESTS[_name] = _comparison(_compare, _name)
