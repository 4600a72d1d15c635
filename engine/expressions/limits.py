"""Resource limits of one render (the error raised when a template exceeds one is :mod:`.limit_error`'s).

Templates come from flow authors and from data (inputs, outputs), so a render
must never be able to take the process down: every way to make a large value
(string/list repetition, ``range``, padding, joins, formatting, concatenation,
output) is checked *before* the value is built, and the whole render runs
under a CPU-time budget (see :mod:`engine.expressions.guard`).
"""

from __future__ import annotations

import os
from functools import lru_cache

from engine.model.plain import Frozen, set_field

#: Environment variables that override the defaults of :class:`Limits`.
TIMEOUT_ENV = "LANNER_EXPR_TIMEOUT"
MAX_OUTPUT_ENV = "LANNER_EXPR_MAX_OUTPUT"
MAX_ITEMS_ENV = "LANNER_EXPR_MAX_ITEMS"
MAX_MEMORY_ENV = "LANNER_EXPR_MAX_MEMORY"


class Limits(Frozen):
    """Bounds of one render; hashable so environments can be cached per value.

    A plain frozen class rather than a dataclass: every cold ``lanner flow run`` imports it, and building a
    frozen slotted dataclass costs ~0.5-1 ms (see :mod:`engine.model.plain`). Every limit must be positive:

    * ``timeout``: seconds of CPU time (of the rendering thread) one string may take to render.
    * ``max_output``: largest string (characters; bytes for ASCII text) a render may produce or build.
    * ``max_range``: most items ``range()`` may produce.
    * ``max_items``: most items one value may hold, counted through nested lists and maps and every time a
      shared one appears: what bounds every walk over a value (``==``, ``sort``, ``|tojson`` ...), which runs
      in C where the time limit cannot stop it (see :mod:`engine.expressions.ledger`).
    * ``max_walk``: most items one step in C may walk (compare, hash, sort, print): larger values are
      compared, searched, sorted and written as JSON in pieces, so no step holds the interpreter for long.
    * ``max_depth``: deepest nesting of lists and maps a value may have (deeper values are refused, not cut).
    * ``max_memory``: bytes the values one render builds may take in all (many values each under the limits
      must not add up to gigabytes); counted as they are built, never given back.
    * ``max_int_bits``: largest integer (in bits) ``*`` and ``**`` may produce.
    * ``max_parts``: most parts (names, operators, literals, text pieces) one template may have; compiling
      is not interruptible, so its cost is bounded by the template's size.
    """

    __slots__ = ("timeout", "max_output", "max_range", "max_items", "max_walk", "max_depth", "max_memory",
                 "max_int_bits", "max_parts")
    timeout: float
    max_output: int
    max_range: int
    max_items: int
    max_walk: int
    max_depth: int
    max_memory: int
    max_int_bits: int
    max_parts: int

    def __init__(self, timeout: float = 2.0, max_output: int = 10 * 1024 * 1024, max_range: int = 100_000,
                 max_items: int = 1_000_000, max_walk: int = 100_000, max_depth: int = 100,
                 max_memory: int = 100 * 1024 * 1024, max_int_bits: int = 100_000, max_parts: int = 5_000) -> None:
        values = (timeout, max_output, max_range, max_items, max_walk, max_depth, max_memory, max_int_bits, max_parts)
        for name, value in zip(self.__slots__, values, strict=True):  # __slots__ lists them in this order
            if not value > 0:
                raise ValueError(f"expression limit {name} must be positive, not {value!r}")
            set_field(self, name, value)

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, with ``LANNER_EXPR_TIMEOUT``, ``_MAX_OUTPUT``, ``_MAX_ITEMS`` and ``_MAX_MEMORY`` applied."""
        get = os.environ.get
        return _from_env(get(TIMEOUT_ENV), get(MAX_OUTPUT_ENV), get(MAX_ITEMS_ENV), get(MAX_MEMORY_ENV))


#: Environment variable -> (field of Limits, what its value is).
_SETTINGS = {
    TIMEOUT_ENV: ("timeout", "a number of seconds"),
    MAX_OUTPUT_ENV: ("max_output", "a whole number of bytes"),
    MAX_ITEMS_ENV: ("max_items", "a whole number of items"),
    MAX_MEMORY_ENV: ("max_memory", "a whole number of bytes"),
}


@lru_cache(maxsize=8)
def _from_env(*raw: str | None) -> Limits:
    # Cached on the raw strings: reading the environment per render is cheap,
    # building and validating a Limits is not free.
    kwargs: dict[str, float | int] = {}
    for (variable, (field, kind)), text in zip(_SETTINGS.items(), raw, strict=True):
        if not text:  # unset or empty
            continue
        try:
            value: float | int = float(text) if field == "timeout" else int(text)
        except ValueError:
            raise ValueError(f"{variable} must be {kind}, not {text!r}") from None
        if not value > 0:
            raise ValueError(f"{variable} must be a positive {kind.removeprefix('a ')}, not {text!r}")
        kwargs[field] = value
    return Limits(**kwargs)  # type: ignore[arg-type]
