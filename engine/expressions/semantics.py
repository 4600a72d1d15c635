"""What Pebble's operators mean, written once and bounded.

Learned from Pebble's ``OperatorUtils`` and expression nodes and Kestra's
overrides, then written for Python values:

* ``+`` joins texts when either side is text (``'n=' + 1`` is ``n=1``, null
  prints ``null``), appends to a list, otherwise adds numbers; ``-``, ``*``,
  ``/``, ``%`` read numeric texts as numbers (``'6' / 4`` is 1). Two whole
  numbers divide to a whole number truncated toward zero and ``%`` keeps the
  sign of the left side, as Java does. ``'ab' * 2`` still repeats (Jinja).
* ``==`` treats ``1`` and ``1.0`` as equal but never a boolean and a number;
  ``<`` and friends give false when a side is null, compare texts
  alphabetically, numbers numerically, a number with a numeric text as
  numbers and dates with ISO-8601 texts as dates.
* ``a ?? b`` gives ``b`` when ``a`` is undefined (a missing variable,
  attribute, key or index, or anything that failed because of one) or null;
  ``a ??? b`` only when undefined.
* ``contains`` looks for an item (all items of a list) in a list, a key in a
  map, a text in a text; ``isIn``/``notIn`` compare the printed forms.
* ``a..b`` is the inclusive range of whole numbers (or single letters).
* ``and``/``or``/``not`` and conditions give booleans; null, empty texts,
  empty lists and maps and zero are false.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Undefined

from engine.expressions import bounds, dates, walks
from engine.expressions.bounds import check_items, check_text, to_text, too_long
from engine.expressions.errors import shown
from engine.expressions.limit_error import LimitError
from engine.expressions.limits import Limits


class OperatorError(LimitError):
    """An operator was given values it cannot combine (one sentence, names both)."""


_SHOWN = Limits(max_output=200)


def _short(value: object) -> str:
    if isinstance(value, str):
        return shown(value, 40)
    try:
        text = to_text(value, _SHOWN) if _small(value) else type(value).__name__
    except LimitError:  # a few items, but large ones
        text = type(value).__name__
    return text if len(text) <= 40 else text[:39] + "…"


def _small(value: object) -> bool:
    return not isinstance(value, (list, tuple, dict, set)) or len(value) <= 10


def _defined(value: object) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value


def java_text(value: object, limits: Limits) -> str:
    """How Java's ``String.valueOf`` prints a value (null as ``null``, ``1.0E20``)."""
    if value is None:
        return "null"
    if isinstance(value, float) and not isinstance(value, bool) and math.isfinite(value):
        if value == 0 or 1e-3 <= abs(value) < 1e7:
            return repr(value)
        mantissa, _, exponent = f"{value:.16e}".partition("e")
        digits = repr(float(mantissa)) if "." in repr(float(mantissa)) else repr(float(mantissa)) + ".0"
        return f"{digits}E{int(exponent)}"
    return to_text(_defined(value), limits)


