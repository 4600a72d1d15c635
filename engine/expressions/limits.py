"""Resource limits of one render, and the error raised when a template exceeds one.

Templates come from flow authors and from data (inputs, outputs), so a render
must never be able to take the process down: every way to make a large value
(string/list repetition, ``range``, padding, joins, formatting, concatenation,
output) is checked *before* the value is built, and the whole render runs
under a wall-clock deadline (see :mod:`engine.expressions.guard`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from jinja2.exceptions import TemplateRuntimeError

#: Environment variables that override the defaults of :class:`Limits`.
TIMEOUT_ENV = "LANNER_EXPR_TIMEOUT"
MAX_OUTPUT_ENV = "LANNER_EXPR_MAX_OUTPUT"


class LimitError(TemplateRuntimeError):
    """A template tried to build a value, or run for longer, than its limits allow."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of one render; hashable so environments can be cached per value."""

    #: Wall-clock seconds one string may take to render.
    timeout: float = 2.0
    #: Largest string (characters; bytes for ASCII text) a render may produce or build.
    max_output: int = 10 * 1024 * 1024
    #: Most items ``range()`` may produce.
    max_range: int = 100_000
    #: Most items of any list a template builds (repetition, ``list``, ``split`` ...).
    max_items: int = 1_000_000
    #: Largest integer (in bits) ``*`` and ``**`` may produce.
    max_int_bits: int = 100_000
    #: Most parts (names, operators, literals, text pieces) one template may have; compiling is
    #: not interruptible, so its cost is bounded by the template's size.
    max_parts: int = 5_000

    def __post_init__(self) -> None:
        for name in ("timeout", "max_output", "max_range", "max_items", "max_int_bits", "max_parts"):
            if not getattr(self, name) > 0:
                raise ValueError(f"expression limit {name} must be positive, not {getattr(self, name)!r}")

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, with ``LANNER_EXPR_TIMEOUT`` and ``LANNER_EXPR_MAX_OUTPUT`` applied."""
        return _from_env(os.environ.get(TIMEOUT_ENV), os.environ.get(MAX_OUTPUT_ENV))


@lru_cache(maxsize=8)
def _from_env(timeout: str | None, max_output: str | None) -> Limits:
    # Cached on the raw strings: reading the environment per render is cheap,
    # building and validating a Limits is not free.
    kwargs: dict[str, float | int] = {}
    if timeout not in (None, ""):
        try:
            kwargs["timeout"] = float(timeout)
        except ValueError:
            raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds, not {timeout!r}") from None
        if not kwargs["timeout"] > 0:
            raise ValueError(f"{TIMEOUT_ENV} must be a positive number of seconds, not {timeout!r}")
    if max_output not in (None, ""):
        try:
            kwargs["max_output"] = int(max_output)
        except ValueError:
            raise ValueError(f"{MAX_OUTPUT_ENV} must be a whole number of bytes, not {max_output!r}") from None
        if kwargs["max_output"] <= 0:
            raise ValueError(f"{MAX_OUTPUT_ENV} must be a positive number of bytes, not {max_output!r}")
    return Limits(**kwargs)  # type: ignore[arg-type]
