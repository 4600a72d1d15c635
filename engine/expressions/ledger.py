"""What a render has built, counted by its expanded size, so that no later walk over it can be long.

A list of shared references is cheap to build and ruinous to walk: ``[b] * 15000``
where ``b`` is ``[a] * 1000`` and ``a`` is ``[0] * 1000`` takes a few kilobytes,
yet ``==``, ``sort``, ``|string`` and ``|tojson`` see fifteen billion items and
walk them in C, holding the interpreter lock, where the render's time limit
(:mod:`engine.expressions.guard`) cannot stop them. So every value is sized by
what a walk would see: nested items included, a shared one counted each time it
appears, and no depth cut-off (what nests deeper than ``max_depth`` is refused).
A value over ``max_items`` items or ``max_output`` characters is refused where
it is built, and the operations that walk values in C size their inputs first
(values from the context have not been built by the template).

A :class:`Ledger` lives for one render (``render()`` inside a template shares
it). It remembers the size of each container it has sized, by identity and
holding a reference so the identity stays valid, so building ``[b] * 15000``
costs one look-up per item, not a walk of ``b``. It also adds up the bytes of
what the render builds: many values, each under the limits, must not add up to
gigabytes (``max_memory``).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import sys
import threading
from collections.abc import Mapping, MappingView, Set
from typing import Any

from jinja2.runtime import Undefined

from engine.expressions.limit_error import LimitError
from engine.expressions.limits import Limits

#: Containers shorter than this are sized again when met again instead of being remembered:
#: cheap to walk, and a render that builds many small ones in a loop should not keep them all alive.
REMEMBER_FROM = 16
#: Lists at least this long are first tried as "all texts" or "all numbers", sized in C.
FLAT_FROM = 32
_SEQUENCES = frozenset({list, tuple, set, frozenset})
_chain = itertools.chain.from_iterable
_POINTER = 8
_sizeof = sys.getsizeof
_NUMBERS = (int, float, bool, type(None))


def too_many(what: str, count: int, limit: int, exact: bool) -> LimitError:
    more = "" if exact else "more than "
    return LimitError(
        f"{what} would hold {more}{count:,} items (the items of nested lists and maps counted, and a repeated "
        f"item each time it appears), over the limit of {limit:,} items"
    )


def too_long(what: str, size: int, limit: int, exact: bool = True) -> LimitError:
    more = "" if exact else "more than "
    return LimitError(f"{what} would be {more}{size:,} characters, over the limit of {limit:,}")


def too_deep(what: str, limit: int) -> LimitError:
    return LimitError(f"{what} nests lists or maps more than {limit} levels deep, over the limit of {limit} levels")


def too_big(spent: int, limit: int) -> LimitError:
    mib = 1024 * 1024
    return LimitError(
        f"the values this expression builds would take more than {limit / mib:,.0f} MiB of memory in all "
        f"({spent / mib:,.0f} MiB so far), over the limit of {limit / mib:,.0f} MiB"
    )


def _leaf(value: object) -> tuple[int, int]:
    """(characters as JSON, bytes) of a value that is not walked into."""
    if isinstance(value, str):
        return len(value) + 2, _sizeof(value)
    if isinstance(value, bool) or value is None:
        return 5, 16
    if isinstance(value, int):
        return 2 + _digits(value.bit_length()), 28
    if isinstance(value, float):
        return 24, 24
    if isinstance(value, (bytes, bytearray)):
        return len(value) + 2, _sizeof(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return 34, 48
    return 8, 16


_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})


def walked(value: object) -> bool:
    """Whether ``value`` is a container a walk goes into (lists, tuples, maps, sets, map views).

    A ``range`` is not: it holds three numbers, and comparing or printing one does not walk its items.
    """
    kind = type(value)
    if kind in _CONTAINERS:
        return True
    if kind is str or kind in _NUMBERS:
        return False
    return isinstance(value, (list, tuple, dict, Mapping, Set, MappingView)) and not isinstance(value, Undefined)


class Ledger:
    """Sizes of the containers one render has met, and the bytes it has built."""

    __slots__ = ("limits", "known", "spent", "depth", "outer")

    def __init__(self, limits: Limits, outer: Ledger | None = None):
        self.limits = limits
        #: The ledger of the render this one's render runs inside (other limits), current again when this one closes.
        self.outer = outer
        #: id(container) -> (container, items, characters); the reference keeps the id valid.
        self.known: dict[int, tuple[Any, int, int]] = {}
        self.spent = 0
        self.depth = 0

    # --- sizing --------------------------------------------------------------------------------

    def size(self, value: object, what: str = "the value") -> tuple[int, int]:
        """(items, characters as JSON) of ``value`` expanded; refuses past ``max_items``/``max_output``/``max_depth``.

        Items are counted at every depth: ``[[1, 2], 3]`` holds 4 (the inner list and its two items, and 3).
        """
        if not walked(value):
            chars = _leaf(value)[0]
            if chars > self.limits.max_output:
                raise too_long(what, chars, self.limits.max_output)
            return 0, chars
        nodes, chars, _ = self._walk(value, 0, self.limits.max_items, self.limits.max_output, what)
        return nodes, chars

    def _walk(self, value: Any, depth: int, room: int, room_chars: int, what: str) -> tuple[int, int, int]:
        """(items, characters, bytes not met before) of container ``value``, within ``room`` items and ``room_chars``.

        One tight loop: this runs for every value a render returns or builds.
        Bytes are estimated (a text's length, 28 per number, 16 per reference)
        except for long texts, whose real size is taken.
        """
        known = self.known.get(id(value))
        if known is not None:
            nodes, chars = known[1], known[2]
            if nodes > room:
                raise too_many(what, self.limits.max_items, self.limits.max_items, False)
            if chars > room_chars:
                raise too_long(what, self.limits.max_output, self.limits.max_output, False)
            return nodes, chars, _POINTER
        limits = self.limits
        if depth >= limits.max_depth:
            raise too_deep(what, limits.max_depth)
        kind = type(value)
        count = len(value)
        flat = flat_size(value, limits.max_walk) if (kind is list or kind is tuple) and count >= FLAT_FROM else None
        if flat is not None:
            nodes, chars, spent = flat
        else:
            items = _chain(value.items()) if kind is dict or (kind not in _SEQUENCES and isinstance(value, Mapping)) else value
            nodes, chars, spent = 0, 2, 64 + 16 * count
            for item in items:
                kind = type(item)
                nodes += 1
                if kind is str:
                    size = len(item)
                    chars += size + 3
                    spent += size + 49 if size < 4096 else _sizeof(item)
                elif kind is int:
                    chars += 3 + ((item.bit_length() * 77) >> 8)
                    spent += 28
                elif kind in _NUMBERS:
                    chars += 25
                    spent += 28
                elif walked(item):
                    n, c, b = self._walk(item, depth + 1, room - nodes, room_chars - chars, what)
                    nodes += n
                    chars += c + 1
                    spent += b
                else:
                    c, b = _leaf(item)
                    chars += c + 1
                    spent += b
                if nodes > room:
                    raise too_many(what, limits.max_items, limits.max_items, False)
                if chars > room_chars:
                    raise too_long(what, limits.max_output, limits.max_output, False)
        if nodes > room:
            raise too_many(what, limits.max_items, limits.max_items, False)
        if chars > room_chars:
            raise too_long(what, limits.max_output, limits.max_output, False)
        if count >= REMEMBER_FROM:
            self.known[id(value)] = (value, nodes, chars)
        return nodes, chars, spent

    # --- accounting of what the render builds --------------------------------------------------

    def account(self, value: Any, what: str = "the result") -> Any:
        """Check and count a value the template has just built (a literal, an operator's or a filter's result)."""
        kind = type(value)
        if kind is str:
            if len(value) > self.limits.max_output:
                raise too_long(what, len(value), self.limits.max_output)
            self.charge(_sizeof(value))
            return value
        if kind in _NUMBERS or not walked(value):
            if isinstance(value, (str, bytes)):
                if len(value) > self.limits.max_output:
                    raise too_long(what, len(value), self.limits.max_output)
                self.charge(_sizeof(value))
            return value
        if id(value) in self.known:
            return value
        nodes, chars, spent = self._walk(value, 0, self.limits.max_items, self.limits.max_output, what)
        self.known[id(value)] = (value, nodes, chars)
        self.charge(spent)
        return value

    def record(self, value: object, nodes: int, chars: int, spent: int) -> None:
        """A container whose size its builder computed (item by item): remember it and count its bytes."""
        self.known[id(value)] = (value, nodes, chars)
        self.charge(spent)

    def charge(self, nbytes: int) -> None:
        spent = self.spent + nbytes
        self.spent = spent
        if spent > self.limits.max_memory:
            raise too_big(spent, self.limits.max_memory)

    def item(self, value: object, room: int, room_chars: int, what: str, depth: int = 1) -> tuple[int, int, int]:
        """(items, characters, bytes) of one item of a list being built or written (itself and what it holds)."""
        if walked(value):
            nodes, chars, spent = self._walk(value, depth, room - 1, room_chars - 1, what)
            return nodes + 1, chars + 1, spent
        chars, spent = _leaf(value)
        return 1, chars + 1, spent


_TEXT_KINDS = frozenset({str})
_INT_KINDS = frozenset({int, bool})
_NUMBER_KINDS = frozenset({int, bool, float, type(None)})


def flat_size(value: Any, step: int) -> tuple[int, int, int] | None:
    """(items, characters, bytes) of a list or tuple of only texts or only numbers, counted in C; else None.

    The common large value (a list of ids, names or numbers) is sized at the
    speed of ``map``, without a Python step per item, ``step`` items per C
    call (the interpreter is free between two). Bytes are estimated: 49 per
    text and one per character (four when a text is not ASCII), 28 per number.
    """
    if type(value) not in (list, tuple):
        return None
    count = len(value)
    pieces = [value] if count <= step else [value[i: i + step] for i in range(0, count, step)]
    kinds: set[type] = set()
    for piece in pieces:
        kinds.update(map(type, piece))
    base = 56 + 8 * count
    if kinds <= _TEXT_KINDS:
        chars = sum(sum(map(len, piece)) for piece in pieces)
        ascii_only = all(all(map(str.isascii, piece)) for piece in pieces)
        return count, 2 + chars + 3 * count, base + 49 * count + chars * (1 if ascii_only else 4)
    if kinds <= _INT_KINDS:
        bits = sum(sum(map(int.bit_length, piece)) for piece in pieces)
        return count, 2 + 2 * count + _digits(bits), base + 28 * count
    if kinds <= _NUMBER_KINDS:
        return count, 2 + 25 * count, base + 28 * count
    return None


def _digits(bits: int) -> int:
    """Decimal digits of a number of ``bits`` bits (about bits x log10(2))."""
    return (bits * 77) >> 8


# --- the ledger of the render running in this thread ----------------------------------------------

_local = threading.local()


def ledger(limits: Limits) -> Ledger:
    """The ledger of the render running in this thread, or a fresh one (outside a render)."""
    current: Ledger | None = getattr(_local, "ledger", None)
    if current is not None and current.depth and current.limits is limits:
        return current
    return Ledger(limits)


def enter(limits: Limits) -> Ledger:
    """Open the ledger of a render in this thread; a render inside a render keeps the outer one.

    Not a context manager: this runs for every render, and ``contextlib`` costs a microsecond.
    """
    current: Ledger | None = getattr(_local, "ledger", None)
    if current is None:
        current = _local.ledger = Ledger(limits)
    if not current.depth:
        current.limits = limits
    elif current.limits is not limits:
        # Other limits inside a render: its own ledger, and the current one while it runs, so that what the
        # inner render builds is counted against its limits (the hooks find the ledger by thread and limits).
        current = _local.ledger = Ledger(limits, outer=current)
    current.depth += 1
    return current


def leave(current: Ledger) -> None:
    """Close what :func:`enter` opened; the outermost close forgets the render's values."""
    current.depth -= 1
    if not current.depth:
        if current.known:
            current.known = {}
        current.spent = 0
        if current.outer is not None:
            _local.ledger = current.outer