def to_number(value: object, what: str) -> int | float:
    """Pebble's reading of an arithmetic operand: numbers as they are, numeric texts parsed."""
    value = _defined(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            pass
        raise OperatorError(f"{what} needs numbers, and {_short(value)} is not a number")
    if value is None:
        raise OperatorError(f"{what} needs numbers, not null")
    raise OperatorError(f"{what} needs numbers, not {type(value).__name__}")


def _numeric_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        to_number(value, "")
    except OperatorError:
        return False
    return True


# --- arithmetic --------------------------------------------------------------------------------


_FAST = (int, float)


# Arithmetic takes any two template values; Python's operator module applies `+`, `-`, `*` to values
# this code has already checked (the fast paths' plain numbers) or cannot know (a custom object).


def add(left: object, right: object, limits: Limits) -> object:
    if type(left) in _FAST and type(right) in _FAST:  # the common case first: plain numbers
        return operator.add(left, right)
    left, right = _defined(left), _defined(right)
    if isinstance(left, str) or isinstance(right, str):
        a, b = java_text(left, limits), java_text(right, limits)
        check_text(len(a) + len(b), limits, "the concatenated text")
        return a + b
    if isinstance(left, (list, tuple)):
        return bounds.concatenated(left, right if isinstance(right, (list, tuple)) else [right], limits)
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left + right
    if isinstance(left, (dict, set)) or isinstance(right, (dict, set, list, tuple)):
        return bounds.add(left, right, limits)
    return to_number(left, "'+'") + to_number(right, "'+'")


def subtract(left: object, right: object, limits: Limits) -> object:
    if type(left) in _FAST and type(right) in _FAST:
        return operator.sub(left, right)
    if isinstance(left, (list, tuple)):
        drop = list(right) if isinstance(right, (list, tuple)) else [right]
        return [item for item in left if not walks.member(item, drop, limits)]
    return to_number(left, "'-'") - to_number(right, "'-'")


def multiply(left: object, right: object, limits: Limits) -> object:
    kinds = type(left), type(right)
    if kinds[0] in _FAST and kinds[1] in _FAST:
        return operator.mul(left, right) if float in kinds else bounds.mul(left, right, limits)
    left, right = _defined(left), _defined(right)
    repeatable = (str, list, tuple)
    if isinstance(left, repeatable) and isinstance(right, int) and not _numeric_text(left):
        return bounds.mul(left, right, limits)
    if isinstance(right, repeatable) and isinstance(left, int) and not _numeric_text(right):
        return bounds.mul(left, right, limits)
    return bounds.mul(to_number(left, "'*'"), to_number(right, "'*'"), limits)


def divide(left: object, right: object, limits: Limits) -> Any:
    a, b = to_number(left, "'/'"), to_number(right, "'/'")
    if b == 0:
        raise ZeroDivisionError("division by zero")
    if isinstance(a, int) and isinstance(b, int):
        quotient = abs(a) // abs(b)
        return quotient if (a >= 0) == (b > 0) else -quotient
    return a / b


def modulo(left: object, right: object, limits: Limits) -> Any:
    if isinstance(left, (str, bytes)) and not _numeric_text(left):
        return bounds.modulo(left, right, limits)  # Jinja's '%s' % value formatting
    a, b = to_number(left, "'%'"), to_number(right, "'%'")
    if b == 0:
        raise ZeroDivisionError("division by zero")
    if isinstance(a, int) and isinstance(b, int):
        rest = abs(a) % abs(b)
        return -rest if a < 0 else rest
    return math.fmod(a, b)


def floor_divide(left: object, right: object, limits: Limits) -> Any:
    return _defined(left) // _defined(right)


BINARY: dict[str, Callable[[Any, Any, Limits], Any]] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "//": floor_divide,
    "%": modulo,
    "**": bounds.power,
}


# --- comparisons -------------------------------------------------------------------------------


def equals(left: object, right: object, limits: Limits | None = None) -> bool:
    left, right = _defined(left), _defined(right)
    if left is None or right is None:
        return left is right
    if isinstance(left, bool) != isinstance(right, bool) and isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return False
    if limits is not None:
        return walks.equal(left, right, limits)  # large lists and maps compared in pieces
    return bool(left == right)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "gteq": lambda a, b: a >= b,
    "lteq": lambda a, b: a <= b,
}
_SYMBOL = {"gt": ">", "lt": "<", "gteq": ">=", "lteq": "<="}
_NUMERIC: dict[str, Callable[[Any, Any], bool]] = {**_ORDER, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}


def compare(op: str, left: object, right: object, limits: Limits) -> bool:
    if type(left) in _FAST and type(right) in _FAST:  # plain numbers: Python's meaning is Pebble's
        return bool(_NUMERIC[op](left, right))
    if op == "eq":
        return equals(left, right, limits)
    if op == "ne":
        return not equals(left, right, limits)
    if op == "in":
        return member(left, right, limits)
    if op == "notin":
        return not member(left, right, limits)
    left, right = _defined(left), _defined(right)
    if left is None or right is None:
        return False
    left, right = _comparable(left, right)
    try:
        return walks.ordered(op, left, right, limits)
    except TypeError:
        raise OperatorError(f"cannot compare {_short(left)} {_SYMBOL[op]} {_short(right)}") from None


def _comparable(left: object, right: object) -> tuple[Any, Any]:
    """Numbers with numeric texts as numbers, dates with ISO texts as dates."""
    if isinstance(left, (int, float)) and _numeric_text(right):
        return left, to_number(right, "")
    if isinstance(right, (int, float)) and _numeric_text(left):
        return to_number(left, ""), right
    if isinstance(left, (dt.date, dt.datetime)) and isinstance(right, str):
        return dates.to_datetime(left), dates.to_datetime(right)
    if isinstance(right, (dt.date, dt.datetime)) and isinstance(left, str):
        return dates.to_datetime(left), dates.to_datetime(right)
    return left, right


def member(item: object, container: object, limits: Limits) -> bool:
    """Jinja's ``x in y``: Python's membership, a large list searched in pieces."""
    return walks.member(_defined(item), _defined(container), limits)


def truth(value: object) -> bool:
    """A condition's boolean; undefined values are errors, NaN is false as in Java."""
    if type(value) is float and value != value:
        return False
    return bool(value)


# --- Pebble's word operators -------------------------------------------------------------------


