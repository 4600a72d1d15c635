"""Kestra's ``numberFormat`` (Java ``DecimalFormat`` patterns) and ``className``.

``{{ 3.14159 | numberFormat('#.##') }}`` is ``3.14``: ``0`` is a digit always
shown, ``#`` a digit shown when not zero, ``,`` groups the whole part, ``%``
multiplies by 100, ``E0`` writes an exponent, quoted text is literal.
Rounding is half-even, as Java's. Without a pattern, ``#,##0.###`` (Java's
English default). English symbols only (``locale`` is ignored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from jinja2.runtime import Undefined

from engine.expressions.filters import FilterError


class _Pattern(NamedTuple):
    prefix: str
    suffix: str
    min_int: int
    grouping: int
    min_frac: int
    max_frac: int
    exponent: int  # minimum exponent digits, 0 when there is no exponent
    scale: int  # 100 for %, 1000 for per mille


def _literal(text: str) -> str:
    return text.replace("''", "\x00").replace("'", "").replace("\x00", "'")


@lru_cache(maxsize=128)
def _parse(pattern: str) -> _Pattern:
    positive = pattern.split(";", 1)[0]
    start, quoted = None, False
    for i, c in enumerate(positive):
        if c == "'":
            quoted = not quoted
        elif c in "#0,." and not quoted:
            start = i
            break
    if start is None:
        raise FilterError(f"numberFormat pattern {pattern!r} has no digits (use 0 or #)")
    end = start
    while end < len(positive) and positive[end] in "#0,.E":
        end += 1
    body, prefix, suffix = positive[start:end], positive[:start], positive[end:]
    scale = 100 if "%" in prefix + suffix else 1000 if "\u2030" in prefix + suffix else 1
    mantissa, _, exp = body.partition("E")
    whole, _, frac = mantissa.partition(".")
    grouping = len(whole) - whole.rfind(",") - 1 if "," in whole else 0
    digits = whole.replace(",", "")
    if len(digits) > 340 or len(frac) > 340 or len(exp) > 340:
        raise FilterError("numberFormat patterns have at most 340 digits on each side, as Java's")
    return _Pattern(
        _literal(prefix),
        _literal(suffix),
        digits.count("0"),
        grouping,
        frac.count("0"),
        len(frac),
        exp.count("0"),
        scale,
    )


def _group(digits: str, size: int) -> str:
    if size <= 0 or len(digits) <= size:
        return digits
    head = len(digits) % size or size
    return ",".join([digits[:head]] + [digits[i : i + size] for i in range(head, len(digits), size)])


def number_format(value: object, format: object = None, locale: object = None) -> str | None:  # noqa: A002 - Kestra's name
    import decimal

    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        raise FilterError(f"numberFormat needs a number, not {type(value).__name__}")
    p = _parse(str(format) if format is not None else "#,##0.###")
    number = decimal.Decimal(str(value)) * p.scale
    negative = number < 0
    number = abs(number)
    exponent_text = ""
    if p.exponent:
        exponent = 0 if number == 0 else number.adjusted() - (max(p.min_int, 1) - 1)
        number = number.scaleb(-exponent)
        exponent_text = "E" + ("-" if exponent < 0 else "") + str(abs(exponent)).zfill(p.exponent)
    quantum = decimal.Decimal(1).scaleb(-p.max_frac)
    rounded = number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
    whole, _, frac = f"{rounded:f}".partition(".")
    frac = frac.rstrip("0").ljust(p.min_frac, "0")
    whole = whole.lstrip("0").rjust(p.min_int, "0")
    text = _group(whole, p.grouping) + ("." + frac if frac else "") + exponent_text
    if not whole and not frac:
        text = "0" + exponent_text
    return ("-" if negative and rounded != 0 else "") + p.prefix + text + p.suffix


def class_name(value: object) -> str | None:
    """The Java class Kestra would report for a value (``java.lang.String`` ...)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return None
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if -(2**31) <= value < 2**31 else "java.lang.Long" if -(2**63) <= value < 2**63 else "java.math.BigInteger"
    if isinstance(value, float):
        return "java.lang.Double"
    if type(value).__name__ == "Decimal":
        return "java.math.BigDecimal"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, Mapping):
        return "java.util.LinkedHashMap"
    if isinstance(value, (list, tuple)):
        return "java.util.ArrayList"
    if isinstance(value, dt.datetime):
        return "java.time.ZonedDateTime"
    if isinstance(value, dt.date):
        return "java.time.LocalDate"
    return type(value).__name__
