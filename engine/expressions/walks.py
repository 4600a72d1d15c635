"""Comparing, searching and sorting large values in short C steps.

``a == b``, ``x in items`` and ``sorted(items)`` walk their values in C,
holding the interpreter lock: while one runs, no other thread of the server
(its API, scheduler, runner) runs. Values are at most ``max_items`` items
(see :mod:`engine.expressions.ledger`), yet one walk of a million items is
tens of milliseconds. So a walk over more than ``max_walk`` items is split:
lists are compared slice by slice (the slices holding about ``max_walk``
items together), maps key by key, and long lists are sorted in runs merged in
Python. The answers are Python's own: the slices are compared with the same
operators, in the same order.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from typing import Any

from engine.expressions.ledger import Ledger, ledger, walked
from engine.expressions.limit_error import LimitError
from engine.expressions.limits import Limits

_SEQUENCES = (list, tuple)
#: A sorted run holds at most ``max_walk`` / this items of keys (log2 of its length, about 12, compares each).
_RUN_MIN = 16
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "gt": operator.gt,
    "lteq": operator.le,
    "gteq": operator.ge,
}


def _weight(book: Ledger, value: object) -> int:
    return book.size(value)[0] + 1 if walked(value) else 1


def _small(book: Ledger, value: object, limits: Limits) -> bool:
    return not walked(value) or book.size(value)[0] <= limits.max_walk


def equal(left: object, right: object, limits: Limits) -> bool:
    """Python's ``left == right``, walking at most ``max_walk`` items per C step."""
    if left is right and walked(left):
        return True
    book = ledger(limits)
    if _small(book, left, limits) or _small(book, right, limits):
        return bool(left == right)  # the smaller side bounds the walk
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if type(left) is not type(right) or len(left) != len(right):
            return bool(left == right)  # a list is never equal to a tuple: no walk
        return all(_pieces_equal(book, left, right, limits))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        if len(left) != len(right) or not all(key in right for key in left):
            return False
        return all(equal(value, right[key], limits) for key, value in left.items())
    return bool(left == right)


def _pieces_equal(book: Ledger, left: Sequence[object], right: Sequence[object], limits: Limits) -> Iterator[bool]:
    for start, end, heavy in _slices(book, left, limits):
        if heavy:
            yield equal(left[start], right[start], limits)
        else:
            yield left[start:end] == right[start:end]


def pieces(items: Sequence[object], limits: Limits) -> Iterator[tuple[int, int, bool]]:
    """(start, end, heavy) pieces of a list: runs of items holding at most ``max_walk`` items, or one larger item."""
    return _slices(ledger(limits), items, limits)


def _slices(book: Ledger, items: Sequence[object], limits: Limits) -> Iterator[tuple[int, int, bool]]:
    """(start, end, heavy) pieces of ``items``: runs of light items under ``max_walk`` items, or one heavy item."""
    start, weight, cap = 0, 0, limits.max_walk
    for index, item in enumerate(items):
        size = _weight(book, item)
        if size > cap:
            if index > start:
                yield start, index, False
            yield index, index + 1, True
            start, weight = index + 1, 0
            continue
        if weight + size > cap and index > start:
            yield start, index, False
            start, weight = index, 0
        weight += size
    if start < len(items):
        yield start, len(items), False


def ordered(op: str, left: object, right: object, limits: Limits) -> bool:
    """Python's ``left < right`` (``op`` is lt, gt, lteq or gteq) for lists, in bounded C steps."""
    compare = _ORDER[op]
    book = ledger(limits)
    if not (isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES)) or _small(book, left, limits) or _small(book, right, limits):
        return bool(compare(left, right))
    if type(left) is not type(right):
        return bool(compare(left, right))  # TypeError, before any walk
    shorter = left if len(left) <= len(right) else right
    for start, end, heavy in _slices(book, shorter, limits):
        if heavy:
            if not equal(left[start], right[start], limits):
                return ordered(op, left[start], right[start], limits)
        elif left[start:end] != right[start:end]:
            return bool(compare(left[start:end], right[start:end]))  # the first difference is in this piece
    return bool(compare(len(left), len(right)))


def member(item: object, container: object, limits: Limits) -> bool:
    """Python's ``item in container``, walking at most ``max_walk`` items per C step."""
    book = ledger(limits)
    if isinstance(container, (str, bytes)) or not walked(container):
        if walked(item):
            _bounded(book, item, limits, "the value looked for")
        return _contains(container, item)
    if isinstance(container, _SEQUENCES):
        if _small(book, container, limits):
            return item in container
        for start, end, heavy in _slices(book, container, limits):
            if heavy:
                if equal(item, container[start], limits):
                    return True
            elif item in container[start:end]:
                return True
        return False
    _bounded(book, item, limits, "the value looked for")  # a map or a set hashes it
    return _contains(container, item)


def _contains(container: object, item: object) -> bool:
    """``item in container`` as Python answers it: ``__contains__``, else a walk of the items."""
    if isinstance(container, Container):
        return item in container
    if isinstance(container, Iterable):
        return any(each is item or each == item for each in container)
    raise TypeError(f"argument of type '{type(container).__name__}' is not iterable")


def _bounded(book: Ledger, value: object, limits: Limits, what: str) -> None:
    if walked(value) and book.size(value, what)[0] > limits.max_walk:
        raise walk_too_long(what, book.size(value)[0], limits)


def walk_too_long(what: str, nodes: int, limits: Limits) -> LimitError:
    return LimitError(
        f"{what} holds {nodes:,} items (nested ones counted), over the limit of {limits.max_walk:,} items "
        "that one step may compare, hash or print"
    )


def sort(items: list[Any], key: Callable[[Any], Any] | None, reverse: bool, limits: Limits) -> list[Any]:
    """``sorted(items, key=key, reverse=reverse)``, in runs of at most ``max_walk`` items of work merged in Python.

    The sort keys (the items, or what ``key`` gives) are sorted with their
    positions, ``(key, position)``, in runs sorted in C whose items times
    log2 of their length stay under ``max_walk``; :func:`heapq.merge` merges
    them. Equal keys keep their order: the result is ``sorted``'s, stable.
    """
    book = ledger(limits)
    keys = items if key is None else [key(item) for item in items]
    weights = [_weight(book, k) for k in keys]
    total, heaviest = sum(weights), max(weights, default=1)
    if heaviest * _RUN_MIN > limits.max_walk:
        raise LimitError(
            f"the list to sort has a sort key of {heaviest:,} items (nested ones counted); sorting compares keys "
            f"many times, so each may hold at most {limits.max_walk // _RUN_MIN:,}"
        )
    if total * max(1, len(items).bit_length()) <= limits.max_walk:
        return sorted(items, key=key, reverse=reverse)
    sign = -1 if reverse else 1  # positions count down in a reversed sort: equal keys keep their order
    decorated = [(k, sign * i) for i, k in enumerate(keys)]
    runs: list[list[Any]] = []
    start, weight, cap = 0, 0, limits.max_walk // _RUN_MIN
    for index, size in enumerate(weights):
        if weight + size > cap and index > start:
            runs.append(sorted(decorated[start:index], reverse=reverse))
            start, weight = index, 0
        weight += size + 1
    runs.append(sorted(decorated[start:], reverse=reverse))
    return [items[sign * position] for _, position in heapq.merge(*runs, reverse=reverse)]