def contains(left: object, right: object, limits: Limits) -> bool:
    left, right = _defined(left), _defined(right)
    if left is None:
        return False
    if isinstance(left, str):
        return java_text(right, limits) in left
    if isinstance(left, Mapping):
        try:
            return walks.member(right, left, limits)  # hashing a key walks it: bounded
        except TypeError:
            return False
    if isinstance(left, (list, tuple, set, frozenset)):
        if isinstance(right, (list, tuple)):
            return all(walks.member(item, left, limits) for item in right)
        return walks.member(right, left, limits)
    raise OperatorError(f"contains needs a list, a map or a text on its left, not {_short(left)}")


def is_in(left: object, right: object, limits: Limits) -> bool:
    """Kestra's ``isIn``: the printed value is one of the printed items (map keys or values)."""
    left, right = _defined(left), _defined(right)
    if left is None or right is None:
        return False
    wanted = java_text(left, limits)
    if isinstance(right, Mapping):
        return any(java_text(k, limits) == wanted or java_text(v, limits) == wanted for k, v in right.items())
    if isinstance(right, (list, tuple, set, frozenset)):
        return any(java_text(item, limits) == wanted for item in right)
    return False


def inclusive_range(start: object, end: object, step: object, limits: Limits) -> list[int] | list[str]:
    """Pebble's ``range(a, b, step)`` and ``a..b``: both ends included."""
    start, end, step = _defined(start), _defined(end), _defined(step)
    if step is None:
        step = 1
    if isinstance(step, bool) or not isinstance(step, int) or step == 0:
        raise OperatorError(f"the step of a range must be a whole number other than 0, not {_short(step)}")
    if isinstance(start, str) and isinstance(end, str):
        if len(start) != 1 or len(end) != 1:
            raise OperatorError("a range of texts goes from one letter to another, like 'a'..'e'")
        return [chr(i) for i in _span(ord(start), ord(end), step, limits)]
    return list(_span(int(to_number(start, "a range")), int(to_number(end, "a range")), step, limits))


def _span(low: int, high: int, step: int, limits: Limits) -> range:
    span = range(low, high + 1, step) if step > 0 else range(low, high - 1, step)
    if len(span) > limits.max_range:
        raise too_long("the range", len(span), limits.max_range, "items")
    return span


def pebble_binary(op: str, left: object, right: object, limits: Limits) -> Any:
    if op == "contains":
        return contains(left, right, limits)
    if op == "isIn":
        return is_in(left, right, limits)
    if op == "notIn":
        return not is_in(left, right, limits)
    if op == "range":
        return inclusive_range(left, right, 1, limits)
    raise OperatorError(f"unknown operator {op!r}")


# --- null coalescing ---------------------------------------------------------------------------


def coalesce(terms: tuple[Callable[[], Any], ...], undefined_only: tuple[bool, ...] | list[bool]) -> Any:
    """Evaluate ``terms`` left to right until one is defined (and not null after ``??``)."""
    value = _attempt(terms[0]) if len(terms) > 1 else terms[0]()
    last = len(terms) - 1
    for i, only_undefined in enumerate(undefined_only, start=1):
        # ((a ??? b) ?? c): a null kept by ??? is still replaced by a later ??
        if isinstance(value, Undefined) or (value is None and not only_undefined):
            value = terms[i]() if i == last else _attempt(terms[i])
    return value


def _attempt(term: Callable[[], Any]) -> Any:
    try:
        return term()
    except SecurityError:
        raise
    except UndefinedError as exc:
        return Undefined(hint=str(exc.message or exc))


# --- loops and context -------------------------------------------------------------------------


class MapEntry(str):
    """One entry of a map in ``{% for entry in map %}``: prints and compares as its key."""

    __slots__ = ("key", "value")
    key: str
    value: Any

    def __new__(cls, key: str, value: object) -> MapEntry:
        entry = super().__new__(cls, key)
        entry.key = key
        entry.value = value
        return entry


class Entry:
    """A map entry whose key is not a text."""

    __slots__ = ("key", "value")

    def __init__(self, key: object, value: object):
        self.key = key
        self.value = value

    def __str__(self) -> str:
        return str(self.key)

    def __eq__(self, other: object) -> bool:
        return self.key == (other.key if isinstance(other, Entry) else other)

    def __hash__(self) -> int:
        return hash(self.key)


def iterate(value: object, limits: Limits) -> Iterable[Any]:
    """What ``{% for %}`` walks: entries of a map, nothing for null, items otherwise."""
    value = _defined(value)
    if value is None:
        return ()
    if isinstance(value, Mapping):
        check_items(len(value), limits, "the map")
        return [MapEntry(k, v) if isinstance(k, str) else Entry(k, v) for k, v in value.items()]
    if not isinstance(value, Iterable):
        raise TypeError(f"'{type(value).__name__}' object is not iterable")  # as Python's own for loop says
    return value


def context_snapshot(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Pebble's ``_context``: the template's variables (functions left out)."""
    return {k: v for k, v in variables.items() if not callable(v) and not isinstance(v, Undefined)}
